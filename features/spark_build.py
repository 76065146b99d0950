"""The feature build on Spark: the same pure pandas builders, run as Spark tasks.

Nothing here computes a feature. ``build.BUILDERS`` and ``build.finalize`` do, exactly as
in the default engine; this module only decides which rows each Spark task sees.

- **Organisation-local families** (``ORG_LOCAL``): a company's values are computed from
  its own rows alone (its organisation row, rounds and their investments, roles, hiring,
  programmes, exits, own publications). Every row goes to the bucket of the
  organisation it names (a stable hash of its ``org_id``, listed or not; an investment
  follows its round); one task per bucket runs ``prepare`` and these builders on the
  bucket's rows only. Tables keyed by something else (people, education, opt-outs) go
  whole to every bucket. Concatenated, the buckets give the default engine's tables,
  value for value.
- **Cross-company families** (``CROSS_COMPANY``): a value reads other companies' rows.
  Market heat and the round pools count every company of a cell or year and start their
  monthly rows at the first round of the whole data; investors' records and co-investors
  read every company an investor backed; the research and founders families credit a
  founder's work and earlier ventures recorded at other companies; the founder network
  and programme cohorts read co-founders' and cohort members' companies. No bucketing by
  organisation keeps them exact, so each runs as one task over all rows (in parallel with
  the buckets and with each other).

Each task sends back its finalised frames pickled (so dtypes, ``None`` and UTC
timestamps come back exactly as pandas made them), in chunks; the driver concatenates
them and sorts as ``finalize`` does. The input tables reach the tasks as one Spark
broadcast, loaded once per Python worker.
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Iterator, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from talentmap.features.build import BUILDERS, REQUIRED_TABLES, finalize
from talentmap.features.catalog import EVENT_TS, FAMILIES
from talentmap.features.prepare import prepare
from talentmap.settings.spark import SparkSettings
from talentmap.settings.training import PromiseRules

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ORG_LOCAL: frozenset[str] = frozenset(
    {"profile", "funding", "team", "hiring", "programs", "momentum", "cohort", "links"}
)
CROSS_COMPANY: frozenset[str] = frozenset(
    {
        "research",
        "founders",
        "person_research",
        "investors",
        "coinvestors",
        "founder_network",
        "program_cohort",
        "market",
        "sector_market",
        "round_pool",
    }
)
# Rows per pickled chunk sent back by a task: keeps each Arrow batch far below 2 GiB.
CHUNK_ROWS = 250_000
_UNITS_SCHEMA = "kind string, name string"
_OUT_SCHEMA = "family string, unit string, chunk int, payload binary"


def check_partition() -> None:
    """Every family is either organisation-local or cross-company, never both or neither.

    A new family must be placed consciously: placing a cross-company family in
    ``ORG_LOCAL`` would silently change its values under Spark.
    """
    placed = ORG_LOCAL | CROSS_COMPANY
    if ORG_LOCAL & CROSS_COMPANY or placed != set(FAMILIES):
        unplaced = sorted(set(FAMILIES) - placed)
        raise ValueError(
            f"features.spark_build: families not placed in ORG_LOCAL or CROSS_COMPANY: "
            f"{unplaced}; both: {sorted(ORG_LOCAL & CROSS_COMPANY)}; "
            f"unknown: {sorted(placed - set(FAMILIES))}"
        )


def org_buckets(org_ids: pd.Series, buckets: int) -> np.ndarray:
    """A stable bucket in ``[0, buckets)`` per org id (same on every machine and run)."""
    hashed = pd.util.hash_array(org_ids.astype(str).to_numpy(dtype=object))
    return (hashed % np.uint64(buckets)).astype(np.int64)


def row_buckets(tables: Mapping[str, pd.DataFrame], buckets: int) -> dict[str, np.ndarray]:
    """Each row's organisation bucket, per table that has one.

    A row goes with the organisation it names (``org_id``), whether or not that
    organisation has a row of its own; an investment goes with its round's organisation.
    Tables keyed otherwise have no entry: they go whole to every bucket.
    """
    out = {
        name: org_buckets(frame["org_id"], buckets)
        for name, frame in tables.items()
        if "org_id" in frame.columns
    }
    investments = tables.get("investments")
    if investments is not None and "round_id" in investments.columns:
        rounds = tables["funding_rounds"].drop_duplicates("round_id")
        org_of_round = investments["round_id"].map(rounds.set_index("round_id")["org_id"])
        out["investments"] = org_buckets(org_of_round, buckets)
    return out


def bucket_tables(
    tables: Mapping[str, pd.DataFrame],
    bucket: int,
    buckets: int,
    rows: Mapping[str, np.ndarray] | None = None,
) -> dict[str, pd.DataFrame]:
    """The rows of the organisations in ``bucket`` (``row_buckets``, computed once by the
    driver and passed as ``rows``, or here), and the tables keyed otherwise whole."""
    rows = rows if rows is not None else row_buckets(tables, buckets)
    return {
        name: frame[rows[name] == bucket] if name in rows else frame
        for name, frame in tables.items()
    }


def build_unit(
    tables: Mapping[str, pd.DataFrame],
    snapshot_date: date,
    rules: PromiseRules,
    kind: str,
    name: str,
    buckets: int,
    rows: Mapping[str, np.ndarray] | None = None,
) -> dict[str, pd.DataFrame]:
    """One Spark task's families: an organisation bucket's, or one cross-company family."""
    if kind == "bucket":
        part = bucket_tables(tables, int(name), buckets, rows)
        prepared = prepare(part, snapshot_date, rules)
        families = sorted(ORG_LOCAL)
    else:
        prepared = prepare(dict(tables), snapshot_date, rules)
        families = [name]
    return {f: finalize(BUILDERS[f](prepared), f, prepared.snapshot) for f in families}


def combine(parts: Mapping[str, list[pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """Per family, the tasks' frames as one table, ordered as ``finalize`` orders it."""
    out: dict[str, pd.DataFrame] = {}
    for family in FAMILIES:
        frames = parts[family]
        present = [f for f in frames if len(f)] or frames[:1]
        frame = pd.concat(present, ignore_index=True) if len(present) > 1 else present[0]
        key = FAMILIES[family].key
        out[family] = frame.sort_values([key, EVENT_TS], kind="stable").reset_index(drop=True)
    return out


