"""Loading a snapshot from the data lake for the feature build, with its snapshot date.

Only the lake's small public interface is used: ``Lake(dir).latest()`` returning a
reference with a ``snapshot_id`` (or None), ``Lake(dir).load(id)`` returning the typed tables, and
a manifest carrying ``snapshot_date``. Where the manifest is not reachable, the snapshot
date falls back to the latest date found in any table, as the contract specifies.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd


def _date_of(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value if type(value) is date else value.date()
    return pd.Timestamp(value).date()


def latest_date(tables: dict[str, pd.DataFrame]) -> date:
    """The latest date in any datetime column (the contract's default snapshot date)."""
    latest = [
        frame[c].max()
        for frame in tables.values()
        for c in frame.columns
        if pd.api.types.is_datetime64_any_dtype(frame[c]) and frame[c].notna().any()
    ]
    return max(pd.Timestamp(v) for v in latest).date()


def _manifest_date(lake: Any, ref: Any, snapshot_id: str) -> date | None:
    for holder in (ref, getattr(ref, "manifest", None)):
        found = getattr(holder, "snapshot_date", None) if holder is not None else None
        if found is None and isinstance(holder, dict):
            found = holder.get("snapshot_date")
        if found is not None:
            return _date_of(found)
    reader = getattr(lake, "manifest", None)
    if callable(reader):
        manifest = reader(snapshot_id)
        found = (
            manifest.get("snapshot_date")
            if isinstance(manifest, dict)
            else getattr(manifest, "snapshot_date", None)
        )
        return _date_of(found)
    return None


def load_snapshot(
    lake_dir: Path, snapshot_id: str | None
) -> tuple[str, date, dict[str, pd.DataFrame]]:
    """(snapshot id, snapshot date, typed tables) of the given or the latest snapshot."""
    from talentmap.lake import Lake  # the lake module is owned by the ingestion stage

    lake = Lake(lake_dir)
    ref = None
    if snapshot_id is None:
        ref = lake.latest()
        if ref is None:
            raise LookupError(f"no snapshot in the lake at {lake_dir}: run `talentmap ingest`")
        snapshot_id = str(getattr(ref, "snapshot_id", None) or ref.id)
    tables = lake.load(snapshot_id)
    snapshot_date = _manifest_date(lake, ref, snapshot_id) or latest_date(tables)
    return snapshot_id, snapshot_date, tables
