"""Issue 13: a company's age at t when its founding date is unknown at t.

One rule (``talentmap.features.age``) decides both who is young enough to be a candidate
and the ``company_age_days`` feature: the founding date once it is on or before t, else
the first dated event on or before t. A founding date after t counts as unknown at t when
the company already has dated events by then (a date corrected later), and as "not yet
founded" otherwise. The tests pin the hand-made cases, check that candidates and features
agree on a random messy world, and that the fallback can be turned off.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from fixtures.toy_world import messy_founding_dates, random_world

from talentmap.features.age import age_anchor, age_anchor_changes, first_event_on
from talentmap.features.asof_reference import asof_join_frames
from talentmap.features.build import build_feature_tables
from talentmap.settings.training import PromiseRules
from talentmap.training.pipeline.candidates import candidate_status

D = pd.Timestamp
NaT = pd.NaT
SNAPSHOT = date(2025, 12, 31)
T = D("2019-06-30")
LATER = D("2020-06-30")


def _dates(values: list) -> pd.Series:
    return pd.Series(pd.to_datetime(values)).astype("datetime64[ns]")


def hand_made() -> dict[str, pd.DataFrame]:
    """Each organisation sits on one branch of the rule at T (2019-06-30).

    corrected: founded 2020-03-01, but raised 2019-01-01 (the founding date was
        corrected later): unknown at T, aged from the round; founded at LATER.
    undated: no founding date, incubated 2018-05-01: aged from the programme.
    unborn: founded 2021-01-01 and nothing before: not yet founded at T.
    plain: founded 2017-02-01, round 2017-06-01: aged from the founding date.
    founder_first: no founding date, a founder role from 2018-10-01 (an employee's
        earlier role does not count).
    """
    orgs = pd.DataFrame(
        {
            "org_id": ["corrected", "undated", "unborn", "plain", "founder_first"],
            "name": ["C", "U", "N", "P", "F"],
            "founded_on": _dates(["2020-03-01", None, "2021-01-01", "2017-02-01", None]),
            "closed_on": _dates([None] * 5),
            "country": ["FR"] * 5,
            "sector": ["ai"] * 5,
            "region": ["Bretagne"] * 5,
        }
    )
    rounds = pd.DataFrame(
        {
            "round_id": ["r1", "r2", "r3"],
            "org_id": ["corrected", "plain", "unborn"],
            "announced_on": _dates(["2019-01-01", "2017-06-01", "2021-02-01"]),
            "round_type": ["seed", "seed", "seed"],
            "amount_eur": [5e5, 5e5, 5e5],
        }
    )
    programs = pd.DataFrame(
        {
            "org_id": ["undated"],
            "program_id": ["p"],
            "program_kind": ["incubator"],
            "started_on": _dates(["2018-05-01"]),
            "ended_on": _dates([None]),
        }
    )
    roles = pd.DataFrame(
        {
            "person_id": ["a", "b"],
            "org_id": ["founder_first", "founder_first"],
            "role": ["employee", "founder"],
            "started_on": _dates(["2016-01-01", "2018-10-01"]),
            "ended_on": _dates([None, None]),
        }
    )
    return {
        "organizations": orgs,
        "funding_rounds": rounds,
        "programs": programs,
        "roles": roles,
    }


def ages(tables: dict[str, pd.DataFrame], when: pd.Timestamp, fallback: bool = True) -> dict:
    built = build_feature_tables(tables, SNAPSHOT, PromiseRules(age_fallback=fallback))
    ids = tables["organizations"]["org_id"]
    frame = asof_join_frames(pd.DataFrame({"org_id": ids, "as_of": when}), built)
    return dict(zip(frame["org_id"], frame["company_age_days"], strict=True))


def statuses(tables: dict[str, pd.DataFrame], when: pd.Timestamp, fallback: bool = True) -> dict:
    frame = candidate_status(tables, when, PromiseRules(age_fallback=fallback))
    return {
        o: (str(s), bool(f))
        for o, s, f in zip(frame["org_id"], frame["status"], frame["age_fallback"], strict=True)
    }


def test_first_event_is_the_earliest_dated_record_of_the_company() -> None:
    first = first_event_on(hand_made())
    assert first["corrected"] == D("2019-01-01")
    assert first["undated"] == D("2018-05-01")
    assert first["founder_first"] == D("2018-10-01")  # the employee's 2016 start is not it
    assert first["unborn"] == D("2021-02-01")


def test_candidates_and_features_follow_one_rule_at_t() -> None:
    tables = hand_made()
    assert statuses(tables, T) == {
        "corrected": ("candidate", True),
        "undated": ("candidate", True),
        "unborn": ("not_yet_founded", False),
        "plain": ("candidate", False),
        "founder_first": ("candidate", True),
    }
    got = ages(tables, T)
    assert got["corrected"] == (T - D("2019-01-01")).days
    assert got["undated"] == (T - D("2018-05-01")).days
    assert np.isnan(got["unborn"])
    assert got["plain"] == (T - D("2017-02-01")).days
    assert got["founder_first"] == (T - D("2018-10-01")).days


def test_a_founding_date_once_reached_replaces_the_fallback() -> None:
    tables = hand_made()
    assert statuses(tables, LATER)["corrected"] == ("candidate", False)
    assert ages(tables, LATER)["corrected"] == (LATER - D("2020-03-01")).days


def test_the_fallback_can_be_turned_off_for_both() -> None:
    tables = hand_made()
    off = statuses(tables, T, fallback=False)
    assert off["corrected"] == ("age_unknown", False)  # founding date unknown at T
    assert off["undated"] == ("age_unknown", False)
    assert off["plain"] == ("candidate", False)
    got = ages(tables, T, fallback=False)
    assert np.isnan(got["corrected"]) and np.isnan(got["undated"])
    assert got["plain"] == (T - D("2017-02-01")).days


def test_age_window_counts_from_the_fallback() -> None:
    tables = hand_made()
    # undated's programme began on 2018-05-01: five years on, it is too old.
    assert statuses(tables, D("2023-04-30"))["undated"] == ("candidate", True)
    assert statuses(tables, D("2023-05-01"))["undated"] == ("too_old", True)


def test_anchor_changes_give_the_anchor_at_every_day() -> None:
    rng = np.random.default_rng(0)
    n = 400
    base = np.datetime64("2015-01-01", "ns")

    def some(share_missing: float) -> np.ndarray:
        values = base + rng.integers(0, 2000, n).astype("timedelta64[D]")
        values[rng.random(n) < share_missing] = np.datetime64("NaT")
        return values.astype("datetime64[ns]")

    founded, first = some(0.3), some(0.2)
    ids = np.array([f"o{i}" for i in range(n)], dtype=object)
    for fallback in (True, False):
        changes = age_anchor_changes(ids, founded, first, fallback).sort_values("day")
        for t in pd.date_range("2014-12-01", "2020-06-01", periods=9):
            expected, _ = age_anchor(founded, first, np.datetime64(t, "ns"), fallback)
            probe = pd.DataFrame({"org_id": ids, "day": t}).astype({"day": "datetime64[ns]"})
            got = pd.merge_asof(probe, changes, on="day", by="org_id")["age_anchor_day"]
            np.testing.assert_array_equal(got.to_numpy(dtype="datetime64[ns]"), expected)


@pytest.mark.parametrize("fallback", [True, False])
def test_candidate_ages_equal_the_feature_on_a_messy_random_world(fallback: bool) -> None:
    """The candidate filter and the feature read one anchor: their ages agree everywhere."""
    world = messy_founding_dates(random_world(80, 31), seed=31)
    rules = PromiseRules(age_fallback=fallback, max_age_years=50, require_visibility=False)
    founded = pd.to_datetime(world["organizations"]["founded_on"]).to_numpy("datetime64[ns]")
    first = first_event_on(world).to_numpy("datetime64[ns]")
    built = build_feature_tables(world, SNAPSHOT, PromiseRules(age_fallback=fallback))
    ids = world["organizations"]["org_id"]
    used_fallback = 0
    for t in pd.date_range("2012-06-30", "2025-06-30", freq="18MS"):
        anchor, from_fallback = age_anchor(founded, first, np.datetime64(t, "ns"), fallback)
        expected = (np.datetime64(t, "ns") - anchor) / np.timedelta64(1, "D")
        feature = asof_join_frames(pd.DataFrame({"org_id": ids, "as_of": t}), built)
        np.testing.assert_array_equal(feature["company_age_days"].to_numpy(), expected)
        status = candidate_status(world, t, rules)
        np.testing.assert_array_equal(status["age_fallback"].to_numpy(), from_fallback)
        assert (
            not status.loc[status["status"] == "candidate", "org_id"]
            .isin(ids[np.isnan(expected)])
            .any()
        ), "a company of unknown age is never a candidate"
        used_fallback += int(from_fallback.sum())
    assert (used_fallback > 0) == fallback
