"""A tiny hand-made world whose features were computed by hand at a few dates.

Org A: founded 2018-01-10; rounds seed €1M (2019-03-01), series A €5M and a grant of
unknown amount (both 2020-06-15); founders pA1 (from founding; previously founded C,
acquired 2021-06-30) and pA2 (2019-06-01 to 2021-01-01), executive pA3 (2020-01-01).
Org B: founding date unknown, first seen 2019-01-01, one undated founder, pre-seed 2021.
Org C: founded 2015-05-05 by pA1, no rounds, acquired 2021-06-30, closed 2021-12-31.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from talentmap.features.asof_reference import asof_join_frames
from talentmap.features.build import build_feature_tables

D = pd.Timestamp
NaT = pd.NaT
T1, T2, T3 = D("2019-12-31"), D("2020-06-30"), D("2021-07-01")


def days(a: pd.Timestamp, b: str) -> float:
    return float((a - D(b)).days)


def world() -> dict[str, pd.DataFrame]:
    orgs = pd.DataFrame(
        {
            "org_id": ["A", "B", "C"],
            "name": ["Alpha", "Beta", "Gamma"],
            "founded_on": [D("2018-01-10"), NaT, D("2015-05-05")],
            "closed_on": [NaT, NaT, D("2021-12-31")],
            "first_seen_on": [NaT, D("2019-01-01"), NaT],
            "country": ["FR", "FR", "FR"],
            "region": ["Île-de-France", "Bretagne", None],
            "city": [None, None, None],
            "sector": ["ai", "health", None],
        }
    )
    rounds = pd.DataFrame(
        {
            "round_id": ["r1", "r2", "r3", "r4"],
            "org_id": ["A", "A", "A", "B"],
            "announced_on": [D("2019-03-01"), D("2020-06-15"), D("2020-06-15"), D("2021-01-01")],
            "round_type": ["seed", "series_a", "grant", "pre_seed"],
            "amount_eur": [1e6, 5e6, np.nan, 2e5],
            "n_investors": pd.array([2, 2, None, 1], dtype="Int64"),
        }
    )
    investments = pd.DataFrame(
        {
            "round_id": ["r1", "r1", "r2", "r2"],
            "investor_id": ["i1", "i2", "i1", "i3"],
            "investor_name": None,
            "investor_kind": ["vc", "angel", "vc", "vc"],
            "is_lead": pd.array([True, False, False, True], dtype="boolean"),
        }
    )
    people = pd.DataFrame(
        {
            "person_id": ["pA1", "pA2", "pA3", "pB1"],
            "full_name": ["a", "b", "c", "d"],
            "gender": ["F", "M", "F", "X"],
            "birth_year": pd.array([1980, 1990, None, 1985], dtype="Int64"),
        }
    )
    roles = pd.DataFrame(
        {
            "person_id": ["pA1", "pA2", "pA3", "pB1", "pA1"],
            "org_id": ["A", "A", "A", "B", "C"],
            "role": ["founder", "founder", "executive", "founder", "founder"],
            "title": None,
            "started_on": [D("2018-01-10"), D("2019-06-01"), D("2020-01-01"), NaT, D("2015-05-05")],
            "ended_on": [NaT, D("2021-01-01"), NaT, NaT, NaT],
        }
    )
    education = pd.DataFrame(
        {
            "person_id": ["pA1", "pA2", "pA2"],
            "institution": ["Université Paris-Saclay", "École polytechnique", "INSEAD"],
            "degree": ["phd", "engineer", "mba"],
            "graduated_on": [D("2016-09-01"), D("2019-09-01"), NaT],
        }
    )
    programs = pd.DataFrame(
        {
            "org_id": ["A", "A"],
            "program_id": ["incub", "accel"],
            "program_name": None,
            "program_kind": ["incubator", "accelerator"],
            "started_on": [D("2018-02-01"), D("2020-09-01")],
            "ended_on": [D("2019-02-01"), NaT],
        }
    )
    publications = pd.DataFrame(
        {
            "pub_id": ["u1", "u2", "u3", "u4"],
            "person_id": [None, "pA2", "pA2", "pA1"],
            "org_id": ["A", None, None, None],
            "published_on": [D("2019-02-01"), D("2017-01-01"), D("2021-03-01"), D("2017-05-01")],
            "kind": ["paper", "patent", "paper", "software"],
            "venue": None,
        }
    )
    headcount = pd.DataFrame(
        {
            "org_id": ["A", "A", "A"],
            "observed_on": [D("2019-01-01"), D("2020-01-01"), D("2020-07-01")],
            "headcount": pd.array([5, 12, 20], dtype="Int64"),
        }
    )
    postings = pd.DataFrame(
        {
            "org_id": ["A", "A", "A"],
            "posted_on": [D("2020-01-10"), D("2020-02-10"), D("2020-05-01")],
            "category": None,
        }
    )
    exits = pd.DataFrame(
        {
            "org_id": ["C"],
            "exit_kind": ["acquired"],
            "exited_on": [D("2021-06-30")],
            "amount_eur": [np.nan],
        }
    )
    return {
        "organizations": orgs,
        "funding_rounds": rounds,
        "investments": investments,
        "people": people,
        "roles": roles,
        "education": education,
        "programs": programs,
        "publications": publications,
        "headcount": headcount,
        "job_postings": postings,
        "exits": exits,
    }


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    tables = build_feature_tables(world(), date(2025, 12, 31))
    entity = pd.DataFrame(
        {
            "org_id": ["A", "A", "A", "B", "B", "C", "A"],
            "as_of": [T1, T2, T3, T1, D("2018-06-01"), T3, D("2017-01-01")],
        }
    )
    return asof_join_frames(entity, tables)


def row(features: pd.DataFrame, org: str, t: pd.Timestamp) -> pd.Series:
    hit = features[(features["org_id"] == org) & (features["as_of"] == D(t, tz="UTC"))]
    assert len(hit) == 1
    return hit.iloc[0]


def check(actual: pd.Series, expected: dict[str, float | str | None]) -> None:
    for column, value in expected.items():
        got = actual[column]
        if value is None or (isinstance(value, float) and np.isnan(value)):
            assert got is None or pd.isna(got), f"{column}: expected missing, got {got}"
        else:
            assert got == value, f"{column}: expected {value}, got {got}"


def test_org_a_at_end_of_2019(features: pd.DataFrame) -> None:
    check(
        row(features, "A", T1),
        {
            "sector": "ai",
            "region": "Île-de-France",
            "country": "FR",
            "company_age_days": days(T1, "2018-01-10"),
            "n_rounds": 1.0,
            "n_rounds_seed": 1.0,
            "n_rounds_series_a": 0.0,
            "amount_total_eur": 1e6,
            "amount_max_eur": 1e6,
            "amount_last_eur": 1e6,
            "stage_ordinal": 2.0,
            "round_gap_days": np.nan,
            "days_since_last_round": days(T1, "2019-03-01"),
            "days_since_first_round": days(T1, "2019-03-01"),
            "n_distinct_investors": 2.0,
            "n_distinct_vc_investors": 1.0,
            "n_rounds_with_vc": 1.0,
            "n_rounds_with_lead": 1.0,
            "n_founders": 2.0,
            "n_founders_total": 2.0,
            "n_executives": 0.0,
            "headcount_latest": 5.0,
            "headcount_12m_ago": np.nan,
            "headcount_growth_12m": np.nan,
            # 5 people 356 days after founding with 1 founder in post: 5x in 0.975 years.
            "headcount_growth_per_year": pytest.approx(5 ** (365.25 / 356) - 1),
            "job_postings_total": 0.0,
            "job_postings_90d": 0.0,
            "job_postings_365d": 0.0,
            "n_programs": 1.0,
            "n_programs_incubator": 1.0,
            "n_programs_active": 0.0,
            "days_since_last_program_start": days(T1, "2018-02-01"),
            "org_n_papers": 1.0,
            "org_n_patents": 0.0,
            "org_n_software": 0.0,
            # pA2's 2017 patent is credited when pA2 joins (2019-06-01); pA1's 2017
            # software when pA1 founds A (2018-01-10).
            "founders_n_papers": 0.0,
            "founders_n_patents": 1.0,
            "founders_n_software": 1.0,
            "n_founders_phd": 1.0,
            "n_founders_engineer": 1.0,
            "n_founders_mba": 1.0,
            "n_founders_grande_ecole": 1.0,
            "n_founders_prior_venture": 1.0,
            "n_prior_ventures": 1.0,
            "n_founders_prior_exit": 0.0,
            "n_prior_exits": 0.0,
        },
    )


def test_org_a_mid_2020(features: pd.DataFrame) -> None:
    check(
        row(features, "A", T2),
        {
            "n_rounds": 3.0,
            "n_rounds_seed": 1.0,
            "n_rounds_series_a": 1.0,
            "n_rounds_grant": 1.0,
            "amount_total_eur": 6e6,
            "amount_max_eur": 5e6,
            "amount_last_eur": 5e6,  # the grant's amount is unknown: the day's known sum
            "stage_ordinal": 3.0,
            "round_gap_days": days(D("2020-06-15"), "2019-03-01"),
            "days_since_last_round": days(T2, "2020-06-15"),
            "days_since_first_round": days(T2, "2019-03-01"),
            "n_distinct_investors": 3.0,
            "n_distinct_vc_investors": 2.0,
            "n_rounds_with_vc": 2.0,
            "n_rounds_with_lead": 2.0,
            "n_founders": 2.0,
            "n_executives": 1.0,
            "headcount_latest": 12.0,
            "headcount_12m_ago": 5.0,
            "headcount_growth_12m": 12 / 5 - 1,
            # 12 people after 721 days, 2 founders by then.
            "headcount_growth_per_year": pytest.approx((12 / 2) ** (365.25 / 721) - 1),
            "job_postings_total": 3.0,
            "job_postings_90d": 1.0,
            "job_postings_365d": 3.0,
            "n_programs": 1.0,
            "n_programs_accelerator": 0.0,
        },
    )


def test_org_a_mid_2021(features: pd.DataFrame) -> None:
    check(
        row(features, "A", T3),
        {
            "n_founders": 1.0,
            "n_founders_total": 2.0,
            "n_executives": 1.0,
            # The only observation a year back is also the latest: growth is unknown.
            "headcount_latest": 20.0,
            "headcount_12m_ago": 20.0,
            "headcount_growth_12m": np.nan,
            # Observed 2020-07-01 (903 days); the founder who left later still counts.
            "headcount_growth_per_year": pytest.approx((20 / 2) ** (365.25 / 903) - 1),
            "job_postings_total": 3.0,
            "job_postings_90d": 0.0,
            "job_postings_365d": 0.0,
            "n_programs": 2.0,
            "n_programs_incubator": 1.0,
            "n_programs_accelerator": 1.0,
            "n_programs_active": 1.0,
            "days_since_last_program_start": days(T3, "2020-09-01"),
            "days_since_first_program": days(T3, "2018-02-01"),
            # pA2's 2021 paper came after pA2 left: not credited.
            "founders_n_papers": 0.0,
            "n_founders_prior_exit": 1.0,
            "n_prior_exits": 1.0,
        },
    )


def test_org_b_undated_founder_and_unknown_founding(features: pd.DataFrame) -> None:
    check(
        row(features, "B", T1),
        {
            "sector": "health",
            "company_age_days": np.nan,
            "n_rounds": 0.0,
            "amount_total_eur": 0.0,
            "amount_max_eur": np.nan,
            "stage_ordinal": 0.0,
            "days_since_last_round": np.nan,
            "n_founders": 1.0,  # undated founder starts when B first appears (2019-01-01)
            "headcount_latest": np.nan,
            "job_postings_total": 0.0,
            "n_programs": 0.0,
            "days_since_last_program_start": np.nan,
        },
    )
    before = row(features, "B", D("2018-06-01"))
    assert before.drop(["org_id", "as_of"]).isna().all(), "B is unknown before it appears"


def test_org_c_and_before_founding(features: pd.DataFrame) -> None:
    check(
        row(features, "C", T3),
        {
            "company_age_days": days(T3, "2015-05-05"),
            "n_rounds": 0.0,
            "founders_n_software": 1.0,
            "n_prior_ventures": 0.0,
            "n_founders_phd": 1.0,
        },
    )
    assert row(features, "A", D("2017-01-01")).drop(["org_id", "as_of"]).isna().all()


def test_closure_is_dated() -> None:
    profile = build_feature_tables(world(), date(2025, 12, 31))["profile"]
    c = profile[profile["org_id"] == "C"].set_index("event_timestamp")["is_closed"]
    assert c.loc[D("2021-06-30", tz="UTC") : D("2021-12-30", tz="UTC")].eq(0.0).all()
    assert c.loc[D("2021-12-31", tz="UTC")] == 1.0


@pytest.mark.parametrize(
    ("listed", "ventures", "exits"),
    [
        # C listed before A's founding: as above.
        ("2015-06-01", (1.0, 1.0, 1.0), (0.0, 0.0, 1.0)),
        # C listed in 2020 with its history back-filled: before that day no record of it
        # existed, so pA1's earlier venture cannot be credited to A.
        ("2020-01-01", (0.0, 1.0, 1.0), (0.0, 0.0, 1.0)),
        # Listed after its exit: neither the venture nor the exit is known at T3.
        ("2022-01-01", (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
    ],
)
def test_a_prior_venture_counts_from_its_first_sighting(
    listed: str, ventures: tuple[float, ...], exits: tuple[float, ...]
) -> None:
    tables = world()
    orgs = tables["organizations"]
    orgs.loc[orgs["org_id"] == "C", "first_seen_on"] = D(listed)
    features = asof_join_frames(
        pd.DataFrame({"org_id": "A", "as_of": [T1, T2, T3]}),
        build_feature_tables(tables, date(2025, 12, 31)),
    )
    assert tuple(features["n_prior_ventures"]) == ventures
    assert tuple(features["n_founders_prior_venture"]) == ventures
    assert tuple(features["n_prior_exits"]) == exits
    assert tuple(features["n_founders_prior_exit"]) == exits
