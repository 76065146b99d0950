"""The feature build on the configured engine (``features.engine``).

``duckdb`` (the default) runs ``build.build_feature_tables`` in this process; ``spark``
runs the same builders as Spark tasks (``spark_build``). Both return the same tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pandas as pd

from talentmap.features.build import iter_feature_tables
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
        yield from iter_feature_tables(tables, snapshot_date, rules)
        return
    from talentmap.features.spark_build import build_feature_tables_spark, spark_session

    spark = spark_session(settings.features.spark)
    buckets = settings.features.spark.buckets
    yield from build_feature_tables_spark(spark, tables, snapshot_date, rules, buckets).items()
