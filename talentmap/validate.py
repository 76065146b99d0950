"""Check a data directory against the contract, without ever modifying it.

Per-column rules (types, required values, enumerations, uniqueness, ranges) come from the
pandera schemas of ``talentmap.contract``; rules spanning rows of other tables (foreign
keys, the snapshot date) are vectorised pandas. Every problem names its file, table, row
(CSV: line in the file, header = line 1; Parquet: 0-based row index), column, value and
rule, and the report keeps enough to quarantine rejected rows later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table

from talentmap.contract import (
    ANY_OF_COLUMNS,
    BIRTH_YEAR_RANGE,
    DATE_COLUMNS,
    FATAL_RULES,
    FOREIGN_KEYS,
    REQUIRED_TABLES,
    ROW_RULES,
    RULES,
    TABLES,
    ForeignKey,
    column_kinds,
    columns,
    required_columns,
    schema,
)
from talentmap.contract_io import (
    DataDirectory,
    DatasetInfo,
    Finding,
    TableFile,
    UnreadableFileError,
    empty_problems,
    file_columns,
    parse_table,
    read_raw,
    row_numbers,
    scan_data_dir,
)
from talentmap.contract_parse import Kind

# (steps done, steps in total, what is happening) -- lets the CLI drive a progress bar.
StepHook = Callable[[int, int, str], None]

PROBLEM_COLUMNS = ("rule", "table", "file", "pos", "row", "row_kind", "column", "value", "message")
_PANDERA_RULES = {"not_nullable": "required_value", "field_uniqueness": "unique"}
_TYPE_WORDS = {
    Kind.AMOUNT: "a number",
    Kind.COUNT: "an integer",
    Kind.YEAR: "an integer",
    Kind.BOOL: "true or false",
    Kind.ID: "text",
    Kind.TEXT: "text",
    Kind.ENUM: "text",
    Kind.COUNTRY: "text",
}


@dataclass(frozen=True)
class Problem:
    """One contract violation, located as precisely as the rule allows."""

    rule: str
    table: str | None
    file: str
    row: int | None
    row_kind: str | None  # "line": CSV line (header = 1); "row": Parquet 0-based index
    column: str | None
    value: str | None
    message: str

    @property
    def location(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" {self.row_kind} {self.row}"
        return where

    def __str__(self) -> str:
        column = f" {self.column}" if self.column else ""
        value = f"={self.value!r}" if self.value is not None else ""
        return f"[{self.rule}] {self.location}{column}{value}: {self.message}"


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
        return _to_problems(self.problem_frame)

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
            text = rows["rule"] + ": " + rows["column"].fillna("") + "=" + _quoted(rows["value"])
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
            _cascade(self.tables, reasons)
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
            lines = [_example(p) for p in _to_problems(sample)]
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
    collected: list[pd.DataFrame] = [_findings_frame(scan.findings)]
    for table in REQUIRED_TABLES:
        if table not in scan.files and not _is_ambiguous(scan, table):
            collected.append(
                _findings_frame(
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
        frame, found = _check_table(scan.files[table])
        collected.append(found)
        if frame is not None:
            tables[table] = frame
    snapshot, source = _snapshot_date(scan.dataset, tables)
    for i, fk in enumerate(FOREIGN_KEYS, start=len(present)):
        step(i, f"checking references {fk.label}")
        if fk.parent in scan.files and fk.parent not in tables:
            continue  # the parent's file is unusable, already a file-level problem
        collected.append(_foreign_key(tables, fk))
    step(total - 1, "checking dates against the snapshot date")
    if snapshot is not None:
        collected.append(_after_snapshot(tables, snapshot))
    problems = _finish(collected, scan.files, tables)
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


def _is_ambiguous(scan: DataDirectory, table: str) -> bool:
    return any(f.rule == "ambiguous_table" and f.table == table for f in scan.findings)


def _check_table(tf: TableFile) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """Read, parse and check one table; returns (typed frame or None, problems)."""
    table = tf.table
    try:
        names = file_columns(tf)
    except UnreadableFileError as exc:
        return None, _findings_frame([Finding("unreadable_file", tf.path.name, table, str(exc))])
    structural = _structural_findings(tf, names)
    if structural:
        return None, _findings_frame(structural)
    try:
        raw = read_raw(tf)
    except UnreadableFileError as exc:
        return None, _findings_frame([Finding("unreadable_file", tf.path.name, table, str(exc))])
    parsed = parse_table(table, raw)
    del raw
    frame = parsed.frame
    kinds = column_kinds(table)
    found = [_with_messages(parsed.problems, table, kinds)]
    checked = _schema_checks(table, frame)
    if not parsed.problems.empty and not checked.empty:
        # An unreadable value in a required column became missing: one problem, not two.
        unreadable = pd.MultiIndex.from_frame(parsed.problems[["pos", "column"]])
        cells = pd.MultiIndex.from_arrays(
            [checked["pos"].fillna(-1).astype("int64"), checked["column"]]
        )
        checked = checked[~((checked["rule"] == "required_value") & cells.isin(unreadable))]
    found.append(checked)
    found.append(_row_rules(table, frame))
    problems = pd.concat([f for f in found if not f.empty] or [empty_problems()], ignore_index=True)
    problems["table"] = table
    return frame, problems


def _structural_findings(tf: TableFile, names: list[str]) -> list[Finding]:
    table, file = tf.table, tf.path.name
    found = []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            found.append(
                Finding("duplicate_column", file, table, f"column {name} appears twice", name)
            )
        seen.add(name)
    for name in required_columns(table):
        if name not in seen:
            found.append(
                Finding("missing_column", file, table, f"required column {name} is absent", name)
            )
    for table_name, options in ANY_OF_COLUMNS.items():
        if table_name == table and not seen.intersection(options):
            found.append(
                Finding(
                    "missing_column",
                    file,
                    table,
                    f"needs at least one of the columns {', '.join(options)}",
                    "/".join(options),
                )
            )
    return found


def _schema_checks(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The pandera column rules, on the columns the file actually has."""
    full = schema(table)
    present = {name: col for name, col in full.columns.items() if name in frame.columns}
    per_column = pa.DataFrameSchema(present, strict=False, name=table)
    try:
        # inplace: no copy of a possibly huge frame; nothing is coerced, so nothing changes.
        per_column.validate(frame, lazy=True, inplace=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return empty_problems()
    cases = cases[cases["column"].notna()]
    rule = cases["check"].map(lambda c: _PANDERA_RULES.get(c, c)).astype(object)
    out = pd.DataFrame(
        {
            "pos": pd.array(cases["index"], dtype="Int64"),
            "column": cases["column"].astype(object).to_numpy(),
            "value": _as_text(cases["failure_case"]).to_numpy(),
            "rule": rule.to_numpy(),
        }
    )
    # A duplicated empty id is a required_value problem, already reported once.
    out = out[~((out["rule"] == "unique") & out["value"].isna())]
    return _with_messages(out, table, column_kinds(table))


def _row_rules(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Rules across columns of a row, each reported against one column."""
    found = []
    for rule in ROW_RULES.get(table, ()):
        if rule.name == "publication_subject":
            if not frame.columns.intersection(list(rule.columns)).size:
                continue  # already a missing_column problem
        elif not set(rule.columns).issubset(frame.columns):
            continue
        cols = [c for c in rule.columns if c in frame.columns]
        result = rule.check(frame[cols])
        failed = np.flatnonzero(~result.check_output.to_numpy(dtype=bool))
        if not failed.size:
            continue
        value_column = rule.column if rule.column in frame.columns else None
        values = (
            _as_text(frame[value_column].iloc[failed])
            if value_column
            else pd.Series([None] * failed.size, dtype=object)
        )
        found.append(
            pd.DataFrame(
                {
                    "pos": failed.astype(np.int64),
                    "column": rule.column,
                    "value": values.to_numpy(),
                    "rule": rule.name,
                }
            )
        )
    if not found:
        return empty_problems()
    return _with_messages(pd.concat(found, ignore_index=True), table, column_kinds(table))


def _foreign_key(tables: dict[str, pd.DataFrame], fk: ForeignKey) -> pd.DataFrame:
    child = tables.get(fk.table)
    if child is None or fk.column not in child.columns:
        return _empty_with_table()
    refs = child[fk.column]
    applies = refs.notna()
    if fk.when is not None:
        when_column, when_value = fk.when
        if when_column not in child.columns:
            return _empty_with_table()
        applies &= child[when_column].eq(when_value)
    parent = tables.get(fk.parent)
    if parent is not None and fk.parent_column in parent.columns:
        dangling = applies & ~refs.isin(parent[fk.parent_column].dropna())
        message = f"not found in {fk.parent}.{fk.parent_column}"
    else:
        dangling = applies
        message = f"not found: table {fk.parent} is absent"
    positions = np.flatnonzero(dangling.to_numpy(dtype=bool))
    if not positions.size:
        return _empty_with_table()
    return pd.DataFrame(
        {
            "table": fk.table,
            "pos": positions,
            "column": fk.column,
            "value": refs.iloc[positions].to_numpy(),
            "rule": "foreign_key",
            "message": message,
        }
    )


def _after_snapshot(tables: dict[str, pd.DataFrame], snapshot: date) -> pd.DataFrame:
    limit = pd.Timestamp(snapshot)
    found = []
    for table, frame in tables.items():
        for name in DATE_COLUMNS[table]:
            if name not in frame.columns:
                continue
            positions = np.flatnonzero((frame[name] > limit).to_numpy(dtype=bool))
            if positions.size:
                found.append(
                    pd.DataFrame(
                        {
                            "table": table,
                            "pos": positions,
                            "column": name,
                            "value": frame[name].iloc[positions].dt.strftime("%Y-%m-%d").to_numpy(),
                            "rule": "after_snapshot",
                            "message": f"after the snapshot date {snapshot.isoformat()}",
                        }
                    )
                )
    people = tables.get("people")
    if people is not None and "birth_year" in people.columns:
        late = (people["birth_year"] > snapshot.year).fillna(False).to_numpy(dtype=bool)
        positions = np.flatnonzero(late)
        if positions.size:
            found.append(
                pd.DataFrame(
                    {
                        "table": "people",
                        "pos": positions,
                        "column": "birth_year",
                        "value": people["birth_year"].iloc[positions].astype(str).to_numpy(),
                        "rule": "after_snapshot",
                        "message": f"after the snapshot year {snapshot.year}",
                    }
                )
            )
    return pd.concat(found, ignore_index=True) if found else _empty_with_table()


def _snapshot_date(
    dataset: DatasetInfo, tables: dict[str, pd.DataFrame]
) -> tuple[date | None, str]:
    if dataset.snapshot_date is not None:
        return dataset.snapshot_date, "dataset.json"
    latest = [date_span(frame, DATE_COLUMNS[table])[1] for table, frame in tables.items()]
    known = [d for d in latest if d is not None]
    if not known:
        return None, "no dates found"
    return max(known), "latest date in the data"


def date_span(frame: pd.DataFrame, names: tuple[str, ...]) -> tuple[date | None, date | None]:
    """Earliest and latest value over the given date columns of ``frame``."""
    present = [frame[n] for n in names if n in frame.columns]
    lows = [s.min() for s in present]
    highs = [s.max() for s in present]
    lows = [v for v in lows if not pd.isna(v)]
    highs = [v for v in highs if not pd.isna(v)]
    return (min(lows).date() if lows else None, max(highs).date() if highs else None)


def _with_messages(problems: pd.DataFrame, table: str, kinds: dict[str, Kind]) -> pd.DataFrame:
    if problems.empty:
        return problems
    specs = {spec.name: spec for spec in columns(table)}
    keys = problems[["rule", "column"]].drop_duplicates()
    messages = {}
    for rule, column in keys.itertuples(index=False):
        messages[(rule, column)] = _message(rule, column, specs, kinds)
    out = problems.copy()
    out["message"] = [messages[k] for k in zip(out["rule"], out["column"], strict=True)]
    return out


def _message(rule: str, column: str | None, specs: dict[str, Any], kinds: dict[str, Kind]) -> str:
    spec = specs.get(column) if column else None
    if rule == "enum" and spec is not None:
        return f"must be one of {', '.join(spec.values)}"
    if rule == "type" and column in kinds:
        return f"cannot be read as {_TYPE_WORDS.get(kinds[column], kinds[column].value)}"
    if rule == "range" and column == "birth_year":
        low, high = BIRTH_YEAR_RANGE
        return f"must be between {low} and {high}"
    if rule == "fr_region":
        return "for country FR, region must be one of the 18 official region names"
    if rule == "date_order":
        return f"{column} is before the start date"
    return RULES.get(rule, rule)


def _findings_frame(findings: list[Finding]) -> pd.DataFrame:
    if not findings:
        return _empty_with_table()
    return pd.DataFrame(
        {
            "rule": [f.rule for f in findings],
            "table": [f.table for f in findings],
            "file": [f.file for f in findings],
            "pos": pd.array([None] * len(findings), dtype="Int64"),
            "column": [f.column for f in findings],
            "value": [f.value for f in findings],
            "message": [f.message for f in findings],
        }
    )


def _empty_with_table() -> pd.DataFrame:
    out = empty_problems()
    out["table"] = pd.Series(dtype=object)
    out["message"] = pd.Series(dtype=object)
    return out


def _finish(
    collected: list[pd.DataFrame], files: dict[str, TableFile], tables: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """One frame of problems, with user-facing row numbers, in a stable order."""
    parts = [c for c in collected if not c.empty]
    frame = pd.concat(parts, ignore_index=True) if parts else _empty_with_table()
    frame["pos"] = pd.array(frame["pos"], dtype="Int64")
    if "file" not in frame.columns:
        frame["file"] = None
    frame["file"] = frame["file"].astype(object)
    frame["row"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    frame["row_kind"] = pd.Series([None] * len(frame), dtype=object)
    for table, tf in files.items():
        in_table = (frame["table"] == table).to_numpy(dtype=bool)
        located = in_table & frame["pos"].notna().to_numpy(dtype=bool)
        frame.loc[in_table & frame["file"].isna().to_numpy(dtype=bool), "file"] = tf.path.name
        if located.any() and table in tables:
            positions = frame.loc[located, "pos"].to_numpy(dtype=np.int64)
            frame.loc[located, "row"] = row_numbers(tf, positions, len(tables[table]))
            frame.loc[located, "row_kind"] = tf.row_kind
    order = {t: i for i, t in enumerate(TABLES)}
    frame["_t"] = frame["table"].map(order).fillna(-1)
    frame = frame.sort_values(["_t", "pos", "column"], na_position="first", kind="stable")
    frame = frame.drop(columns="_t").reset_index(drop=True)
    frame["value"] = frame["value"].astype(object).where(frame["value"].notna(), None)
    return frame[list(PROBLEM_COLUMNS)]


def _cascade(tables: dict[str, pd.DataFrame], reasons: dict[str, pd.Series]) -> None:
    """Reject rows whose parent row is rejected, until stable (mutates ``reasons``)."""
    changed = True
    while changed:
        changed = False
        for fk in FOREIGN_KEYS:
            added = _orphans(fk, tables, reasons)
            if added is not None:
                previous = reasons.get(fk.table)
                merged = added if previous is None else pd.concat([previous, added]).sort_index()
                reasons[fk.table] = merged
                changed = True


def _orphans(
    fk: ForeignKey, tables: dict[str, pd.DataFrame], reasons: dict[str, pd.Series]
) -> pd.Series | None:
    child, parent = tables.get(fk.table), tables.get(fk.parent)
    rejected_parent = reasons.get(fk.parent)
    if child is None or parent is None or rejected_parent is None or not len(rejected_parent):
        return None
    if fk.column not in child.columns or fk.parent_column not in parent.columns:
        return None
    ids = parent[fk.parent_column]
    kept = np.ones(len(parent), dtype=bool)
    kept[rejected_parent.index.to_numpy(dtype=np.int64)] = False
    gone = ids[~kept].dropna()
    gone = gone[~gone.isin(ids[kept].dropna())].unique()
    if not len(gone):
        return None
    refs = child[fk.column]
    hit = refs.isin(gone).to_numpy(dtype=bool)
    if fk.when is not None:
        hit &= child[fk.when[0]].eq(fk.when[1]).to_numpy(dtype=bool)
    already = reasons.get(fk.table)
    if already is not None:
        hit[already.index.to_numpy(dtype=np.int64)] = False
    positions = np.flatnonzero(hit)
    if not positions.size:
        return None
    text = (
        f"parent_rejected: {fk.column}="
        + _quoted(refs.iloc[positions])
        + f" refers to a rejected {fk.parent} row"
    )
    return pd.Series(text.to_numpy(), index=pd.Index(positions, name="pos"), name="r")


def _quoted(values: pd.Series) -> pd.Series:
    return ("'" + values.astype(object).where(values.notna(), "").astype(str) + "'").where(
        values.notna(), "(empty)"
    )


def _as_text(values: pd.Series) -> pd.Series:
    """Failure values as text: dates as YYYY-MM-DD, integral floats without '.0'."""

    def one(v: object) -> str | None:
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return None
        if isinstance(v, pd.Timestamp):
            return v.strftime("%Y-%m-%d")
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    return pd.Series([one(v) for v in values], index=values.index, dtype=object)


def _to_problems(frame: pd.DataFrame) -> list[Problem]:
    return [
        Problem(
            rule=r.rule,
            table=r.table,
            file=r.file,
            row=None if pd.isna(r.row) else int(r.row),
            row_kind=r.row_kind,
            column=r.column,
            value=r.value,
            message=r.message,
        )
        for r in frame.itertuples(index=False)
    ]


def _example(problem: Problem) -> str:
    text = problem.location
    if problem.column:
        text += f" {problem.column}"
    if problem.value is not None:
        text += f"={problem.value!r}"
    if problem.message != RULES.get(problem.rule):
        text += f" ({problem.message})"
    return text


def _iso(value: date | None) -> str:
    return value.isoformat() if value else "-"
