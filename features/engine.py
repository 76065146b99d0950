"""The feature build on the configured engine (``features.engine``).

``duckdb`` (the default) runs ``build.build_feature_tables`` in this process; ``spark``
runs the same builders as Spark tasks (``spark_build``). Both return the same tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pandas as pd

from talentmap.features.chunked import iter_chunks, iter_tables_chunked
from talentmap.settings import Settings


def build_tables(
    settings: Settings, tables: dict[str, pd.DataFrame], snapshot_date: date
) -> dict[str, pd.DataFrame]:
    """The feature tables of ``tables`` at ``snapshot_date``, with the run's rules."""
    return dict(iter_tables(settings, tables, snapshot_date))


def iter_tables(
    settings: Settings, tables: dict[str, pd.DataFrame], snapshot_date: date
) -> Iterator[tuple[str, pd.DataFrame]]:
    """``build_tables`` as (family, table) pairs: the default engine builds them one at a
    time, so a caller that writes each as it comes holds one family's table at a time
    (Spark builds them all, then hands them out)."""
    rules = settings.training.rules
    if settings.features.engine != "spark":
        chunk = settings.features.build_chunk_orgs
        yield from iter_tables_chunked(tables, snapshot_date, rules, chunk)
        return
    from talentmap.features.spark_build import build_feature_tables_spark, spark_session

    spark = spark_session(settings.features.spark)
    buckets = settings.features.spark.buckets
    yield from build_feature_tables_spark(spark, tables, snapshot_date, rules, buckets).items()


def build_and_write(
    settings: Settings,
    tables: dict[str, pd.DataFrame],
    snapshot_date: date,
    snapshot_id: str,
) -> dict[str, int]:
    """Build the feature tables and write them to the settings' folder; rows per family.

    The default engine streams: each organisation chunk of each family is written as it
    is built (``chunked.iter_chunks``, ``store.write_feature_chunks``), so neither a
    family's table nor the builders' whole intermediates are held. Opted-out subjects'
    rows are dropped chunk by chunk (the rule is per row).
    """
    from talentmap.features.store import write_feature_chunks, write_feature_tables
    from talentmap.optouts import drop_opted_out_features

    opt_outs = tables.get("opt_outs")
    out_dir, engine = settings.feature_tables_dir, settings.features.engine
    if engine == "spark":
        built = drop_opted_out_features(build_tables(settings, tables, snapshot_date), opt_outs)
        write_feature_tables(built, out_dir, snapshot_id, snapshot_date, engine)
        return {family: len(frame) for family, frame in built.items()}
    chunks = iter_chunks(
        tables, snapshot_date, settings.training.rules, settings.features.build_chunk_orgs
    )
    kept = (
        (family, drop_opted_out_features({family: frame}, opt_outs)[family])
        for family, frame in chunks
    )
    return write_feature_chunks(kept, out_dir, snapshot_id, snapshot_date, engine)
