"""Absent optional tables give missing features (never 0); gender is never a feature."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from fixtures.toy_world import random_world

from talentmap.features.age import FIRST_EVENTS
from talentmap.features.asof_reference import asof_join_frames
from talentmap.features.build import build_feature_tables
from talentmap.features.catalog import FAMILIES, model_feature_refs
from talentmap.features.definitions.repo import repo_objects
from talentmap.settings.training import PromiseRules

SNAPSHOT = date(2025, 12, 31)
FAMILY_OF = {c: name for name, spec in FAMILIES.items() for c in spec.columns}
AGE_EVENT_TABLES = {table for table, _ in FIRST_EVENTS}


def at_end(world: dict[str, pd.DataFrame], *, age_fallback: bool = True) -> pd.DataFrame:
    tables = build_feature_tables(world, SNAPSHOT, PromiseRules(age_fallback=age_fallback))
    orgs = world["organizations"]["org_id"]
    return asof_join_frames(pd.DataFrame({"org_id": orgs, "as_of": pd.Timestamp(SNAPSHOT)}), tables)


def test_only_required_tables_leaves_other_families_missing() -> None:
    full = random_world(50, 7)
    minimal = {k: full[k] for k in ("organizations", "funding_rounds")}
    features = at_end(minimal)
    for family in (
        "team",
        "hiring",
        "programs",
        "research",
        "founders",
        "founder_network",
        "program_cohort",
    ):
        columns = list(FAMILIES[family].model_features)
        assert features[columns].isna().all().all(), family
    investor = [
        "n_distinct_investors",
        "n_distinct_vc_investors",
        "n_rounds_with_vc",
        *FAMILIES["investors"].model_features,
        *FAMILIES["coinvestors"].model_features,
    ]
    assert features[investor].isna().all().all()
    assert features["n_rounds"].notna().all() and (features["n_rounds"] > 0).any()
    assert features["days_since_first_program"].isna().all()
    # Rounds are required: momentum, market heat and the relative amount exist without
    # any optional table.
    for column in ("amount_step_up", "market_rounds_12m", "amount_last_vs_type_year_median"):
        assert features[column].notna().any(), column


@pytest.mark.parametrize(
    ("dropped", "family_columns"),
    [
        (
            "programs",
            [*FAMILIES["programs"].model_features, *FAMILIES["program_cohort"].model_features],
        ),
        ("headcount", ["headcount_latest", "headcount_12m_ago", "headcount_growth_12m"]),
        ("job_postings", ["job_postings_total", "job_postings_90d", "job_postings_365d"]),
        (
            "education",
            ["n_founders_phd", "n_founders_engineer", "n_founders_mba", "n_founders_grande_ecole"],
        ),
        ("exits", ["n_founders_prior_exit", "n_prior_exits"]),
        ("publications", list(FAMILIES["research"].model_features)),
        (
            "investments",
            [
                "n_distinct_investors",
                "n_distinct_vc_investors",
                "n_rounds_with_vc",
                "n_rounds_with_lead",
                *FAMILIES["investors"].model_features,
                *FAMILIES["coinvestors"].model_features,
            ],
        ),
    ],
)
def test_one_missing_table_blanks_exactly_its_features(
    dropped: str, family_columns: list[str]
) -> None:
    full = random_world(50, 8)
    with_table = at_end(full)
    without = at_end({k: v for k, v in full.items() if k != dropped})
    assert with_table[family_columns].notna().any().any()
    if dropped != "headcount":  # counts start at a true 0 when their table exists
        assert with_table[family_columns].fillna(-1).eq(0).any().any()
    assert without[family_columns].isna().all().all()
    # The hiring view's TTL runs per row, so headcount and postings refresh each other.
    shared: tuple[str, ...] = ()
    if dropped in ("headcount", "job_postings"):
        shared = FAMILIES["hiring"].columns
    if dropped == "exits":  # exits are milestones of the other companies of the networks
        shared = tuple(
            c
            for family in ("investors", "coinvestors", "founder_network", "program_cohort")
            for c in FAMILIES[family].columns
        )
    # Without a founding date, a company's age counts from its first dated event, which
    # this table may hold (talentmap.features.age).
    aged = ("company_age_days",) if dropped in AGE_EVENT_TABLES else ()
    others = [c for c in with_table.columns if c not in (*family_columns, *shared, *aged)]
    if dropped not in ("programs", "publications"):
        # Other families are untouched (programmes and publications also date orgs' start).
        pd.testing.assert_frame_equal(without[others], with_table[others])


def test_gender_is_never_read_nor_a_feature() -> None:
    world = random_world(50, 9)
    tables = build_feature_tables(world, SNAPSHOT)
    for frame in tables.values():
        assert not any("gender" in c.lower() for c in frame.columns)
    flipped = dict(world)
    flipped["people"] = world["people"].assign(gender="F")
    no_people = {k: v for k, v in world.items() if k != "people"}
    for variant in (flipped, no_people):
        other = build_feature_tables(variant, SNAPSHOT)
        for name in tables:
            pd.testing.assert_frame_equal(other[name], tables[name])
    assert not any("gender" in ref.lower() for ref in model_feature_refs())


def test_promise_service_lists_exactly_the_model_features(tmp_path) -> None:
    objects = repo_objects(tmp_path)
    service = next(o for o in objects if getattr(o, "name", None) == "promise")
    listed = [
        f"{projection.name}:{feature.name}"
        for projection in service.feature_view_projections
        for feature in projection.features
    ]
    assert listed == model_feature_refs()
    assert not any(c.endswith("_day") for c in listed), "absolute dates are not model features"
    assert not any("gender" in c for c in listed)
    assert all(FAMILY_OF.get(ref.split(":")[1]) != "person_research" for ref in listed)


def test_unknown_country_region_sector_and_founding_date_are_missing() -> None:
    world = random_world(40, 12)
    orgs = world["organizations"].copy()
    ids = orgs["org_id"].iloc[:5].tolist()
    spellings = {ids[0]: "ZZ", ids[1]: "", ids[2]: "  ", ids[3]: None}
    for org_id, country in spellings.items():
        orgs.loc[orgs["org_id"] == org_id, "country"] = country
    orgs.loc[orgs["org_id"] == ids[0], ["region", "sector"]] = ["", " \t"]
    orgs.loc[orgs["org_id"] == ids[4], "founded_on"] = pd.NaT
    world["organizations"] = orgs
    features = at_end(world).set_index("org_id")

    assert features.loc[ids[:4], "country"].isna().all()
    assert features.loc[ids[0], ["region", "sector"]].isna().all()
    # Never a category of their own: the model would learn "ZZ" or "" as a place.
    for column in ("country", "region", "sector"):
        assert not features[column].isin(["ZZ", "", "  ", " \t"]).any(), column
    assert features["country"].notna().any()
    # No founding date: the age counts from the first
    # dated event only where the fallback is on (the default), never guessed otherwise.
    strict = at_end(world, age_fallback=False).set_index("org_id")
    assert pd.isna(strict.loc[ids[4], "company_age_days"])
    assert strict["company_age_days"].notna().any()
