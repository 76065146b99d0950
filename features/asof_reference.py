"""A hand-written DuckDB ASOF JOIN over the feature tables: the speed and value reference
for Feast's historical retrieval, and the as-of lookup used by the point-in-time tests.

For each (org_id, as_of) row it first reads the organisation's links at as_of (the keys
of its market cells and round pool); then, for each family keyed by the organisation or
by a linked entity, it takes the family's latest row with ``event_timestamp <= as_of``
for that key and nulls it if older than the family's TTL, which is Feast's point-in-time
semantics. On-demand features are then computed by the same functions as their views.
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
    linked_entities,
    model_feature_refs,
    table_path,
)


def _wanted(family: str) -> list[str]:
    """A family's model features and the stored columns on-demand views read from it."""
    inputs = [
        c
        for spec in ON_DEMAND_FAMILIES.values()
        for f, cs in spec.inputs
        if f == family
        for c in cs
    ]
    return list(dict.fromkeys([*FAMILIES[family].model_features, *inputs]))


def _joined_families() -> list[str]:
    """Families read at (org, t): the organisation's own and those of the linked entities."""
    keys = {ORG_KEY, *(spec.key for spec in linked_entities())}
    return [name for name, spec in FAMILIES.items() if spec.key in keys]


def _valid(alias: str, family: str, column: str) -> str:
    """The joined row's column, null when the row is older than its family's TTL."""
    ttl_days = FAMILIES[family].ttl.days
    return (
        f"CASE WHEN {alias}.{EVENT_TS} + INTERVAL {ttl_days} DAY >= e._ts "
        f'THEN {alias}."{column}" END'
    )


def _query(sources: Mapping[str, str]) -> str:
    # First the organisation's links at t (keys of its market cells and round pool), as
    # Feast's retrieval does in a first pass; then every family joined on its own key.
    link_columns, link_joins = ["e.*"], []
    for i, family in enumerate(dict.fromkeys(s.link[0] for s in linked_entities() if s.link)):
        alias = f"l{i}"
        for spec in linked_entities():
            if spec.link and spec.link[0] == family:
                link_columns.append(f'{_valid(alias, family, spec.link[1])} AS "{spec.key}"')
        link_joins.append(
            f"ASOF LEFT JOIN {sources[family]} {alias} "
            f"ON e.{ORG_KEY} = {alias}.{ORG_KEY} AND e._ts >= {alias}.{EVENT_TS}"
        )
    selects, joins = [], []
    for i, family in enumerate(f for f in _joined_families() if _wanted(f)):
        spec = FAMILIES[family]
        alias = f"f{i}"
        for column in _wanted(family):
            selects.append(f'{_valid(alias, family, column)} AS "{column}"')
        joins.append(
            f"ASOF LEFT JOIN {sources[family]} {alias} "
            f"ON e.{spec.key} = {alias}.{spec.key} AND e._ts >= {alias}.{EVENT_TS}"
        )
    return (
        f"WITH keyed AS (SELECT {', '.join(link_columns)} FROM entities e "
        f"{' '.join(link_joins)}) "
        f"SELECT e._row, e.{ORG_KEY}, e._ts AS {AS_OF_FIELD}, {', '.join(selects)} "
        f"FROM keyed e {' '.join(joins)} ORDER BY e._row"
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
    computed = [spec.udf(frame) for spec in ON_DEMAND_FAMILIES.values()]
    frame = pd.concat([frame, *computed], axis=1)
    keep = [ORG_KEY, AS_OF_FIELD, *(ref.split(":", 1)[1] for ref in model_feature_refs())]
    return frame[keep]


def asof_join_duckdb(entity_df: pd.DataFrame, tables_dir: Path) -> pd.DataFrame:
    """Features at (org_id, as_of) from the Parquet tables in ``tables_dir``, input order."""
    sources = {
        f: f"read_parquet('{table_path(tables_dir, f).as_posix()}')" for f in _joined_families()
    }
    with duckdb.connect() as con:
        return _run(entity_df, sources, con)


def asof_join_frames(entity_df: pd.DataFrame, tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The same lookup over in-memory feature tables (as ``build_feature_tables`` returns)."""
    with duckdb.connect() as con:
        sources = {}
        for family in _joined_families():
            con.register(f"t_{family}", tables[family])
            sources[family] = f"t_{family}"
        return _run(entity_df, sources, con)
