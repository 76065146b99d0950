"""Check a data directory against the contract, without ever modifying it.

This module runs the checks and holds their result, the ``ValidationReport``. The rules
themselves live beside it: ``validate_checks`` (structure, columns, rows, dates),
``validate_refs`` (references and the cascade of rejected parents) and
``validate_problems`` (the ``Problem`` type and its frame form). Every problem names its
file, table, row (CSV: line in the file, header = line 1; Parquet: 0-based row index),
column, value and rule, and the report keeps enough to set rejected rows aside later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table

from talentmap.contract import (
    DATE_COLUMNS,
    FATAL_RULES,
    FOREIGN_KEYS,
    REQUIRED_TABLES,
    RULES,
    TABLES,
)
from talentmap.contract_io import DatasetInfo, Finding, TableFile, scan_data_dir
from talentmap.memory import release_unused_memory
from talentmap.validate_checks import (
    after_snapshot,
    check_table,
    date_span,
    is_ambiguous,
    snapshot_date,
)
from talentmap.validate_problems import (
    PROBLEM_COLUMNS,
    Problem,
    example,
    findings_frame,
    finish,
    quoted,
    to_problems,
)
from talentmap.validate_refs import cascade_rejections, foreign_key

__all__ = [
    "PROBLEM_COLUMNS",
    "DatasetSummary",
    "Problem",
    "StepHook",
    "TableSummary",
    "ValidationReport",
    "date_span",
    "validate_dataset",
]

# (steps done, steps in total, what is happening) -- lets the CLI drive a progress bar.
StepHook = Callable[[int, int, str], None]


@dataclass(frozen=True)
class TableSummary:
    table: str
    file: str
    rows: int
    columns: int
    first_date: date | None
    last_date: date | None


@dataclass(frozen=True)
class DatasetSummary:
    tables: tuple[TableSummary, ...]
    rows: int
    first_date: date | None
    last_date: date | None
    snapshot_date: date | None
    snapshot_date_source: str


@dataclass
class ValidationReport:
    """Everything validation found; ``tables`` holds typed frames of *all* rows."""

    data_dir: Path
    dataset: DatasetInfo
    snapshot_date: date | None
    snapshot_date_source: str
    files: dict[str, TableFile]
    tables: dict[str, pd.DataFrame]
    problem_frame: pd.DataFrame
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem_frame.empty

    @property
    def fatal(self) -> bool:
        """Problems that no row-by-row quarantine can fix (missing table, column...)."""
        return bool(self.problem_frame["rule"].isin(FATAL_RULES).any())

    @property
    def problems(self) -> list[Problem]:
        return to_problems(self.problem_frame)

    def counts_by_rule(self) -> dict[str, int]:
        counts = self.problem_frame.groupby("rule", sort=False).size()
        return {str(k): int(v) for k, v in counts.sort_values(ascending=False).items()}

    def summary(self) -> DatasetSummary:
        rows = []
        for table in TABLES:
            if table not in self.tables:
                continue
            frame = self.tables[table]
            first, last = date_span(frame, DATE_COLUMNS[table])
            rows.append(
                TableSummary(
                    table,
                    self.files[table].path.name,
                    len(frame),
                    len(frame.columns),
                    first,
                    last,
                )
            )
        firsts = [r.first_date for r in rows if r.first_date]
        lasts = [r.last_date for r in rows if r.last_date]
        return DatasetSummary(
            tables=tuple(rows),
            rows=sum(r.rows for r in rows),
            first_date=min(firsts) if firsts else None,
            last_date=max(lasts) if lasts else None,
            snapshot_date=self.snapshot_date,
            snapshot_date_source=self.snapshot_date_source,
        )

    def rejections(self, cascade: bool = True) -> dict[str, pd.Series]:
        """Rejected row positions per table -> their reasons ("; "-joined).

        With ``cascade``, rows whose parent row is rejected are rejected too, until
        nothing changes, so that the kept rows stay referentially intact.
        """
        rows = self.problem_frame[self.problem_frame["pos"].notna()]
        reasons: dict[str, pd.Series] = {}
        if not rows.empty:
            text = rows["rule"] + ": " + rows["column"].fillna("") + "=" + quoted(rows["value"])
            grouped = (
                pd.DataFrame(
                    {"table": rows["table"], "pos": rows["pos"].astype(np.int64), "r": text}
                )
                .groupby(["table", "pos"], sort=True)["r"]
                .agg("; ".join)
            )
            for table, part in grouped.groupby(level="table"):
                reasons[str(table)] = part.droplevel("table")
        if cascade:
            cascade_rejections(self.tables, reasons)
        return reasons

    def valid_tables(self, cascade: bool = True) -> dict[str, pd.DataFrame]:
        """Typed tables without their rejected rows (index reset)."""
        rejected = self.rejections(cascade=cascade)
        out = {}
        for table, frame in self.tables.items():
            drop = rejected.get(table)
            if drop is not None and len(drop):
                frame = frame.drop(index=drop.index).reset_index(drop=True)
            out[table] = frame
        return out

    def render_summary(self) -> Table:
        summary = self.summary()
        out = Table(title=f"Dataset {self.data_dir}", title_justify="left")
        out.add_column("table", no_wrap=True)
        out.add_column("file", no_wrap=True)
        out.add_column("rows", justify="right", no_wrap=True)
        out.add_column("cols", justify="right")
        out.add_column("from", no_wrap=True)
        out.add_column("to", no_wrap=True)
        for t in summary.tables:
            out.add_row(
                t.table,
                t.file,
                f"{t.rows:,}",
                str(t.columns),
                _iso(t.first_date),
                _iso(t.last_date),
            )
        out.caption = (
            f"{summary.rows:,} rows, {_iso(summary.first_date)} .. {_iso(summary.last_date)}; "
            f"snapshot date {_iso(summary.snapshot_date)} ({summary.snapshot_date_source})"
        )
        return out

    def render_problems(self, examples: int = 3) -> Table:
        """Problems grouped by rule: count, meaning and the first few examples."""
        frame = self.problem_frame
        out = Table(title=f"{len(frame):,} problem(s) in {self.data_dir}", title_justify="left")
        out.add_column("rule", no_wrap=True)
        out.add_column("count", justify="right", no_wrap=True)
        out.add_column("meaning")
        out.add_column("examples")
        for rule, count in self.counts_by_rule().items():
            sample = frame[frame["rule"] == rule].head(examples)
            lines = [example(p) for p in to_problems(sample)]
            out.add_row(rule, f"{count:,}", RULES.get(rule, ""), "\n".join(lines))
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        parts: list[Any] = []
        if self.tables:
            parts.append(self.render_summary())
        if not self.ok:
            parts.append(self.render_problems())
        parts.extend(f"[yellow]warning:[/] {w}" for w in self.warnings)
        yield Group(*parts)


def validate_dataset(data_dir: Path, *, on_step: StepHook | None = None) -> ValidationReport:
    """Validate every table of ``data_dir`` against the contract (read-only)."""
    data_dir = Path(data_dir)
    scan = scan_data_dir(data_dir)
    collected: list[pd.DataFrame] = [findings_frame(scan.findings)]
    for table in REQUIRED_TABLES:
        if table not in scan.files and not is_ambiguous(scan, table):
            collected.append(
                findings_frame(
                    [
                        Finding(
                            "missing_table",
                            f"{table}.csv",
                            table,
                            f"required table {table} has no {table}.csv or {table}.parquet",
                        )
                    ]
                )
            )
    tables: dict[str, pd.DataFrame] = {}
    present = [t for t in TABLES if t in scan.files]
    total = len(present) + len(FOREIGN_KEYS) + 1

    def step(done: int, description: str) -> None:
        if on_step:
            on_step(done, total, description)

    for i, table in enumerate(present):
        step(i, f"checking {scan.files[table].path.name}")
        frame, found = check_table(scan.files[table])
        collected.append(found)
        if frame is not None:
            tables[table] = frame
        del frame
        release_unused_memory()  # the next table reuses little of this one's scratch space
    snapshot, source = snapshot_date(scan.dataset, tables)
    for i, fk in enumerate(FOREIGN_KEYS, start=len(present)):
        step(i, f"checking references {fk.label}")
        if fk.parent in scan.files and fk.parent not in tables:
            continue  # the parent's file is unusable, already a file-level problem
        collected.append(foreign_key(tables, fk))
    step(total - 1, "checking dates against the snapshot date")
    if snapshot is not None:
        collected.append(after_snapshot(tables, snapshot))
    problems = finish(collected, scan.files, tables)
    step(total, "done")
    return ValidationReport(
        data_dir=data_dir,
        dataset=scan.dataset,
        snapshot_date=snapshot,
        snapshot_date_source=source,
        files=scan.files,
        tables=tables,
        problem_frame=problems,
        warnings=list(scan.warnings),
    )


def _iso(value: date | None) -> str:
    return value.isoformat() if value else "-"
