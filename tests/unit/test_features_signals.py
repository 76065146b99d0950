"""The signals real exports carry (rounds, investors, exits), on a hand-made world whose
values were computed by hand: round momentum, amount relative to the type and year's
median so far, market heat, investors' track records and the founding cohort.

Organisations (country FR):
  P  ai, Occitanie, founded 2016-03-01: seed €1M 2018-01-10 (i1, i2), Series A €4M
     2019-07-10 (i1), Series B of unknown amount 2020-01-10.
  Q  ai, Occitanie, founded 2017-05-20: seed €2M and grant €100k on 2019-03-01 (seed: i1,
     i3), seed €3M 2020-09-01.
  R  ai, Bretagne, founded 2019-02-01: seed €500k 2019-05-01 (i2, i3); acquired 2020-03-15.
  S  health, Occitanie, founding date unknown, first seen 2018-01-01: seed €1.5M
     2019-06-01 (i1).
  U  ai, region unknown, founded 2020-07-15: seed €800k 2021-02-01 (i3).

Milestones (the training rules' defaults): P on 2019-07-10 (Series A), R on 2020-03-15
(acquired); Q, S and U have none.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from talentmap.features.asof_reference import asof_join_frames
from talentmap.features.build import build_feature_tables
from talentmap.settings.training import PromiseRules

D = pd.Timestamp
NaT = pd.NaT
SNAPSHOT = date(2025, 12, 31)
MONTH = 365.25 / 12


def world() -> dict[str, pd.DataFrame]:
    orgs = pd.DataFrame(
        {
            "org_id": ["P", "Q", "R", "S", "U"],
            "name": ["Pi", "Qu", "Ro", "Si", "Up"],
            "founded_on": [D("2016-03-01"), D("2017-05-20"), D("2019-02-01"), NaT, D("2020-07-15")],
            "first_seen_on": [NaT, NaT, NaT, D("2018-01-01"), NaT],
            "country": ["FR"] * 5,
            "region": ["Occitanie", "Occitanie", "Bretagne", "Occitanie", None],
            "sector": ["ai", "ai", "ai", "health", "ai"],
        }
    )
    rounds = pd.DataFrame(
        {
            "round_id": ["p1", "p2", "p3", "q1", "q2", "q3", "r1", "s1", "u1"],
            "org_id": ["P", "P", "P", "Q", "Q", "Q", "R", "S", "U"],
            "announced_on": [
                D("2018-01-10"),
                D("2019-07-10"),
                D("2020-01-10"),
                D("2019-03-01"),
                D("2019-03-01"),
                D("2020-09-01"),
                D("2019-05-01"),
                D("2019-06-01"),
                D("2021-02-01"),
            ],
            "round_type": [
                "seed",
                "series_a",
                "series_b",
                "seed",
                "grant",
                "seed",
                "seed",
                "seed",
                "seed",
            ],
            "amount_eur": [1e6, 4e6, np.nan, 2e6, 1e5, 3e6, 5e5, 1.5e6, 8e5],
        }
    )
    investments = pd.DataFrame(
        {
            "round_id": ["p1", "p1", "p2", "q1", "q1", "r1", "r1", "s1", "u1"],
            "investor_id": ["i1", "i2", "i1", "i1", "i3", "i2", "i3", "i1", "i3"],
        }
    )
    exits = pd.DataFrame(
        {"org_id": ["R"], "exit_kind": ["acquired"], "exited_on": [D("2020-03-15")]}
    )
    return {
        "organizations": orgs,
        "funding_rounds": rounds,
        "investments": investments,
        "exits": exits,
    }


QUERIES: list[tuple[str, str]] = [
    ("P", "2016-02-29"),
    ("P", "2016-03-01"),
    ("P", "2018-06-30"),
    ("P", "2019-01-09"),
    ("P", "2019-01-10"),
    ("P", "2019-12-31"),
    ("P", "2020-03-31"),
    ("P", "2020-06-30"),
    ("Q", "2019-04-15"),
    ("Q", "2019-05-15"),
    ("Q", "2019-12-31"),
    ("Q", "2020-03-20"),
    ("Q", "2020-03-31"),
    ("Q", "2020-12-31"),
    ("Q", "2021-06-30"),
    ("R", "2019-05-15"),
    ("R", "2019-05-31"),
    ("R", "2019-07-31"),
    ("R", "2019-12-31"),
    ("R", "2025-12-31"),
    ("R", "2026-01-01"),
    ("R", "2026-01-02"),
    ("S", "2017-06-01"),
    ("S", "2019-06-30"),
    ("S", "2019-12-31"),
    ("U", "2020-06-30"),
    ("U", "2020-07-15"),
    ("U", "2021-01-31"),
    ("U", "2021-02-28"),
]


def features_of(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    entity = pd.DataFrame({"org_id": [o for o, _ in QUERIES], "as_of": [D(t) for _, t in QUERIES]})
    return asof_join_frames(entity, tables)


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return features_of(build_feature_tables(world(), SNAPSHOT))


def at(features: pd.DataFrame, org: str, t: str) -> pd.Series:
    hit = features[(features["org_id"] == org) & (features["as_of"] == D(t, tz="UTC"))]
    assert len(hit) == 1
    return hit.iloc[0]


def check(actual: pd.Series, expected: dict[str, float | str | None]) -> None:
    for column, value in expected.items():
        got = actual[column]
        if value is None or (isinstance(value, float) and np.isnan(value)):
            assert got is None or pd.isna(got), f"{column}: expected missing, got {got}"
        elif isinstance(value, str):
            assert got == value, f"{column}: expected {value}, got {got}"
        else:
            assert got == pytest.approx(value, rel=1e-12), f"{column}: expected {value}, got {got}"


# ------------------------------------------------------------------------ momentum


def test_momentum_gaps_and_step_up(features: pd.DataFrame) -> None:
    check(
        at(features, "P", "2018-06-30"),
        {"round_gap_months_mean": np.nan, "amount_step_up": np.nan},
    )
    # 2018-01-10 -> 2019-07-10: 546 days; €1M -> €4M.
    check(
        at(features, "P", "2019-12-31"),
        {"round_gap_months_mean": 546 / MONTH, "amount_step_up": 4.0, "round_gap_days": 546.0},
    )
    # Three round days over 730 days; the last one's amount is unknown: no step-up.
    check(
        at(features, "P", "2020-06-30"),
        {"round_gap_months_mean": 730 / 2 / MONTH, "amount_step_up": np.nan},
    )
    # Two rounds on one day are one round day: its amount is their sum (€2.1M).
    check(
        at(features, "Q", "2019-12-31"),
        {"round_gap_months_mean": np.nan, "amount_step_up": np.nan},
    )
    check(
        at(features, "Q", "2020-12-31"),
        {"round_gap_months_mean": 550 / MONTH, "amount_step_up": 3e6 / 2.1e6},
    )


# ---------------------------------------------------- amount relative to type and year


def test_last_round_against_the_median_of_its_type_and_year_so_far(
    features: pd.DataFrame,
) -> None:
    # Q's 2019-03-01 day stands for its largest round, the €2M seed. Seed rounds of 2019
    # with a known amount: Q €2M (03-01), R €500k (05-01), S €1.5M (06-01). At each t the
    # median only holds those dated on or before t.
    check(at(features, "Q", "2019-04-15"), {"amount_last_vs_type_year_median": 1.0})
    check(at(features, "Q", "2019-05-15"), {"amount_last_vs_type_year_median": 2e6 / 1.25e6})
    check(at(features, "R", "2019-05-15"), {"amount_last_vs_type_year_median": 5e5 / 1.25e6})
    check(at(features, "Q", "2019-12-31"), {"amount_last_vs_type_year_median": 2e6 / 1.5e6})
    check(at(features, "R", "2019-12-31"), {"amount_last_vs_type_year_median": 5e5 / 1.5e6})
    # P's Series A is the only one of 2019; its Series B amount is unknown: missing.
    check(at(features, "P", "2019-12-31"), {"amount_last_vs_type_year_median": 1.0})
    check(at(features, "P", "2020-06-30"), {"amount_last_vs_type_year_median": np.nan})
    # Q's 2020 seed is the year's only seed so far.
    check(at(features, "Q", "2020-12-31"), {"amount_last_vs_type_year_median": 1.0})
    check(at(features, "U", "2021-01-31"), {"amount_last_vs_type_year_median": np.nan})


# ------------------------------------------------------------------------ market heat


def test_market_heat_counts_rounds_of_the_last_365_days(features: pd.DataFrame) -> None:
    # ai|FR|Occitanie: 2018-01-10, 2019-03-01 (two), 2019-07-10, 2020-01-10, 2020-09-01.
    check(at(features, "P", "2019-01-09"), {"market_rounds_12m": 1.0, "sector_rounds_12m": 1.0})
    # The 2018-01-10 round leaves the window (t - 365 days, t] on 2019-01-10.
    check(at(features, "P", "2019-01-10"), {"market_rounds_12m": 0.0, "sector_rounds_12m": 0.0})
    # ai|FR adds R (2019-05-01) to the Occitanie rounds; S is in health.
    check(at(features, "P", "2019-12-31"), {"market_rounds_12m": 3.0, "sector_rounds_12m": 4.0})
    check(at(features, "Q", "2019-12-31"), {"market_rounds_12m": 3.0, "sector_rounds_12m": 4.0})
    check(at(features, "R", "2019-12-31"), {"market_rounds_12m": 1.0, "sector_rounds_12m": 4.0})
    check(at(features, "S", "2019-12-31"), {"market_rounds_12m": 1.0, "sector_rounds_12m": 1.0})
    check(at(features, "P", "2020-06-30"), {"market_rounds_12m": 2.0, "sector_rounds_12m": 2.0})
    # U's region is unknown: no regional cell, but the sector still counts (U's own round).
    check(at(features, "U", "2021-02-28"), {"market_rounds_12m": np.nan, "sector_rounds_12m": 2.0})


def test_a_quiet_market_is_a_zero_until_the_data_ends_then_expires(
    features: pd.DataFrame,
) -> None:
    # Bretagne's only round left the window in 2020: a true zero up to the snapshot...
    check(at(features, "R", "2025-12-31"), {"market_rounds_12m": 0.0})
    check(at(features, "R", "2026-01-01"), {"market_rounds_12m": 0.0})
    # ...but a month after the data ends (the last row is 2025-12-01), no longer known.
    check(at(features, "R", "2026-01-02"), {"market_rounds_12m": np.nan})
    # Round pools expire alike; the company's own rows (its last amount) do not.
    check(at(features, "R", "2026-01-02"), {"amount_last_vs_type_year_median": np.nan})


def test_market_rows_are_per_cell_not_per_company() -> None:
    tables = build_feature_tables(world(), SNAPSHOT)
    market = tables["market"]
    assert set(market["market_cell"]) == {
        "ai|FR|Occitanie",
        "ai|FR|Bretagne",
        "health|FR|Occitanie",
    }
    assert "org_id" not in market.columns
    links = tables["links"].set_index(["org_id", "event_timestamp"])
    assert links.loc[("U", D("2020-07-15", tz="UTC")), "market_cell"] is None
    assert links.loc[("U", D("2021-02-01", tz="UTC")), "round_pool"] == "seed|2021"


# ------------------------------------------------------------------ investors


def test_investors_track_records(features: pd.DataFrame) -> None:
    # Neither i1 nor i2 has another company before 2019: no track record yet.
    check(
        at(features, "P", "2018-06-30"),
        {
            "investors_track_record_max": np.nan,
            "investors_track_record_mean": np.nan,
            "n_investors_with_track_record": 0.0,
        },
    )
    # P's own Series A is left out: i1 has Q and S (no milestone), i2 has R (not yet).
    check(
        at(features, "P", "2019-12-31"),
        {
            "investors_track_record_max": 0.0,
            "investors_track_record_mean": 0.0,
            "n_investors_with_track_record": 2.0,
        },
    )
    # R was acquired on 2020-03-15: i2's record becomes 1/1.
    check(
        at(features, "P", "2020-03-31"),
        {
            "investors_track_record_max": 1.0,
            "investors_track_record_mean": 0.5,
            "n_investors_with_track_record": 2.0,
        },
    )
    # Q: i1 has P (Series A on 2019-07-10) and S; i3 has R (acquired later).
    check(
        at(features, "Q", "2019-12-31"),
        {
            "investors_track_record_max": 0.5,
            "investors_track_record_mean": 0.25,
            "n_investors_with_track_record": 2.0,
        },
    )
    check(
        at(features, "Q", "2020-03-31"),
        {"investors_track_record_max": 1.0, "investors_track_record_mean": 0.75},
    )
    # i3 has since backed U (no milestone): 1 of 2.
    check(
        at(features, "Q", "2021-06-30"),
        {"investors_track_record_max": 0.5, "investors_track_record_mean": 0.5},
    )
    # R's own investors on the day they invest, then once P reaches its Series A.
    check(at(features, "R", "2019-05-31"), {"investors_track_record_max": 0.0})
    check(
        at(features, "R", "2019-07-31"),
        {"investors_track_record_max": 1.0, "investors_track_record_mean": 0.5},
    )
    check(
        at(features, "S", "2019-06-30"),
        {"investors_track_record_max": 0.0, "n_investors_with_track_record": 1.0},
    )
    check(at(features, "U", "2021-01-31"), {"n_investors_with_track_record": 0.0})
    check(
        at(features, "U", "2021-02-28"),
        {"investors_track_record_max": 0.5, "n_investors_with_track_record": 1.0},
    )


def test_track_records_refresh_at_month_ends(features: pd.DataFrame) -> None:
    # R's exit (2020-03-15) is known on 2020-03-20, but Q's investors' records are those of
    # the last month end (2020-02-29) until 2020-03-31: at most a month old, never ahead.
    check(
        at(features, "Q", "2020-03-20"),
        {"investors_track_record_max": 0.5, "investors_track_record_mean": 0.25},
    )


def test_track_records_follow_the_training_milestone_rules() -> None:
    # With Series A no longer a milestone (only B and later), P's 2019 round does not
    # count for i1; R's acquisition still does.
    rules = PromiseRules(milestone_round_types=("series_b", "series_c_plus"))
    features = features_of(build_feature_tables(world(), SNAPSHOT, rules))
    check(
        at(features, "Q", "2019-12-31"),
        {"investors_track_record_max": 0.0, "investors_track_record_mean": 0.0},
    )
    check(at(features, "Q", "2020-03-31"), {"investors_track_record_max": 1.0})


def test_without_investments_the_family_is_missing() -> None:
    tables = {k: v for k, v in world().items() if k != "investments"}
    features = features_of(build_feature_tables(tables, SNAPSHOT))
    columns = [
        "investors_track_record_max",
        "investors_track_record_mean",
        "n_investors_with_track_record",
    ]
    assert features[columns].isna().all().all()
    assert features["market_rounds_12m"].notna().any()


# ------------------------------------------------------------------------ cohort


def test_founding_cohort_is_known_from_the_founding_day(features: pd.DataFrame) -> None:
    check(at(features, "P", "2016-02-29"), {"founding_year": np.nan, "founding_cohort": None})
    check(
        at(features, "P", "2016-03-01"), {"founding_year": 2016.0, "founding_cohort": "2015-2019"}
    )
    check(at(features, "U", "2020-06-30"), {"founding_year": np.nan, "founding_cohort": None})
    check(
        at(features, "U", "2020-07-15"), {"founding_year": 2020.0, "founding_cohort": "2020-2024"}
    )
    check(at(features, "S", "2019-12-31"), {"founding_year": np.nan, "founding_cohort": None})


def test_nothing_is_known_before_a_company_appears(features: pd.DataFrame) -> None:
    # S is first seen on 2018-01-01: before, not even its market links.
    before = at(features, "S", "2017-06-01").drop(["org_id", "as_of"])
    assert before.isna().all(), before[before.notna()]


def test_other_companies_rounds_count_from_when_the_source_listed_them() -> None:
    # L, listed on 2019-12-01 with a round back-filled to 2019-06-01: an export taken
    # before the listing held no such round, so P's market cannot count it before then.
    tables = world()
    late = {"org_id": "L", "name": "La", "founded_on": D("2018-02-01")}
    late |= {"first_seen_on": D("2019-12-01"), "country": "FR"}
    late |= {"region": "Occitanie", "sector": "ai"}
    tables["organizations"] = pd.concat(
        [tables["organizations"], pd.DataFrame([late])], ignore_index=True
    )
    rounds = tables["funding_rounds"]
    row = rounds.iloc[[0]].assign(round_id="l1", org_id="L", announced_on=D("2019-06-01"))
    tables["funding_rounds"] = pd.concat([rounds, row], ignore_index=True)
    built = build_feature_tables(tables, SNAPSHOT)
    entity = pd.DataFrame({"org_id": ["P", "P"], "as_of": [D("2019-11-30"), D("2019-12-01")]})
    heat = asof_join_frames(entity, built)["market_rounds_12m"].tolist()
    # 2019-03-01 (two) and 2019-07-10 in the window; L's round only once it is listed.
    assert heat == [3.0, 4.0]
