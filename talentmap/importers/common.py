"""What every importer shares: its options, the latest date it saw, and the finishing steps."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from talentmap.importers.normalise import exact_duplicates
from talentmap.importers.reading import ProgressFactory, no_progress, read_frame
from talentmap.importers.report import REPORT_FILE, ImportReport, SourceCount
from talentmap.importers.value_maps import DEFAULT_EUR_RATES
from talentmap.importers.writing import (
    SRC,
    apply_contract_rules,
    count,
    drop,
    kept,
    to_output,
    write_output,
)


@dataclass
class ImportOptions:
    """Options shared by every kind; kind-specific ones sit in ``extra``."""

    src: Path
    out: Path
    snapshot_date: date | None = None
    fx_rates: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_EUR_RATES))
    progress: ProgressFactory = no_progress
    report_path: Path | None = None
    check: bool = True
    overwrite: bool = False
    extra: dict[str, object] = field(default_factory=dict)


@dataclass
class LatestDate:
    """The latest date seen per source column, to default the snapshot date honestly."""

    seen: dict[str, str] = field(default_factory=dict)

    def see(self, label: str, values: pd.Series | Sequence[str | None]) -> None:
        series = pd.Series(values, dtype=object).dropna().astype(str).str[:10]
        series = series[series.str.fullmatch(r"(1[89]|2[01])\d\d-\d\d-\d\d")]
        if series.empty:
            return
        latest = str(series.max())
        if latest > self.seen.get(label, ""):
            self.seen[label] = latest

    def latest(self, labels: Sequence[str] | None = None) -> tuple[date | None, str]:
        pool = {k: v for k, v in self.seen.items() if labels is None or k in labels}
        if not pool:
            return None, ""
        label = max(pool, key=lambda k: pool[k])
        return date.fromisoformat(pool[label]), label

    def snapshot_date(self, stamps: Sequence[str]) -> tuple[date | None, str]:
        """The export date: the latest record stamp, else the latest dated value; and why."""
        snapshot, label = self.latest(stamps)
        if snapshot is not None:
            return snapshot, f"latest {label} in the source"
        snapshot, label = self.latest()
        return snapshot, f"latest dated value in the source ({label})" if label else "none"


@dataclass
class Imported:
    """What an importer hands back: contract frames under construction and its metadata."""

    frames: dict[str, pd.DataFrame]
    source: str
    licence: str
    name: str
    snapshot_date: date | None
    snapshot_date_source: str
    # Extra steps after the contract rules (e.g. data minimisation of people).
    after_rules: Callable[[dict[str, pd.DataFrame]], None] | None = None


def load(
    report: ImportReport,
    files: Mapping[str, Path],
    name: str,
    columns: Sequence[str],
    progress: ProgressFactory,
) -> tuple[pd.DataFrame, SourceCount] | None:
    """Read a source table (or None if absent), count its rows, drop exact duplicates.

    Duplicates go before any normalisation so that their values are not counted as
    repairs twice. The returned frame keeps the positions of the rows it still holds.
    """
    path = files.get(name)
    if path is None:
        return None
    raw = read_frame(path, columns, progress=progress)
    counts = report.table(name, path.name)
    counts.read = len(raw)
    duplicate = exact_duplicates(raw)
    counts.drop("exact duplicate row", int(duplicate.sum()))
    return raw[~duplicate].drop(columns="_row_hash"), counts


def finish(imported: Imported, options: ImportOptions, report: ImportReport) -> Path:
    """Contract rules, counts, writing, and the validator's verdict on what was written."""
    started = time.perf_counter()
    frames = imported.frames
    apply_contract_rules(frames)
    if imported.after_rules is not None:
        imported.after_rules(frames)
        apply_contract_rules(frames)
    count({t: f[~f[SRC].str.startswith("_")] for t, f in frames.items()}, report)
    snapshot = options.snapshot_date or imported.snapshot_date
    if options.snapshot_date is not None:
        report.snapshot_date_source = "--snapshot-date"
    else:
        report.snapshot_date_source = imported.snapshot_date_source
    report.snapshot_date = snapshot
    report.source, report.licence = imported.source, imported.licence
    dataset = {"name": imported.name, "source": imported.source, "licence": imported.licence}
    if snapshot is not None:
        dataset["snapshot_date"] = snapshot.isoformat()
    tables = {table: to_output(table, df) for table, df in frames.items()}
    for table, df in frames.items():
        stubs = int(df[SRC].str.startswith("_stub").sum())
        if stubs:
            report.note(f"{table}: {stubs:,} row(s) made from references only ({df[SRC].iloc[0]})")
    report.written = write_output(options.out, tables, dataset)
    if options.check:
        report.validation = validation_summary(options.out)
    report.elapsed_seconds = round(time.perf_counter() - started, 2)
    path = options.report_path or options.out / REPORT_FILE
    report.write_json(path)
    return path


def validation_summary(out: Path) -> dict[str, object]:
    """What ``talentmap validate`` says about the output: rows it would still reject."""
    from talentmap.validate import validate_dataset

    result = validate_dataset(out)
    rejected = result.rejections(cascade=True)
    return {
        "valid": result.ok,
        "problems_by_rule": result.counts_by_rule(),
        "rows_rejected_by_table": {t: len(r) for t, r in rejected.items() if len(r)},
        "examples": [str(p) for p in result.problems[:10]],
    }


def people_with_roles_only(link: str) -> Callable[[dict[str, pd.DataFrame]], None]:
    """Data minimisation: a person enters only through a ``link`` (role, job) at an
    imported company; the others are dropped with that reason."""

    def keep_linked(frames: dict[str, pd.DataFrame]) -> None:
        people, roles = frames.get("people"), frames.get("roles")
        if people is None:
            return
        linked = set() if roles is None else set(roles.loc[kept(roles), "person_id"].dropna())
        drop(
            people,
            ~people["person_id"].isin(linked),
            f"no {link} at an imported company (data minimisation)",
        )

    return keep_linked
