"""Contract tables under construction, the rules every importer applies, and the writer.

An importer builds one pandas frame per contract table, holding the contract's columns
as normalised text (dates ``YYYY-MM-DD``), floats for amounts, plus two bookkeeping
columns: ``_src`` (the source table each row came from) and ``_drop`` (why the row is
dropped, or None). Rows are never deleted until the end, so the report can count each
source row exactly once: mapped if it is written, dropped with its first reason if not.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from talentmap.contract import FOREIGN_KEYS, TABLES, UNIQUE_COLUMNS, columns
from talentmap.contract_io import DATASET_FILE
from talentmap.contract_parse import Kind
from talentmap.importers.report import REPORT_FILE, ImportReport

SRC, DROP = "_src", "_drop"
# A row of these tables *is* a dated event: without its date it says nothing about when,
# so it is dropped rather than left for the validator to reject.
EVENT_DATES: dict[str, str] = {
    "funding_rounds": "announced_on",
    "exits": "exited_on",
    "headcount": "observed_on",
    "job_postings": "posted_on",
    "programs": "started_on",
    "publications": "published_on",
    "opt_outs": "since",
}


class OutputError(Exception):
    """The output directory cannot be written as asked."""


def frame(table: str, data: Mapping[str, object], src: str, index: pd.Index) -> pd.DataFrame:
    """A contract table under construction; contract columns absent from ``data`` are absent."""
    if table not in TABLES:
        raise KeyError(table)
    out = pd.DataFrame({name: data[name] for name in data}, index=index)
    out[SRC] = src
    out[DROP] = pd.Series([None] * len(out), index=out.index, dtype=object)
    return out.reset_index(drop=True)


def drop(df: pd.DataFrame, mask: pd.Series | np.ndarray, reason: str) -> int:
    """Mark rows as dropped for ``reason`` unless an earlier reason already holds."""
    hit = np.asarray(mask, dtype=bool) & df[DROP].isna().to_numpy()
    if hit.any():
        df.loc[hit, DROP] = reason
    return int(hit.sum())


def kept(df: pd.DataFrame) -> pd.Series:
    return df[DROP].isna()


def apply_contract_rules(frames: dict[str, pd.DataFrame]) -> None:
    """Drop what the importer may drop itself, in dependency order, until nothing changes.

    Missing keys, events without their date, repeated unique ids (the first is kept) and
    rows whose parent row is absent or dropped. Other problems (unknown country, closed
    before founded...) are left for the validator to judge.
    """
    for table, df in frames.items():
        for spec in columns(table):
            if spec.kind is Kind.ID and spec.required and spec.name in df.columns:
                drop(df, df[spec.name].isna(), f"missing {spec.name}")
        event = EVENT_DATES.get(table)
        if event and event in df.columns:
            drop(df, df[event].isna(), f"no {event}: an event without its date")
        for key in UNIQUE_COLUMNS[table]:
            if key in df.columns:
                live = kept(df)
                repeated = df[key].where(live).duplicated(keep="first") & live & df[key].notna()
                drop(df, repeated, f"repeated {key} (first occurrence kept)")
    changed = True
    while changed:
        changed = False
        for fk in FOREIGN_KEYS:
            child = frames.get(fk.table)
            if child is None or fk.column not in child.columns:
                continue
            applies = child[fk.column].notna() & kept(child)
            if fk.when is not None:
                applies &= child[fk.when[0]].eq(fk.when[1])
            parent = frames.get(fk.parent)
            if parent is None:
                n = drop(child, applies, f"{fk.column}: no {fk.parent} table in the source")
                changed |= n > 0
                continue
            alive = parent.loc[kept(parent), fk.parent_column]
            everyone = parent[fk.parent_column]
            refs = child[fk.column]
            was_dropped = applies & ~refs.isin(alive) & refs.isin(everyone)
            absent = applies & ~refs.isin(everyone)
            n = drop(child, was_dropped, f"{fk.column}: its {fk.parent} row was dropped")
            n += drop(child, absent, f"{fk.column}: absent from {fk.parent}")
            changed |= n > 0


def count(frames: dict[str, pd.DataFrame], report: ImportReport) -> None:
    """Add each frame's kept and dropped rows to the counts of the source tables."""
    for df in frames.values():
        if df.empty:
            continue
        for src, part in df.groupby(SRC, sort=False):
            counts = report.table(str(src))
            counts.mapped += int(part[DROP].isna().sum())
            for reason, n in part[DROP].dropna().value_counts().items():
                counts.drop(str(reason), int(n))


def _as_text(series: pd.Series, kind: Kind) -> pd.Series:
    if kind is Kind.AMOUNT:
        values = pd.to_numeric(series, errors="coerce").round(2)
        return values.map(lambda v: "" if pd.isna(v) else np.format_float_positional(v, trim="-"))
    if kind in (Kind.COUNT, Kind.YEAR):
        values = pd.array(series, dtype="Int64")
        return (
            pd.Series(values, index=series.index)
            .astype(object)
            .map(lambda v: "" if pd.isna(v) else str(int(v)))
        )
    if kind is Kind.BOOL:
        return series.map(lambda v: "" if v is None or pd.isna(v) else ("true" if v else "false"))
    return series.map(lambda v: "" if v is None or (not isinstance(v, str) and pd.isna(v)) else v)


def to_output(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """Kept rows, contract columns first (in contract order), then extra columns, as text."""
    rows = df[kept(df)]
    kinds = {spec.name: spec.kind for spec in columns(table)}
    ordered = [name for name in kinds if name in rows.columns]
    extras = [c for c in rows.columns if c not in kinds and not c.startswith("_")]
    out = pd.DataFrame(index=rows.index)
    for name in ordered + extras:
        out[name] = _as_text(rows[name], kinds.get(name, Kind.TEXT))
    return out.reset_index(drop=True)


def check_output_dir(out: Path, overwrite: bool) -> None:
    """Refuse a non-empty output directory unless asked to replace what an import writes."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} exists and is not a directory")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise OutputError(f"{out} is not empty; pass --overwrite to replace its tables")


def write_output(
    out: Path,
    tables: dict[str, pd.DataFrame],
    dataset: dict[str, str],
) -> dict[str, int]:
    """Write the contract directory; a failed write leaves any previous output as it was.

    Files go to a staging folder beside ``out`` first and are moved in at the end, so a
    crash never leaves half a dataset under the final name.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.importing-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    written: dict[str, int] = {}
    try:
        for table in TABLES:
            if table not in tables:
                continue
            data = tables[table]
            data.to_csv(staging / f"{table}.csv", index=False, lineterminator="\n")
            written[table] = len(data)
        (staging / DATASET_FILE).write_text(json.dumps(dataset, indent=2) + "\n")
        out.mkdir(parents=True, exist_ok=True)
        for old in out.iterdir():
            if old.is_file() and (
                old.name in (DATASET_FILE, REPORT_FILE)
                or (old.stem in TABLES and old.suffix in (".csv", ".parquet"))
            ):
                old.unlink()
        for new in staging.iterdir():
            os.replace(new, out / new.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written