def spark_session(settings: SparkSettings, app_name: str = "talentmap-features") -> SparkSession:
    """The Spark session of the feature build (and of Feast's Spark offline store).

    The UI is off, timestamps are UTC, and the Python workers run this interpreter, so
    that they import the same TalentMap and pandas as the driver.
    """
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.master(settings.master).appName(app_name)
    for key, value in spark_conf(settings).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    # Spark's own warnings (native Hadoop, deprecated keys) would drown the command's output.
    session.sparkContext.setLogLevel("ERROR")
    return session


def spark_conf(settings: SparkSettings) -> dict[str, str]:
    """The Spark properties of both the build and Feast's offline store."""
    return {
        "spark.master": settings.master,
        "spark.driver.memory": settings.driver_memory,
        "spark.ui.enabled": "false",
        "spark.eventLog.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.parser.quotedRegexColumnNames": "true",
        # Small joins (Feast's point-in-time SQL over a sample) pay per shuffle task.
        "spark.sql.shuffle.partitions": "4",
        **settings.conf,
    }


def _run_units(
    blob: Any, snapshot_date: date, rules: PromiseRules, buckets: int
) -> Any:  # a mapInPandas function: batches of units in, pickled chunks out
    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        # Loaded once per Python worker and kept while the worker is reused; the
        # builders treat their input tables as read-only, as in the default engine.
        tables, rows = blob.value
        for batch in batches:
            for kind, name in zip(batch["kind"], batch["name"], strict=True):
                built = build_unit(tables, snapshot_date, rules, kind, name, buckets, rows)
                rows = []
                for family, frame in built.items():
                    starts = range(0, max(len(frame), 1), CHUNK_ROWS)
                    for chunk, start in enumerate(starts):
                        part = frame.iloc[start : start + CHUNK_ROWS]
                        payload = pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL)
                        rows.append((family, f"{kind}:{name}", chunk, payload))
                yield pd.DataFrame(rows, columns=["family", "unit", "chunk", "payload"])

    return run


def build_feature_tables_spark(
    spark: SparkSession,
    tables: dict[str, pd.DataFrame],
    snapshot_date: date,
    rules: PromiseRules | None = None,
    buckets: int = 16,
) -> dict[str, pd.DataFrame]:
    """``build.build_feature_tables`` computed by Spark tasks; the same tables out."""
    check_partition()
    missing = [name for name in REQUIRED_TABLES if name not in tables]
    if missing:
        raise ValueError(f"required tables missing: {', '.join(missing)}")
    rules = rules or PromiseRules()
    # The long cross-company units first, so that the buckets fill the cores after them.
    units = [("family", f) for f in FAMILIES if f in CROSS_COMPANY]
    units += [("bucket", str(b)) for b in range(buckets)]
    context = spark.sparkContext
    blob = context.broadcast((dict(tables), row_buckets(tables, buckets)))
    try:
        # One unit per partition, so one Spark task each.
        frame = spark.createDataFrame(context.parallelize(units, len(units)), _UNITS_SCHEMA)
        out = frame.mapInPandas(_run_units(blob, snapshot_date, rules, buckets), _OUT_SCHEMA)
        rows = out.collect()
    finally:
        blob.unpersist()
    ordered = sorted(rows, key=lambda r: (r["family"], r["unit"], r["chunk"]))
    parts: dict[str, list[pd.DataFrame]] = {family: [] for family in FAMILIES}
    for row in ordered:
        parts[row["family"]].append(pickle.loads(row["payload"]))
    return combine(parts)
