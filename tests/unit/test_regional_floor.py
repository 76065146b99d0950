"""The regional floor (French Tech 120's "two per region"): the pure rule, its cost, and the
``region_floor`` option of ``POST /shortlist`` (schema validation and the answer)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from fixtures.toy_rows import toy_training_rows
from pydantic import ValidationError

from talentmap.serving.answers import shortlist
from talentmap.serving.ranking import RankingLineage, build_ranking
from talentmap.serving.regions import FRENCH_REGIONS, INTERNATIONAL
from talentmap.serving.schemas import ShortlistRequest, ShortlistResponse
from talentmap.settings.model import ModelConfig
from talentmap.training.evaluation.regional_floor import (
    apply_regional_floor,
    floor_positions,
    regional_floor_cost,
)
from talentmap.training.model.estimator import PromiseModel

# Ten candidates, best first: A dominates, B C D trail.
REGIONS = ["A", "A", "A", "A", "B", "C", "A", "B", "C", "D"]


def _ranked(regions: list[str | None], shuffle_seed: int | None = None) -> pd.DataFrame:
    n = len(regions)
    frame = pd.DataFrame(
        {
            "org_id": [f"o{i}" for i in range(n)],
            "region": regions,
            "score": np.linspace(0.9, 0.1, n),
        }
    )
    if shuffle_seed is not None:
        frame = frame.sample(frac=1.0, random_state=shuffle_seed).reset_index(drop=True)
    return frame


def test_floor_promotes_the_best_of_missing_regions_and_demotes_the_last_others() -> None:
    out = apply_regional_floor(_ranked(REGIONS), k=5, m=1)
    # Plain top 5: o0-o4 (A A A A B). C and D are missing: their best (o5, o9) come in,
    # the two lowest-ranked A rows not needed by A's own floor (o3, o2) go.
    assert out["org_id"].tolist() == ["o0", "o1", "o4", "o5", "o9"]
    assert out["rank"].tolist() == [1, 2, 5, 6, 10]
    assert out["promoted"].tolist() == [False, False, False, True, True]
    assert out["score"].is_monotonic_decreasing  # score order kept


def test_m_zero_or_a_satisfied_floor_is_the_plain_top_k() -> None:
    plain = apply_regional_floor(_ranked(REGIONS), k=6, m=0)
    assert plain["org_id"].tolist() == [f"o{i}" for i in range(6)]
    assert not plain["promoted"].any()
    # Every region already has one in the top 10 of 10.
    assert apply_regional_floor(_ranked(REGIONS), k=10, m=1)["org_id"].tolist() == [
        f"o{i}" for i in range(10)
    ]


def test_regions_with_fewer_than_m_candidates_are_not_floored() -> None:
    out = apply_regional_floor(_ranked(REGIONS), k=6, m=2)
    # A, B, C have at least 2 candidates; D has one and is not floored.
    counts = out["region"].value_counts()
    assert counts["A"] >= 2 and counts["B"] == 2 and counts["C"] == 2
    assert "D" not in counts
    assert out["org_id"].tolist() == ["o0", "o1", "o4", "o5", "o7", "o8"]


def test_k_below_m_times_regions_fills_level_by_level() -> None:
    # m=2 floors A, B and C (D has one candidate); k=5 < 2 x 3. Every region's best first
    # (o0 A, o4 B, o5 C), then the second level by rank (o1 A, o7 B, o8 C): o1, o7 fit.
    positions = floor_positions(REGIONS, k=5, m=2)
    assert positions.tolist() == [0, 1, 4, 5, 7]
    # m=1 with k=3 < 4 regions: the three regions whose best ranks highest get a place.
    assert floor_positions(REGIONS, k=3, m=1).tolist() == [0, 4, 5]
    cost = regional_floor_cost(np.zeros(10, dtype=int), np.linspace(0.9, 0.1, 10), REGIONS, 5, 2)
    assert cost["feasible"] is False and cost["regions_floored"] == 3  # D has only one


def test_missing_and_unlisted_regions_are_never_floored() -> None:
    regions: list[str | None] = ["A", "A", "A", None, "Abroad", "B"]
    out = apply_regional_floor(_ranked(regions), k=3, m=1, floored={"A", "B"})
    assert out["org_id"].tolist() == ["o0", "o1", "o5"]
    assert apply_regional_floor(_ranked([None, None, "A"]), k=2, m=1)["org_id"].tolist() == [
        "o0",
        "o2",
    ]


def test_result_does_not_depend_on_row_order_and_is_deterministic() -> None:
    expected = apply_regional_floor(_ranked(REGIONS), k=5, m=1)["org_id"].tolist()
    for seed in (1, 2, 3):
        shuffled = apply_regional_floor(_ranked(REGIONS, shuffle_seed=seed), k=5, m=1)
        assert shuffled["org_id"].tolist() == expected


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_floor_properties_on_random_rankings(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k, m = 300, 40, 2
    names = np.array([f"R{i}" for i in range(12)], dtype=object)
    regions = names[np.minimum(rng.geometric(0.35, n) - 1, 11)]  # skewed, like France
    score = rng.random(n)
    frame = pd.DataFrame({"org_id": np.arange(n), "region": regions, "score": score})
    out = apply_regional_floor(frame, k, m)
    assert len(out) == k and out["org_id"].is_unique
    assert out["score"].is_monotonic_decreasing
    counts = pd.Series(regions).value_counts()
    shown = out["region"].value_counts()
    for region, available in counts.items():
        if available >= m:
            assert shown.get(region, 0) >= m, region
    # One for one: each promoted row replaces a demoted row of the plain top k, and a
    # demoted row is never ranked above a kept one that its region's floor does not need.
    plain = frame.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    level = plain.groupby("region").cumcount()
    top = plain.head(k)
    demoted = top.loc[~top["org_id"].isin(out["org_id"])]
    assert len(demoted) == int(out["promoted"].sum())
    if len(demoted):
        below = top.loc[top.index > demoted.index.min()]
        kept_below = below.loc[below["org_id"].isin(out["org_id"])]
        assert (level[kept_below.index] < m).all()


def test_cost_in_precision_at_k() -> None:
    y = np.array([1, 1, 1, 1, 0, 0, 1, 0, 0, 0])
    cost = regional_floor_cost(y, np.linspace(0.9, 0.1, 10), REGIONS, k=5, m=1)
    assert cost == {
        "m": 1,
        "k": 5,
        "precision_at_k_without": pytest.approx(0.8),
        "precision_at_k_with": pytest.approx(0.4),
        "cost": pytest.approx(0.4),
        "promoted": 2,
        "regions_floored": 4,
        "feasible": True,
    }


def test_negative_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        floor_positions(REGIONS, k=5, m=-1)


# ------------------------------------------------------------------ serving


@pytest.mark.parametrize(
    "body",
    [
        {"k": 5, "region_floor": 6},  # more than k
        {"region_floor": 2},  # no explicit k
        {"k": 5, "region_floor": -1},
        {"k": 5, "region_floor": "two"},
        {"k": 5, "region_floor": 1.5},
    ],
)
def test_bad_region_floor_is_refused(body: dict) -> None:
    with pytest.raises(ValidationError):
        ShortlistRequest.model_validate(body)


def test_good_region_floor_values_are_accepted() -> None:
    assert ShortlistRequest.model_validate({"k": 5, "region_floor": 5}).region_floor == 5
    assert ShortlistRequest.model_validate({"region_floor": 0}).region_floor == 0


def test_shortlist_with_a_floor_covers_every_french_region() -> None:
    frame, y, as_of = toy_training_rows(seed=5, n_dates=8, per_date=150)
    features = ["n_rounds", "days_since_last_round", "headcount_growth_12m", "n_founders_phd"]
    model = PromiseModel(ModelConfig(num_threads=1, n_estimators=30), features=features)
    model.fit(frame, y, as_of)
    n = 240
    current = frame.tail(n).reset_index(drop=True).assign(org_id=[f"org-{i}" for i in range(n)])
    # Each of the 18 French regions holds 12 candidates; 24 are abroad.
    region = np.array([*FRENCH_REGIONS * 12, *["Bayern"] * 24], dtype=object)
    country = np.where(np.arange(n) < 216, "FR", "DE")
    orgs = pd.DataFrame(
        {"org_id": current["org_id"], "name": "Co", "country": country, "region": region}
    )
    lineage = RankingLineage("m", "1", None, None, None, date(2025, 12, 31), "r")
    ranking = build_ranking(model, current, {"organizations": orgs}, lineage, precompute_reasons=0)
    request = ShortlistRequest(k=40, region_floor=2, include_explanations=False)
    body = shortlist(ranking, request, default_k=50)
    ShortlistResponse.model_validate(body)
    rows = body["candidates"]
    assert len(rows) == 40 and body["filters"]["region_floor"] == 2
    counts = pd.Series([r["region"] for r in rows]).value_counts()
    assert all(counts.get(r, 0) >= 2 for r in FRENCH_REGIONS)
    assert counts.get(INTERNATIONAL, 0) <= 40 - 36  # International is never floored
    ranks = [r["rank"] for r in rows]
    assert ranks == sorted(ranks)
    plain = shortlist(ranking, ShortlistRequest(k=40, include_explanations=False), 50)
    assert "promoted" not in plain["candidates"][0]
    promoted = {r["org_id"] for r in rows if r["promoted"]}
    assert promoted == {r["org_id"] for r in rows} - {r["org_id"] for r in plain["candidates"]}
    # After filters: within one region the floor changes nothing.
    one = ShortlistRequest(k=3, region="Bretagne", region_floor=2, include_explanations=False)
    alone = ShortlistRequest(k=3, region="Bretagne", include_explanations=False)
    assert [r["org_id"] for r in shortlist(ranking, one, 50)["candidates"]] == [
        r["org_id"] for r in shortlist(ranking, alone, 50)["candidates"]
    ]
