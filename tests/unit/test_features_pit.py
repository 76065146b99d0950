"""Point-in-time correctness of the pure feature build.

Property: for several as-of dates t over random worlds, deleting every event after t, or
rewriting every event after t, leaves every feature value at t (and at a few earlier
dates) unchanged.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from fixtures.toy_world import messy_founding_dates, random_world

from talentmap.features.age import first_event_on
from talentmap.features.asof_reference import asof_join_frames
from talentmap.features.build import build_feature_tables
from talentmap.features.catalog import model_feature_refs
from talentmap.features.pit_check import alter_after, truncate_after
from talentmap.settings.training import PromiseRules

SNAPSHOT = date(2025, 12, 31)


def promise_columns() -> list[str]:
    return [ref.split(":", 1)[1] for ref in model_feature_refs()]


def features_at(
    world: dict[str, pd.DataFrame], days: list[pd.Timestamp], age_fallback: bool = True
) -> pd.DataFrame:
    tables = build_feature_tables(world, SNAPSHOT, PromiseRules(age_fallback=age_fallback))
    orgs = world["organizations"]["org_id"].tolist()
    entity = pd.DataFrame({"org_id": orgs * len(days), "as_of": [d for d in days for _ in orgs]})
    return asof_join_frames(entity, tables)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_future_events_never_change_features_at_t(seed: int) -> None:
    rng = np.random.default_rng(seed)
    world = random_world(60, seed)
    known = pd.Series(False, index=promise_columns())
    for t in sorted(pd.Timestamp("2014-01-01") + pd.to_timedelta(rng.integers(0, 4000, 3), "D")):
        days = [t - pd.Timedelta(days=400), t - pd.Timedelta(days=1), t]
        expected = features_at(world, days)
        known |= expected[known.index].notna().any()
        deleted = features_at(truncate_after(world, t.date()), days)
        pd.testing.assert_frame_equal(deleted, expected, obj=f"deleted after {t.date()}")
        altered = features_at(alter_after(world, t.date(), rng), days)
        pd.testing.assert_frame_equal(altered, expected, obj=f"altered after {t.date()}")
    # Not vacuous for any feature: each one held a value at some t of this world, including
    # those computed from other companies (market heat, round pools, investors' records).
    assert known.all(), list(known.index[~known])


@pytest.mark.parametrize("t", ["2018-12-31", "2020-01-01", "2020-07-01", "2021-03-31"])
def test_future_events_never_change_features_on_refresh_days(t: str) -> None:
    """Month ends, 1 January and 1 July: the days investors' records and quiet markets are
    refreshed on, where an off-by-one day would let the future in."""
    when = pd.Timestamp(t)
    world = random_world(60, 6)
    days = [when - pd.Timedelta(days=1), when]
    expected = features_at(world, days)
    pd.testing.assert_frame_equal(features_at(truncate_after(world, when.date()), days), expected)
    altered = alter_after(world, when.date(), np.random.default_rng(6))
    pd.testing.assert_frame_equal(features_at(altered, days), expected)


@pytest.mark.parametrize("age_fallback", [True, False])
def test_messy_founding_dates_never_let_the_future_in(age_fallback: bool) -> None:
    """Issue 13: missing founding dates and founding dates corrected to after the first
    events. At t, a founding date after t of a company already on the record is unknown
    (the age falls back on its first event); deleting or rewriting the future, founding
    dates included, must leave every feature at t unchanged."""
    rng = np.random.default_rng(11)
    world = messy_founding_dates(random_world(80, 11), seed=11)
    founded = world["organizations"].set_index("org_id")["founded_on"]
    first = first_event_on(world)
    for t in [pd.Timestamp("2015-03-31"), pd.Timestamp("2018-09-30"), pd.Timestamp("2021-12-31")]:
        # Not vacuous: some companies are on the record at t with a founding date after t.
        corrected = (founded > t) & (first <= t)
        assert corrected.sum() >= 3, t
        days = [t - pd.Timedelta(days=200), t]
        expected = features_at(world, days, age_fallback)
        at_t = expected[expected["as_of"] == t.tz_localize("UTC")].set_index("org_id")
        age = at_t.loc[corrected[corrected].index, "company_age_days"]
        assert age.notna().all() if age_fallback else age.isna().all()
        deleted = features_at(truncate_after(world, t.date()), days, age_fallback)
        pd.testing.assert_frame_equal(deleted, expected, obj=f"deleted after {t.date()}")
        altered = features_at(alter_after(world, t.date(), rng), days, age_fallback)
        pd.testing.assert_frame_equal(altered, expected, obj=f"altered after {t.date()}")


def test_altering_the_future_does_change_later_features() -> None:
    """Guard against a vacuous property: the alteration is visible after t."""
    world = random_world(60, 4)
    t = pd.Timestamp("2017-01-01")
    later = [pd.Timestamp("2025-12-31")]
    before = features_at(world, later)
    after = features_at(alter_after(world, t.date(), np.random.default_rng(0)), later)
    assert not before.equals(after)


def test_rows_only_on_event_days() -> None:
    """Event-driven: never one row per entity per day, and one row per (entity, day)."""
    world = random_world(80, 5)
    tables = build_feature_tables(world, SNAPSHOT)
    for name, frame in tables.items():
        key = frame.columns[0]
        assert not frame.duplicated([key, "event_timestamp"]).any(), name
        assert (frame["event_timestamp"] <= pd.Timestamp(SNAPSHOT, tz="UTC")).all(), name
        assert str(frame["event_timestamp"].dt.tz) == "UTC", name
        assert (frame["event_timestamp"] == frame["event_timestamp"].dt.normalize()).all()
    n_rounds = len(world["funding_rounds"])
    n_orgs = len(world["organizations"])
    assert len(tables["funding"]) <= n_rounds + n_orgs
