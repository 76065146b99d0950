"""The Spark engine's split, checked without Spark: organisation buckets are exact.

``spark_build`` runs the organisation-local families on buckets of organisations and the
cross-company ones on all rows. Here the buckets are built in plain pandas, exactly as a
Spark task builds them (``build_unit``), so a family wrongly placed in ``ORG_LOCAL`` shows
up as a difference from the default engine, on a random world full of missing values and
odd dates.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from fixtures.toy_world import random_world

from talentmap.features import spark_build
from talentmap.features.build import build_feature_tables
from talentmap.features.catalog import FAMILIES
from talentmap.settings.training import PromiseRules

SNAPSHOT = date(2025, 12, 31)


def _spark_like(tables: dict[str, pd.DataFrame], buckets: int) -> dict[str, pd.DataFrame]:
    rules = PromiseRules()
    parts: dict[str, list[pd.DataFrame]] = {family: [] for family in FAMILIES}
    for b in range(buckets):
        built = spark_build.build_unit(tables, SNAPSHOT, rules, "bucket", str(b), buckets)
        for family, frame in built.items():
            parts[family].append(frame)
    for family in sorted(spark_build.CROSS_COMPANY):
        built = spark_build.build_unit(tables, SNAPSHOT, rules, "family", family, buckets)
        parts[family].append(built[family])
    return spark_build.combine(parts)


def test_every_family_is_placed_once() -> None:
    spark_build.check_partition()
    assert set(FAMILIES) == spark_build.ORG_LOCAL | spark_build.CROSS_COMPANY


@pytest.mark.parametrize(("seed", "buckets"), [(3, 7), (8, 2)])
def test_bucketed_build_equals_the_default_build(seed: int, buckets: int) -> None:
    world = random_world(300, seed)
    expected = build_feature_tables(world, SNAPSHOT)
    got = _spark_like(world, buckets)
    assert list(got) == list(expected)
    for family, frame in expected.items():
        assert len(frame) > 0, family
        pd.testing.assert_frame_equal(got[family], frame, check_exact=True, obj=family)


def test_buckets_split_the_organisations_and_keep_their_rows() -> None:
    world = random_world(200, 5)
    seen: list[str] = []
    for b in range(5):
        part = spark_build.bucket_tables(world, b, 5)
        orgs = set(part["organizations"]["org_id"])
        seen += sorted(orgs)
        assert set(part["funding_rounds"]["org_id"]) <= orgs
        rounds = set(part["funding_rounds"]["round_id"])
        assert set(part["investments"]["round_id"]) <= rounds
        assert part["people"] is world["people"]
    assert sorted(seen) == sorted(world["organizations"]["org_id"])


def test_rows_naming_an_unlisted_organisation_stay_with_it() -> None:
    """A round, a role and a posting of a company absent from ``organizations`` (a real
    export's dangling keys) are built as the default engine builds them."""
    world = random_world(150, 9)
    for name in ("funding_rounds", "roles", "job_postings"):
        frame = world[name]
        extra = frame.iloc[:3].copy()
        extra["org_id"] = "unlisted-org"
        if name == "funding_rounds":
            extra["round_id"] = [f"unlisted-round-{i}" for i in range(len(extra))]
        world[name] = pd.concat([frame, extra], ignore_index=True)
    expected = build_feature_tables(world, SNAPSHOT)
    assert (expected["funding"]["org_id"] == "unlisted-org").any()
    got = _spark_like(world, 3)
    for family, frame in expected.items():
        pd.testing.assert_frame_equal(got[family], frame, check_exact=True, obj=family)


def test_a_cross_company_family_would_not_survive_buckets() -> None:
    """Why market heat is not bucketed: on one bucket it misses the other companies."""
    world = random_world(300, 3)
    expected = build_feature_tables(world, SNAPSHOT)["market"]
    rules = PromiseRules()
    built = spark_build.prepare(spark_build.bucket_tables(world, 0, 4), SNAPSHOT, rules)
    alone = spark_build.finalize(spark_build.BUILDERS["market"](built), "market", built.snapshot)
    merged = alone.merge(expected, on=["market_cell", "event_timestamp"], suffixes=("", "_all"))
    assert (merged["market_rounds_12m"] < merged["market_rounds_12m_all"]).any()


def test_an_unplaced_family_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spark_build, "ORG_LOCAL", spark_build.ORG_LOCAL - {"links"})
    with pytest.raises(ValueError, match="links"):
        spark_build.check_partition()
