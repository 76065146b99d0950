"""The in-memory ranking: order, filters, opt-outs, forget, reasons, and the answers."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from fixtures.toy_rows import toy_training_rows

from talentmap.serving.answers import score_items, shortlist
from talentmap.serving.ranking import OptOuts, Ranking, RankingLineage, build_ranking
from talentmap.serving.regions import INTERNATIONAL
from talentmap.serving.schemas import ShortlistRequest, ShortlistResponse
from talentmap.training.hyperparams import ModelConfig
from talentmap.training.model import PromiseModel

N = 300
FEATURES = ["n_rounds", "days_since_last_round", "headcount_growth_12m", "n_founders_phd", "region"]
LINEAGE = RankingLineage(
    "talent-promise", "7", "run-1", "snap-1", "lake-1", date(2025, 12, 31), "r1"
)


@pytest.fixture(scope="module")
def world() -> tuple[PromiseModel, pd.DataFrame, dict[str, pd.DataFrame]]:
    frame, y, as_of = toy_training_rows(seed=3, n_dates=16, per_date=200)
    model = PromiseModel(ModelConfig(num_threads=1, n_estimators=60), features=FEATURES)
    model.fit(frame, y, as_of)
    current = frame.tail(N).reset_index(drop=True)
    ids = [f"org-{i:04d}" for i in range(N)]
    features = current.assign(org_id=ids)
    rng = np.random.default_rng(0)
    country = np.where(np.arange(N) % 10 == 0, "DE", "FR")
    region = current["region"].to_numpy(dtype=object)  # toy regions (official names) or None
    orgs = pd.DataFrame(
        {
            "org_id": ids,
            "name": [f"Company {i}" for i in range(N)],
            "country": country,
            "region": np.where(country == "DE", "Bayern", region),
            "city": "Somewhere",
            "sector": np.array(["fintech", "saas", "biotech"], dtype=object)[np.arange(N) % 3],
            "founded_on": pd.to_datetime("2020-01-01")
            + pd.to_timedelta(rng.integers(0, 1500, N), unit="D"),
        }
    )
    people = pd.DataFrame(
        {"person_id": [f"p{i}" for i in range(N)], "full_name": [f"Person {i}" for i in range(N)]}
    )
    roles = pd.DataFrame(
        {
            "person_id": [f"p{i}" for i in range(N)],
            "org_id": ids,
            "role": "founder",
            "title": np.where(np.arange(N) % 2 == 0, "CEO", None),
            "started_on": pd.NaT,
        }
    )
    opt_outs = pd.DataFrame(
        {"subject_kind": ["org", "person"], "subject_id": ["org-0005", "p6"], "since": pd.NaT}
    )
    tables = {"organizations": orgs, "people": people, "roles": roles, "opt_outs": opt_outs}
    return model, features, tables


@pytest.fixture(scope="module")
def ranking(world) -> Ranking:
    model, features, tables = world
    return build_ranking(model, features, tables, LINEAGE, precompute_reasons=20)


def test_order_scores_and_immutability(ranking: Ranking, world) -> None:
    model, features, _ = world
    assert len(ranking) == N - 1  # one opted-out organisation
    assert np.all(np.diff(ranking.scores) <= 0)
    expected = model.predict_proba(features)[:, 1]
    by_id = dict(zip(features["org_id"], expected, strict=True))
    assert all(
        by_id[o] == pytest.approx(s) for o, s in zip(ranking.org_ids, ranking.scores, strict=True)
    )
    with pytest.raises(ValueError):
        ranking.scores[0] = 1.0
    assert ranking.rank_of(ranking.org_ids[0]) == 1 and ranking.rank_of("org-0005") is None
    assert ranking.percentile(ranking.scores[0]) == pytest.approx(100 * (N - 2) / (N - 1), 0.01)


def test_opt_outs_and_metadata(ranking: Ranking) -> None:
    assert "org-0005" not in set(ranking.org_ids)
    row = ranking.row(ranking.row_of("org-0006"))
    assert row["founders"] == []  # p6 opted out
    row = ranking.row(ranking.row_of("org-0004"))
    assert row["founders"] == [{"name": "Person 4", "role": "CEO"}]
    assert ranking.row(ranking.row_of("org-0003"))["founders"][0]["role"] == "founder"
    assert ranking.row(ranking.row_of("org-0010"))["region"] == INTERNATIONAL  # DE, Bayern


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"region": "Occitanie"},
        {"region": INTERNATIONAL},
        {"sector": "saas"},
        {"region": "Bretagne", "sector": "fintech"},
        {"min_score": 0.2},
        {"founded_after": date(2022, 6, 1)},
        {"region": "Normandie", "min_score": 0.1, "founded_after": date(2021, 1, 1)},
        {"region": "Mayotte"},
        {"sector": "nope"},
    ],
)
def test_select_matches_brute_force(ranking: Ranking, filters: dict) -> None:
    keep = np.ones(len(ranking), dtype=bool)
    if "region" in filters:
        keep &= ranking.regions == filters["region"]
    if "sector" in filters:
        keep &= ranking.sectors == filters["sector"]
    if "min_score" in filters:
        keep &= ranking.scores >= filters["min_score"]
    if "founded_after" in filters:
        keep &= ranking.founded_on >= np.datetime64(filters["founded_after"], "ns")
    expected = np.flatnonzero(keep)
    rows, matching = ranking.select(k=7, **filters)
    assert matching == len(expected)
    assert rows.tolist() == expected[:7].tolist()


def test_reasons_are_precomputed_then_memoised(ranking: Ranking) -> None:
    assert len(ranking._reasons) >= 20
    deep = ranking.reasons([len(ranking) - 1])[0]
    assert 1 <= len(deep) <= 3
    assert all(r["text"].endswith("score)") for r in deep)
    assert ranking.reasons([len(ranking) - 1])[0] is deep


def test_without_reranks_and_hides(ranking: Ranking) -> None:
    first, second = ranking.org_ids[0], ranking.org_ids[1]
    person = f"p{int(second.split('-')[1])}"
    smaller = ranking.without([first], [person], ranking_id="r2")
    assert len(smaller) == len(ranking) - 1 and smaller.org_ids[0] == second
    assert smaller.rank_of(second) == 1 and smaller.ranking_id == "r2"
    assert smaller.row(0)["founders"] == []
    assert first in smaller.opt_outs.org_ids and person in smaller.opt_outs.person_ids
    assert len(ranking) == N - 1  # the original is untouched


def test_shortlist_answer_matches_the_schema(ranking: Ranking) -> None:
    body = shortlist(ranking, ShortlistRequest(k=5, region="Occitanie"), default_k=50)
    ShortlistResponse.model_validate(body)
    assert body["filters"]["k"] == 5 and body["lineage"]["model_version"] == "7"
    assert all(c["region"] == "Occitanie" and len(c["reasons"]) <= 3 for c in body["candidates"])
    bare = shortlist(ranking, ShortlistRequest(include_explanations=False), default_k=12)
    assert len(bare["candidates"]) == 12 and "reasons" not in bare["candidates"][0]


def test_score_items_reports_unknown_ids(ranking: Ranking, world) -> None:
    _, features, _ = world
    known = frozenset(ranking.org_ids)
    rows = features[features["org_id"].isin([ranking.org_ids[0]])]
    items = score_items(ranking, [ranking.org_ids[0], "ghost"], known, rows)
    assert items[0]["status"] == "scored" and items[0]["rank"] == 1
    assert items[1] == {"org_id": "ghost", "status": "unknown"}


def test_opt_outs_from_table() -> None:
    table = pd.DataFrame({"subject_kind": ["org", "person"], "subject_id": ["o", "p"]})
    assert OptOuts.from_table(table) == OptOuts(frozenset({"o"}), frozenset({"p"}))
    assert OptOuts.from_table(None) == OptOuts()
