"""``features.engine = spark`` on a 5,000-organisation generated world, on a real Spark.

The Spark engine must write the default engine's feature tables value for value (same
rows, keys, timestamps; floats within 1e-12), and Feast's Spark offline store must return
the default (DuckDB) store's historical features on a sample of entity rows. Spark runs
``local[2]`` with a 2 GiB driver and no UI; the session is stopped at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from talentmap.features import store
from talentmap.features.catalog import FAMILIES
from talentmap.features.engine import build_tables
from talentmap.lake import Lake
from talentmap.settings import Settings
from talentmap.settings.spark import SparkSettings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ORGS = 5_000
SEED = 5
SPARK = SparkSettings(master="local[2]", driver_memory="2g", buckets=8)
MESSY_ORGS = 800
EXPORT = date(2025, 12, 31)
TALENTMAP = Path(sys.executable).parent / "talentmap"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, date, dict[str, pd.DataFrame]]:
    """The generated world, ingested into a lake and loaded as the build reads it."""
    from talentmap.generate.world import generate_world
    from talentmap.ingest import ingest

    root = tmp_path_factory.mktemp("spark-world")
    generate_world(root / "world", ORGS, SEED)
    lake_dir = root / "lake"
    result = ingest(root / "world", lake_dir)
    lake = Lake(lake_dir)
    snapshot_date = lake.get(result.snapshot_id).snapshot_date
    assert snapshot_date is not None
    return result.snapshot_id, snapshot_date, lake.load(result.snapshot_id)


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Settings]:
    root = tmp_path_factory.mktemp("spark-homes")
    default = Settings(home=root / "default")
    spark = Settings(home=root / "spark", features={"engine": "spark", "spark": SPARK})
    return default, spark


@pytest.fixture(scope="module", autouse=True)
def session() -> Iterator[None]:
    """One Spark session for the module (Feast's offline store reuses it), then stopped."""
    from talentmap.features.spark_build import spark_session

    spark = spark_session(SPARK)
    try:
        yield
    finally:
        spark.stop()


@pytest.fixture(scope="module")
def built(
    world: tuple[str, date, dict[str, pd.DataFrame]], homes: tuple[Settings, Settings]
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    _, snapshot_date, tables = world
    default, spark = homes
    return build_tables(default, tables, snapshot_date), build_tables(spark, tables, snapshot_date)


def assert_same_tables(
    expected: dict[str, pd.DataFrame], got: dict[str, pd.DataFrame], every_family: bool = True
) -> None:
    """Same families, rows, keys and timestamps; strings equal; floats within 1e-12.

    ``every_family``: each family has rows (a generated world has every table).
    """
    assert list(got) == list(expected) == list(FAMILIES)
    assert sum(len(frame) for frame in expected.values()) > 0
    for family, frame in expected.items():
        other = got[family]
        assert len(frame) > 0 or not every_family, family
        assert list(other.columns) == list(frame.columns), family
        assert other.dtypes.to_dict() == frame.dtypes.to_dict(), family
        key = FAMILIES[family].key
        # Same rows: keys and timestamps exactly, in the same order.
        pd.testing.assert_frame_equal(
            other[[key, "event_timestamp"]], frame[[key, "event_timestamp"]]
        )
        for column in FAMILIES[family].strings:
            assert other[column].equals(frame[column]), (family, column)
        for column in FAMILIES[family].numeric:
            a, b = other[column].to_numpy(), frame[column].to_numpy()
            assert np.array_equal(np.isnan(a), np.isnan(b)), (family, column)
            known = ~np.isnan(b)
            assert np.allclose(a[known], b[known], rtol=0, atol=1e-12), (family, column)


def test_spark_writes_the_default_tables_value_for_value(
    built: tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]],
) -> None:
    assert_same_tables(*built)


def test_spark_writes_the_default_tables_from_a_messy_crunchbase_export(
    tmp_path: Path, homes: tuple[Settings, Settings]
) -> None:
    """Real-shaped data: late listings, undated roles, person-only publications, bad rows."""
    from fixtures.messy_crunchbase import build_source

    from talentmap.ingest import ingest

    export = tmp_path / "crunchbase-2013"
    build_source(SEED, MESSY_ORGS, EXPORT).write(export)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALENTMAP_")}
    done = subprocess.run(
        [str(TALENTMAP), "import", "crunchbase2013", str(export), "--out", str(tmp_path / "data")],
        cwd=tmp_path,
        env={**env, "TALENTMAP_HOME": str(tmp_path), "TALENTMAP_LOG_FORMAT": "text"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    result = ingest(tmp_path / "data", tmp_path / "lake")
    lake = Lake(tmp_path / "lake")
    snapshot_date = lake.get(result.snapshot_id).snapshot_date
    assert snapshot_date is not None
    tables = lake.load(result.snapshot_id)
    default, spark = homes
    expected = build_tables(default, tables, snapshot_date)
    assert len(expected["funding"]) > 0 and len(expected["founders"]) > 0
    assert_same_tables(expected, build_tables(spark, tables, snapshot_date), every_family=False)


def test_feasts_spark_offline_store_retrieves_what_duckdb_does(
    world: tuple[str, date, dict[str, pd.DataFrame]],
    homes: tuple[Settings, Settings],
    built: tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]],
) -> None:
    snapshot_id, snapshot_date, tables = world
    default, spark = homes
    for settings, frames in zip((default, spark), built, strict=True):
        engine = settings.features.engine
        store.write_feature_tables(
            frames, settings.feature_tables_dir, snapshot_id, snapshot_date, engine=engine
        )
        store.apply(settings)
    assert store.load_config(spark).offline_store.type == "spark"
    assert store.load_config(default).offline_store.type == "duckdb"

    rng = np.random.default_rng(SEED)
    orgs = rng.choice(tables["organizations"]["org_id"].to_numpy(dtype=object), 150, replace=False)
    dates = [date(2016, 6, 30), date(2020, 12, 31), date(2024, 3, 31)]
    entity = pd.DataFrame(
        {"org_id": np.tile(orgs, len(dates)), "as_of": np.repeat(np.array(dates), len(orgs))}
    )
    expected = store.get_training_frame(default, entity)
    got = store.get_training_frame(spark, entity)
    assert len(got) == len(entity)
    assert expected["n_rounds"].notna().sum() > 100
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=0, atol=1e-12)
