"""A hand-written DuckDB ASOF JOIN over the feature tables: the speed and value reference
for Feast's historical retrieval, and the as-of lookup used by the point-in-time tests.

For each (org_id, as_of) row and each organisation family, it takes the family's latest
row with ``event_timestamp <= as_of`` and nulls it if older than the family's TTL, which
is Feast's point-in-time semantics. Time-relative features are then computed by the same
function as the on-demand view.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb
import pandas as pd

from talentmap.features.catalog import (
    AS_OF_FIELD,
    EVENT_TS,
    FAMILIES,
    ON_DEMAND_FAMILIES,
    ORG_KEY,
    table_path,
)
from talentmap.features.timing import timing_udf

# The timing inputs stored on event rows (not model features, but needed to compute them).
_TIMING_INPUTS = dict(ON_DEMAND_FAMILIES["timing"].inputs)


def _org_families() -> list[str]:
    return [name for name, spec in FAMILIES.items() if spec.key == ORG_KEY]


def _query(sources: Mapping[str, str]) -> str:
    selects, joins = [], []
    for i, family in enumerate(_org_families()):
        spec = FAMILIES[family]
        alias = f"f{i}"
        wanted = [*spec.model_features, *_TIMING_INPUTS.get(family, ())]
        ttl_days = spec.ttl.days
        for column in dict.fromkeys(wanted):
            selects.append(
                f"CASE WHEN {alias}.{EVENT_TS} + INTERVAL {ttl_days} DAY >= e._ts "
                f'THEN {alias}."{column}" END AS "{column}"'
            )
        joins.append(
            f"ASOF LEFT JOIN {sources[family]} {alias} "
            f"ON e.{ORG_KEY} = {alias}.{ORG_KEY} AND e._ts >= {alias}.{EVENT_TS}"
        )
    return (
        f"SELECT e._row, e.{ORG_KEY}, e._ts AS {AS_OF_FIELD}, {', '.join(selects)} "
        f"FROM entities e {' '.join(joins)} ORDER BY e._row"
    )


def _run(
    entity_df: pd.DataFrame, sources: Mapping[str, str], con: duckdb.DuckDBPyConnection
) -> pd.DataFrame:
    from talentmap.features.store import to_utc  # local: store imports Feast, which is slow

    entities = pd.DataFrame(
        {
            "_row": range(len(entity_df)),
            ORG_KEY: entity_df[ORG_KEY].astype(str).to_numpy(),
            "_ts": to_utc(entity_df[AS_OF_FIELD].reset_index(drop=True)),
        }
    )
    con.execute("SET TimeZone = 'UTC'")
    con.register("entities", entities)
    frame = con.execute(_query(sources)).df()
    frame[AS_OF_FIELD] = to_utc(frame[AS_OF_FIELD])
    timing = timing_udf(frame)
    frame = pd.concat([frame, timing], axis=1)
    keep = [ORG_KEY, AS_OF_FIELD]
    keep += [c for f in _org_families() for c in FAMILIES[f].model_features]
    keep += list(timing.columns)
    return frame[keep]


def asof_join_duckdb(entity_df: pd.DataFrame, tables_dir: Path) -> pd.DataFrame:
    """Features at (org_id, as_of) from the Parquet tables in ``tables_dir``, input order."""
    sources = {
        f: f"read_parquet('{table_path(tables_dir, f).as_posix()}')" for f in _org_families()
    }
    with duckdb.connect() as con:
        return _run(entity_df, sources, con)


def asof_join_frames(entity_df: pd.DataFrame, tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The same lookup over in-memory feature tables (as ``build_feature_tables`` returns)."""
    with duckdb.connect() as con:
        sources = {}
        for family in _org_families():
            con.register(f"t_{family}", tables[family])
            sources[family] = f"t_{family}"
        return _run(entity_df, sources, con)
