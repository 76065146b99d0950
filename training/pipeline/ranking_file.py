"""The published ranking: its files, their columns, and how they are written and read.

The retrain chain's publish step ranks every candidate once, in batch, and writes the
result into the feature-store version it publishes (``<version>/features/ranking/``), so
the ranking goes live with the same pointer flip as the feature tables it was computed
from: a reader that follows the live ``feature_tables_dir`` link sees either the old
tables with the old ranking or the new tables with the new ranking, never a mix.

Files of one ranking folder (all written under temporary names, the folder itself staged
and renamed into place, ``ranking.json`` written last):

- ``ranking.parquet``: the list, in rank order: org-level columns only (no person), the
  one logged to the champion's MLflow run for audit (``ranking/ranking.parquet``);
- ``ranking.arrow``: the same table as an uncompressed Arrow IPC file, which the service
  maps into memory (``pyarrow.memory_map``) instead of scoring at start-up;
- ``founders.arrow``: ``org_id, person_id, name, role, position`` of the ranked
  organisations' founders (personal data: published with the version, never logged);
- ``known.arrow``: every organisation ``/score`` may answer (in the lake, not opted out);
- ``ranking.json``: what produced it (model name, version, run id, feature and lake
  snapshots, serving date, rows, reasons_top_n, created_at).

This module is part of training's public surface (serving reads it): it holds the file
format only, no fitting, no scoring.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq

FOLDER = "ranking"
PARQUET_FILE = "ranking.parquet"
ARROW_FILE = "ranking.arrow"
FOUNDERS_FILE = "founders.arrow"
KNOWN_FILE = "known.arrow"
META_FILE = "ranking.json"
FORMAT = 1
N_REASONS = 3
REASON_COLUMNS = tuple(f"reason_{i}" for i in range(1, N_REASONS + 1))

# The columns of ranking.parquet / ranking.arrow, in order. ``region`` and ``country``
# are the lake's values (serving maps them to its region names); the reason columns hold
# one JSON object each ({feature, value, contribution, text}), null below the top N.
SCHEMA = pa.schema(
    [
        ("org_id", pa.string()),
        ("name", pa.string()),
        ("country", pa.string()),
        ("region", pa.string()),
        ("city", pa.string()),
        ("sector", pa.string()),
        ("founded_on", pa.timestamp("ns")),
        ("score", pa.float64()),
        ("rank", pa.int64()),
        ("percentile", pa.float64()),
        *((name, pa.string()) for name in REASON_COLUMNS),
    ]
)
FOUNDERS_SCHEMA = pa.schema(
    [
        ("org_id", pa.string()),
        ("person_id", pa.string()),
        ("name", pa.string()),
        ("role", pa.string()),
    ]
)
KNOWN_SCHEMA = pa.schema([("org_id", pa.string())])


def founder_rows(
    tables: Mapping[str, pd.DataFrame], org_ids: Iterable[str], person_opt_outs: Iterable[str]
) -> pd.DataFrame:
    """``org_id, person_id, name, role`` of the organisations' founders, in display order.

    One rule for the published file and the service: the founder's title when the source
    gives one ("CEO"), else "founder"; start-date order, then person id; opted-out persons
    left out. Every value is text.
    """
    columns = list(FOUNDERS_SCHEMA.names)
    roles, people = tables.get("roles"), tables.get("people")
    if roles is None or people is None or roles.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    wanted, blocked = set(map(str, org_ids)), set(map(str, person_opt_outs))
    found = roles.loc[(roles["role"] == "founder") & roles["org_id"].astype(str).isin(wanted)]
    found = found.loc[~found["person_id"].astype(str).isin(blocked)]
    names = people.drop_duplicates("person_id").set_index("person_id")["full_name"]
    found = found.assign(name=found["person_id"].map(names)).dropna(subset=["name"])
    if "title" in found:
        title = found["title"].where(found["title"].notna() & (found["title"] != ""), "founder")
    else:
        title = pd.Series("founder", index=found.index)
    found = found.assign(role=title)
    order = (
        ["org_id", "started_on", "person_id"] if "started_on" in found else ["org_id", "person_id"]
    )
    found = found.sort_values(order, kind="stable")
    return pd.DataFrame({c: found[c].astype(str).to_numpy(dtype=object) for c in columns})


def folder_of(tables_dir: Path) -> Path:
    """The ranking folder inside a feature-tables folder (live link or version)."""
    return Path(tables_dir) / FOLDER


def percentiles(scores: Any) -> Any:
    """Share of the candidates scoring strictly lower than each score, in percent (2 dp).

    ``scores`` must be non-increasing (rank order); the service computes the same number.
    """
    import numpy as np

    values = np.asarray(scores, dtype=np.float64)
    n = len(values)
    if n == 0:
        return np.empty(0, dtype=np.float64)
    not_lower = np.searchsorted(-values, -values, side="right")
    return np.round(100.0 * (n - not_lower) / n, 2)


def _table(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)


def write_ranking(
    tables_dir: Path,
    ranking: pd.DataFrame,
    founders: pd.DataFrame,
    known_org_ids: list[str],
    meta: dict[str, Any],
) -> Path:
    """Write the ranking folder inside ``tables_dir``, atomically; returns the folder.

    The files are written into a staging folder next to it, which is renamed into place
    (replacing a previous ranking of the same version folder), so a reader never sees a
    half-written ranking.
    """
    target = folder_of(tables_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{FOLDER}-", dir=target.parent))
    try:
        table = _table(ranking, SCHEMA)
        pq.write_table(table, staging / PARQUET_FILE)
        feather.write_feather(table, staging / ARROW_FILE, compression="uncompressed")
        feather.write_feather(
            _table(founders, FOUNDERS_SCHEMA), staging / FOUNDERS_FILE, compression="uncompressed"
        )
        known = pd.DataFrame({"org_id": pd.Series(known_org_ids, dtype=object)})
        feather.write_feather(
            _table(known, KNOWN_SCHEMA), staging / KNOWN_FILE, compression="uncompressed"
        )
        full = {"format": FORMAT, **meta, "rows": table.num_rows}
        (staging / META_FILE).write_text(json.dumps(full, indent=2), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


@dataclass(frozen=True)
class PublishedRanking:
    """A ranking folder, read: the tables are memory-mapped, not copied."""

    folder: Path
    meta: dict[str, Any]
    table: pa.Table
    founders: pa.Table
    known: pa.Table
    stamp: str


def ranking_stamp(tables_dir: Path) -> str | None:
    """A cheap identity of the published ranking behind ``tables_dir`` (one ``stat``).

    It follows the live link, so it changes whenever a new version is published; None
    when no ranking is published there.
    """
    try:
        found = os.stat(folder_of(tables_dir) / META_FILE)
    except OSError:
        return None
    return f"{found.st_dev}:{found.st_ino}:{found.st_mtime_ns}"


def _mapped(path: Path) -> pa.Table:
    # Not closed here: the table's buffers point into the mapping, which lives as long as
    # they do.
    return pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()


def read_ranking(tables_dir: Path) -> PublishedRanking | None:
    """The ranking published in ``tables_dir`` (None when there is none: older publish).

    The live link is resolved once, so the files read all come from one version even if
    a publish flips the link meanwhile.
    """
    folder = folder_of(Path(tables_dir).resolve())
    stamp = ranking_stamp(folder.parent)
    if stamp is None:
        return None
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        return None
    return PublishedRanking(
        folder=folder,
        meta=meta,
        table=_mapped(folder / ARROW_FILE),
        founders=_mapped(folder / FOUNDERS_FILE),
        known=_mapped(folder / KNOWN_FILE),
        stamp=stamp,
    )
