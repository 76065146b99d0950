"""Loading the online store: each entity's latest row at the serving date, through Feast.

The online store answers "the latest values of this entity". Feast's own
``FeatureStore.materialize`` pulls every row of a view's history in the interval
through the offline store, sorts and deduplicates it in pandas, then writes the latest
row per entity: its time and memory follow the whole history (517 s and 3.4 GB at
100,000 organisations), not the entities. Here DuckDB reads each family's Parquet table
and keeps, per entity, the latest row dated on or before the serving day and within the
view's TTL (an older one would be blanked on every read at or after that day, see
``store._expire``); Feast's ``write_to_online_store`` writes them in chunks, so the online
store's writer (SQLite, Redis) and its reader stay Feast's own.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Collection, Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
from feast import FeatureStore

from talentmap.features.catalog import EVENT_TS, FAMILIES, Family, table_path

logger = logging.getLogger(__name__)

# DuckDB's ROW_NUMBER picks one row per entity; tables hold one row per (entity, day), so
# the latest row is unique (the key sort only makes the chunks reproducible).
LATEST_QUERY = f"""
SELECT * EXCLUDE (_rank) FROM (
    SELECT *, row_number() OVER (PARTITION BY "{{key}}" ORDER BY {EVENT_TS} DESC) AS _rank
    FROM read_parquet(?)
    WHERE {EVENT_TS} <= ?::TIMESTAMPTZ AND {EVENT_TS} >= ?::TIMESTAMPTZ
)
WHERE _rank = 1
ORDER BY "{{key}}"
"""


def latest_rows(path: Path, spec: Family, end: datetime, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Per entity of ``spec``'s table, its latest row in ``[end - ttl, end]``, in chunks."""
    start = end - spec.ttl
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        params = [str(path), end.isoformat(), start.isoformat()]
        reader = con.sql(LATEST_QUERY.format(key=spec.key), params=params).to_arrow_reader(
            chunk_rows
        )
        for batch in reader:
            if batch.num_rows:
                yield batch.to_pandas()


def load_online(
    store: FeatureStore,
    tables_dir: Path,
    end: datetime,
    chunk_rows: int,
    read: Collection[str] | None = None,
) -> int:
    """Write the latest rows at ``end`` of every view in ``read`` (default: every view) to
    ``store``'s online store; rows written.

    Feast writes one SQLite row per value, at a fixed cost in Python per value (its
    conversion to protos, then one statement each; docs/SCALE.md), so the time follows
    the number of values: a view that no online read asks for is not written at all.
    """
    written = 0
    views = {view.name for view in store.list_batch_feature_views()}
    for name, spec in FAMILIES.items():
        if name not in views or (read is not None and name not in read):
            continue
        started, rows = time.perf_counter(), 0
        for chunk in latest_rows(table_path(tables_dir, name), spec, end, chunk_rows):
            with warnings.catch_warnings():
                # A chunk whose values are all missing is skipped with a warning; reading
                # an entity that has no row gives the same missing values.
                warnings.filterwarnings("ignore", message="Cannot write .*online store")
                store.write_to_online_store(name, chunk)
            rows += len(chunk)
        written += rows
        # Recorded as Feast's own materialize records it, so `feast materialize-incremental`
        # and the registry's readers know what the online store holds, and up to when.
        store.registry.apply_materialization(
            store.get_feature_view(name), store.project, end - spec.ttl, end
        )
        # One line per view: at a million organisations the whole load takes minutes,
        # and the operator (and the retrain log) should see it move.
        logger.info(
            "materialized %s: latest rows of %d entities at %s",
            name,
            rows,
            end.date().isoformat(),
            extra={
                "view": name,
                "rows": rows,
                "duration_s": round(time.perf_counter() - started, 3),
            },
        )
    return written
