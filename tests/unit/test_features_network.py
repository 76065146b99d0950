"""Network signals (issue 9): co-investors, founders' networks and programme cohorts, on
hand-made worlds whose values were computed by hand, and their point-in-time behaviour:
a milestone or a listing after d never changes the value at d, and does after.

Milestones are the training rules' defaults (series A and later, rounds of at least €5M,
exits). A successful investor has at least 3 portfolio companies and a record of at least
0.25 (``family_network.SUCCESS_MIN_COMPANIES``, ``SUCCESS_RECORD``).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from talentmap.features import family_network
from talentmap.features.asof_reference import asof_join_frames
from talentmap.features.build import build_feature_tables
from talentmap.features.pit_check import truncate_after

D = pd.Timestamp
NaT = pd.NaT
SNAPSHOT = date(2025, 12, 31)


def orgs(founded: dict[str, str], first_seen: dict[str, str] | None = None) -> pd.DataFrame:
    seen = first_seen or {}
    ids = list(founded)
    return pd.DataFrame(
        {
            "org_id": ids,
            "name": ids,
            "founded_on": [D(founded[o]) for o in ids],
            "first_seen_on": pd.Series([D(seen[o]) if o in seen else NaT for o in ids]).astype(
                "datetime64[ns]"
            ),
            "country": ["FR"] * len(ids),
            "region": ["Occitanie"] * len(ids),
            "sector": ["ai"] * len(ids),
        }
    )


def rounds(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """(round_id, org_id, day, type) rows, €1M each (below the large-round amount)."""
    return pd.DataFrame(
        {
            "round_id": [r[0] for r in rows],
            "org_id": [r[1] for r in rows],
            "announced_on": [D(r[2]) for r in rows],
            "round_type": [r[3] for r in rows],
            "amount_eur": [1e6] * len(rows),
        }
    )


def values(world: dict[str, pd.DataFrame], org: str, days: list[str]) -> pd.DataFrame:
    tables = build_feature_tables(world, SNAPSHOT)
    entity = pd.DataFrame({"org_id": [org] * len(days), "as_of": [D(t) for t in days]})
    out = asof_join_frames(entity, tables)
    out.index = days
    return out


def check(frame: pd.DataFrame, day: str, expected: dict[str, float]) -> None:
    row = frame.loc[day]
    for column, value in expected.items():
        got = row[column]
        if np.isnan(value):
            assert pd.isna(got), f"{day} {column}: expected missing, got {got}"
        else:
            assert got == pytest.approx(value, rel=1e-12), f"{day} {column}: {got} != {value}"


def test_success_thresholds_are_the_documented_ones() -> None:
    assert family_network.SUCCESS_MIN_COMPANIES == 3
    assert family_network.SUCCESS_RECORD == 0.25


# ----------------------------------------------------------------------- coinvestors
#
# G backs A1, A2 and A3 in 2015; H co-invests with G in A3's seed. C raises a seed on
# 2016-01-15 from H and K. A1 reaches its series A on 2016-05-10: G's record becomes 1/3,
# G is successful, so H (one of C's investors) co-invested with a successful investor.

COINVEST = ["coinvestors_track_record_max", "n_investors_coinvested_successful"]


def coinvest_world(a1_seen: str | None = None) -> dict[str, pd.DataFrame]:
    founded = {"A1": "2014-06-01", "A2": "2014-06-01", "A3": "2014-06-01", "C": "2015-06-01"}
    return {
        "organizations": orgs(founded, {"A1": a1_seen} if a1_seen else None),
        "funding_rounds": rounds(
            [
                ("a1", "A1", "2015-01-10", "seed"),
                ("a2", "A2", "2015-02-10", "seed"),
                ("a3", "A3", "2015-03-10", "seed"),
                ("a1b", "A1", "2016-05-10", "series_a"),
                ("c1", "C", "2016-01-15", "seed"),
            ]
        ),
        "investments": pd.DataFrame(
            {
                "round_id": ["a1", "a2", "a3", "a3", "c1", "c1"],
                "investor_id": ["G", "G", "G", "H", "H", "K"],
            }
        ),
    }


def test_coinvestors_by_hand() -> None:
    days = ["2015-12-31", "2016-01-15", "2016-01-31", "2016-05-20", "2016-05-31", "2020-12-31"]
    got = values(coinvest_world(), "C", days)
    # Before its first round: no investor yet (0), no co-investor record (NaN).
    check(got, "2015-12-31", {COINVEST[0]: np.nan, COINVEST[1]: 0.0})
    # On its round day, H's network as of 2015-12-31: G (3 companies, none yet): 0.
    # K's co-investment with H is only in the network from the month end.
    check(got, "2016-01-15", {COINVEST[0]: 0.0, COINVEST[1]: 0.0})
    check(got, "2016-01-31", {COINVEST[0]: 0.0, COINVEST[1]: 0.0})
    # A1's series A on 2016-05-10 is in the network from the month end, never before.
    check(got, "2016-05-20", {COINVEST[0]: 0.0, COINVEST[1]: 0.0})
    # G: 1 of 3 -> successful; H co-invested with G. K's only co-investor H has 2 companies.
    check(got, "2016-05-31", {COINVEST[0]: 1 / 3, COINVEST[1]: 1.0})
    check(got, "2020-12-31", {COINVEST[0]: 1 / 3, COINVEST[1]: 1.0})


def test_coinvestors_count_a_company_from_its_listing() -> None:
    # A1 first listed on 2016-08-15, its history back-filled: until then G has 2 known
    # companies, too few to judge by, then 1 of 3.
    got = values(coinvest_world(a1_seen="2016-08-15"), "C", ["2016-05-31", "2016-08-31"])
    check(got, "2016-05-31", {COINVEST[0]: np.nan, COINVEST[1]: 0.0})
    check(got, "2016-08-31", {COINVEST[0]: 1 / 3, COINVEST[1]: 1.0})


def test_coinvestors_future_milestone_changes_nothing_before() -> None:
    world = coinvest_world()
    days = ["2016-04-30", "2016-05-09", "2016-05-31"]
    full = values(world, "C", days)
    cut = values(truncate_after(world, date(2016, 5, 9)), "C", days)
    pd.testing.assert_frame_equal(cut.loc[days[:2], COINVEST], full.loc[days[:2], COINVEST])
    # ... and does change the value once it is dated on or before d.
    check(cut, "2016-05-31", {COINVEST[0]: 0.0, COINVEST[1]: 0.0})
    check(full, "2016-05-31", {COINVEST[0]: 1 / 3, COINVEST[1]: 1.0})


# ------------------------------------------------------------------- founder_network
#
# f1 and q founded O in 2012 (series A 2013-06-01); q then founded X in 2014 (series A
# 2017-03-10). f2 founded P in 2013 (series A 2018-02-01). C: f1 from 2016-01-01, f2 from
# 2016-06-01. C's network: O (f1's earlier company), X (co-founder q's other company), P
# (f2's earlier company).

NETWORK = ["n_founders_prior_milestone", "founders_network_size", "founders_network_milestone_rate"]


def network_world(x_seen: str | None = None) -> dict[str, pd.DataFrame]:
    founded = {"O": "2012-01-01", "X": "2014-03-01", "P": "2013-01-01", "C": "2016-01-01"}
    roles = [
        ("f1", "O", "2012-01-01"),
        ("q", "O", "2012-01-01"),
        ("q", "X", "2014-03-01"),
        ("f2", "P", "2013-01-01"),
        ("f1", "C", "2016-01-01"),
        ("f2", "C", "2016-06-01"),
        ("e", "C", "2016-01-01"),  # an executive, not a founder
    ]
    return {
        "organizations": orgs(founded, {"X": x_seen} if x_seen else None),
        "funding_rounds": rounds(
            [
                ("o1", "O", "2013-06-01", "series_a"),
                ("x1", "X", "2017-03-10", "series_a"),
                ("p1", "P", "2018-02-01", "series_a"),
            ]
        ),
        "roles": pd.DataFrame(
            {
                "person_id": [r[0] for r in roles],
                "org_id": [r[1] for r in roles],
                "role": ["founder"] * 6 + ["executive"],
                "started_on": [D(r[2]) for r in roles],
                "ended_on": pd.Series([NaT] * len(roles)).astype("datetime64[ns]"),
            }
        ),
    }


def test_founder_network_by_hand() -> None:
    days = ["2015-12-31", "2016-01-01", "2016-06-01", "2017-03-09", "2017-03-10", "2018-02-01"]
    got = values(network_world(), "C", days)
    # Nothing is known before C's first day.
    check(got, "2015-12-31", dict.fromkeys(NETWORK, np.nan))
    # f1's O (milestone in 2013) and q's X (none yet): 1 founder, 1 of 2.
    check(got, "2016-01-01", {NETWORK[0]: 1.0, NETWORK[1]: 2.0, NETWORK[2]: 0.5})
    # f2 joins with P (no milestone yet): 1 of 3.
    check(got, "2016-06-01", {NETWORK[0]: 1.0, NETWORK[1]: 3.0, NETWORK[2]: 1 / 3})
    check(got, "2017-03-09", {NETWORK[0]: 1.0, NETWORK[1]: 3.0, NETWORK[2]: 1 / 3})
    # X's series A: a co-founder's company, not a founder's own earlier one.
    check(got, "2017-03-10", {NETWORK[0]: 1.0, NETWORK[1]: 3.0, NETWORK[2]: 2 / 3})
    # P's series A: f2's earlier company.
    check(got, "2018-02-01", {NETWORK[0]: 2.0, NETWORK[1]: 3.0, NETWORK[2]: 1.0})


def test_founder_network_counts_a_company_from_its_listing() -> None:
    got = values(network_world(x_seen="2016-09-15"), "C", ["2016-06-30", "2016-09-15"])
    check(got, "2016-06-30", {NETWORK[1]: 2.0, NETWORK[2]: 0.5})
    check(got, "2016-09-15", {NETWORK[1]: 3.0, NETWORK[2]: 1 / 3})


def test_founder_network_future_milestone_changes_nothing_before() -> None:
    world = network_world()
    days = ["2016-12-31", "2017-03-09", "2017-03-31"]
    full = values(world, "C", days)
    cut = values(truncate_after(world, date(2017, 3, 9)), "C", days)
    pd.testing.assert_frame_equal(cut.loc[days[:2], NETWORK], full.loc[days[:2], NETWORK])
    check(cut, "2017-03-31", {NETWORK[2]: 1 / 3})
    check(full, "2017-03-31", {NETWORK[2]: 2 / 3})


def test_founder_network_without_roles_is_missing() -> None:
    world = {k: v for k, v in network_world().items() if k != "roles"}
    got = values(world, "O", ["2020-12-31"])
    check(got, "2020-12-31", dict.fromkeys(NETWORK, np.nan))


# -------------------------------------------------------------------- program_cohort
#
# Cohort acc|2018: A (2018-02-01, series A 2018-06-10), B (2018-03-01, series A
# 2019-04-10), C (2018-09-01), D (2018-10-05, listed 2019-01-20; series A 2018-12-01).
# Cohort inc|2017: C (2017-05-01) and F (2017-06-01; series A 2020-01-15).
# E is in acc|2019 with a milestone: not C's cohort.

COHORT = ["cohort_alumni_n_milestone", "cohort_alumni_milestone_rate"]


def cohort_world(d_seen: str = "2019-01-20") -> dict[str, pd.DataFrame]:
    founded = dict.fromkeys(["A", "B", "C", "D", "E", "F"], "2017-01-01")
    members = [
        ("A", "acc", "2018-02-01"),
        ("B", "acc", "2018-03-01"),
        ("C", "acc", "2018-09-01"),
        ("D", "acc", "2018-10-05"),
        ("E", "acc", "2019-02-01"),
        ("C", "inc", "2017-05-01"),
        ("F", "inc", "2017-06-01"),
    ]
    return {
        "organizations": orgs(founded, {"D": d_seen}),
        "funding_rounds": rounds(
            [
                ("a", "A", "2018-06-10", "series_a"),
                ("b", "B", "2019-04-10", "series_a"),
                ("d", "D", "2018-12-01", "series_a"),
                ("e", "E", "2018-01-01", "series_a"),
                ("f", "F", "2020-01-15", "series_a"),
            ]
        ),
        "programs": pd.DataFrame(
            {
                "org_id": [m[0] for m in members],
                "program_id": [m[1] for m in members],
                "program_kind": ["accelerator"] * 5 + ["incubator"] * 2,
                "started_on": [D(m[2]) for m in members],
            }
        ),
    }


def test_program_cohort_by_hand() -> None:
    days = [
        "2017-03-31",
        "2017-05-01",
        "2017-06-30",
        "2018-09-01",
        "2018-10-31",
        "2018-12-31",
        "2019-01-31",
        "2019-04-20",
        "2019-04-30",
        "2020-01-31",
    ]
    got = values(cohort_world(), "C", days)
    check(got, "2017-03-31", {COHORT[0]: 0.0, COHORT[1]: np.nan})
    # Its own membership day: F has not joined inc|2017 yet.
    check(got, "2017-05-01", {COHORT[0]: 0.0, COHORT[1]: np.nan})
    check(got, "2017-06-30", {COHORT[0]: 0.0, COHORT[1]: 0.0})
    # acc|2018: A (milestone), B; inc|2017: F. 1 of 3.
    check(got, "2018-09-01", {COHORT[0]: 1.0, COHORT[1]: 1 / 3})
    # D joined on 2018-10-05 and raised its series A on 2018-12-01, but is listed only on
    # 2019-01-20: not counted before.
    check(got, "2018-10-31", {COHORT[0]: 1.0, COHORT[1]: 1 / 3})
    check(got, "2018-12-31", {COHORT[0]: 1.0, COHORT[1]: 1 / 3})
    check(got, "2019-01-31", {COHORT[0]: 2.0, COHORT[1]: 0.5})
    # B's series A (2019-04-10) is refreshed in at the month end, never before.
    check(got, "2019-04-20", {COHORT[0]: 2.0, COHORT[1]: 0.5})
    check(got, "2019-04-30", {COHORT[0]: 3.0, COHORT[1]: 0.75})
    check(got, "2020-01-31", {COHORT[0]: 4.0, COHORT[1]: 1.0})


def test_program_cohort_future_listing_and_milestone_change_nothing_before() -> None:
    world = cohort_world()
    days = ["2018-12-31", "2019-01-19", "2019-03-31", "2019-04-09", "2019-04-30"]
    full = values(world, "C", days)
    # Deleting everything after 2019-04-09 (B's milestone) leaves the earlier values.
    cut = values(truncate_after(world, date(2019, 4, 9)), "C", days)
    pd.testing.assert_frame_equal(cut.loc[days[:4], COHORT], full.loc[days[:4], COHORT])
    check(cut, "2019-04-30", {COHORT[0]: 2.0, COHORT[1]: 0.5})
    check(full, "2019-04-30", {COHORT[0]: 3.0, COHORT[1]: 0.75})
    # D never listed before 2019-01-19 is the same as D not listed at all by then.
    unlisted = values(cohort_world(d_seen="2025-06-30"), "C", days[:2])
    pd.testing.assert_frame_equal(unlisted[COHORT], full.loc[days[:2], COHORT])


def test_program_cohort_without_programs_is_missing() -> None:
    world = {k: v for k, v in cohort_world().items() if k != "programs"}
    got = values(world, "C", ["2020-12-31"])
    check(got, "2020-12-31", dict.fromkeys(COHORT, np.nan))
