"""Point-in-time correctness through Feast's get_historical_features, and agreement of
Feast with the hand-written DuckDB ASOF JOIN reference."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from fixtures.toy_world import messy_founding_dates, random_world

from talentmap.features import store
from talentmap.features.age import first_event_on
from talentmap.features.asof_reference import asof_join_duckdb
from talentmap.features.build import build_feature_tables
from talentmap.features.pit_check import alter_after, truncate_after
from talentmap.settings import Settings

SNAPSHOT = date(2025, 12, 31)
LINKED = ("market_rounds_12m", "sector_rounds_12m", "amount_last_vs_type_year_median")


def historical(home: Path, world: dict[str, pd.DataFrame], entity: pd.DataFrame) -> pd.DataFrame:
    settings = Settings(home=home)
    tables = build_feature_tables(world, SNAPSHOT)
    store.write_feature_tables(tables, settings.feature_tables_dir, "test")
    store.apply(settings)
    return store.get_training_frame(settings, entity)


def test_feast_features_at_t_ignore_the_future(tmp_path: Path) -> None:
    world = random_world(40, 21)
    rng = np.random.default_rng(21)
    orgs = world["organizations"]["org_id"].tolist()
    for i, t in enumerate([pd.Timestamp("2016-07-01"), pd.Timestamp("2020-03-15")]):
        entity = pd.DataFrame({"org_id": orgs, "as_of": t.date()})
        expected = historical(tmp_path / f"full{i}", world, entity)
        assert expected.drop(columns=["org_id", "as_of"]).notna().any().any()
        # Features joined through the organisation's links (market cells, round pools) too.
        assert expected[list(LINKED)].notna().any().all(), expected[list(LINKED)].notna().any()
        deleted = historical(tmp_path / f"del{i}", truncate_after(world, t.date()), entity)
        pd.testing.assert_frame_equal(deleted, expected)
        altered = historical(tmp_path / f"alt{i}", alter_after(world, t.date(), rng), entity)
        pd.testing.assert_frame_equal(altered, expected)


def test_feast_ages_at_t_ignore_corrected_founding_dates(tmp_path: Path) -> None:
    """Issue 13 through Feast: founding dates missing, or corrected to after the first
    events. The age at t falls back on the first event for a company on the record at t
    whose founding date lies after t, and no later fact moves any feature at t."""
    world = messy_founding_dates(random_world(40, 23), seed=23)
    t = pd.Timestamp("2018-06-30")
    founded = world["organizations"].set_index("org_id")["founded_on"]
    corrected = (founded > t) & (first_event_on(world) <= t)
    assert corrected.sum() >= 2, "the messy world must exercise the rule at t"
    entity = pd.DataFrame({"org_id": world["organizations"]["org_id"], "as_of": t.date()})
    expected = historical(tmp_path / "full", world, entity)
    age = expected.set_index("org_id").loc[corrected[corrected].index, "company_age_days"]
    assert (age > 0).all()
    deleted = historical(tmp_path / "del", truncate_after(world, t.date()), entity)
    pd.testing.assert_frame_equal(deleted, expected)
    rng = np.random.default_rng(23)
    altered = historical(tmp_path / "alt", alter_after(world, t.date(), rng), entity)
    pd.testing.assert_frame_equal(altered, expected)


def test_feast_matches_the_duckdb_asof_reference(tmp_path: Path) -> None:
    world = random_world(40, 22)
    orgs = world["organizations"]["org_id"].tolist()
    dates = pd.date_range("2014-01-01", periods=12, freq="QS-JAN") + pd.Timedelta(days=200)
    # Mixed input kinds on purpose: naive timestamps, aware ones and plain dates.
    as_of = [d for d in dates for _ in orgs]
    entity = pd.DataFrame({"org_id": orgs * len(dates), "as_of": as_of}).sample(
        frac=1.0, random_state=0
    )
    feast_frame = historical(tmp_path, world, entity)
    reference = asof_join_duckdb(entity, Settings(home=tmp_path).feature_tables_dir)
    assert feast_frame["org_id"].tolist() == entity["org_id"].tolist(), "input order kept"
    pd.testing.assert_frame_equal(feast_frame, reference, check_dtype=False)
    aware = entity.assign(as_of=pd.to_datetime(entity["as_of"]).dt.tz_localize("UTC"))
    as_dates = entity.assign(as_of=pd.to_datetime(entity["as_of"]).dt.date)
    settings = Settings(home=tmp_path)
    for variant in (aware, as_dates):
        pd.testing.assert_frame_equal(store.get_training_frame(settings, variant), feast_frame)
