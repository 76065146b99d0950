"""The in-memory ranking: order, filters, opt-outs, forget, reasons, and the answers.

Also, without a server: a shortlist answer writes its audit line, and subjects forgotten
at run time stay out of the ranking that a reload builds (``ServingState`` with the lake,
the online store and the registry replaced by the toy world).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fixtures.toy_rows import toy_training_rows

from talentmap.serving import state as state_module
from talentmap.serving.answers import audited_shortlist, score_items, shortlist
from talentmap.serving.audit import AuditLog, read_audit
from talentmap.serving.auth import Principal
from talentmap.serving.champion import ChampionInfo
from talentmap.serving.inputs import ServingInputs
from talentmap.serving.ranking import OptOuts, Ranking, RankingLineage, build_ranking
from talentmap.serving.regions import INTERNATIONAL, map_region
from talentmap.serving.schemas import ShortlistRequest, ShortlistResponse
from talentmap.serving.state import Served, ServingState
from talentmap.settings import Settings
from talentmap.settings.model import ModelConfig
from talentmap.settings.serving import ServingConfig
from talentmap.training.model.estimator import PromiseModel

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


def test_an_unknown_country_is_on_no_tile() -> None:
    assert map_region("DE", "Bayern") == INTERNATIONAL
    assert map_region("FR", "Occitanie") == "Occitanie"
    assert map_region("FR", None) is None
    # Unknown is not abroad: a blank country (a tenth of a real export) lands on no tile,
    # whatever its free-text region says, and never under International.
    assert map_region(None, "Paris") is None
    assert map_region(float("nan"), "Île-de-France") is None


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
    reasons = [r for c in body["candidates"] for r in c["reasons"]]
    assert reasons and all(r["texts"]["en"] == r["text"] for r in reasons)  # English kept
    assert all(
        r["texts"]["fr"].endswith("score)") and r["texts"]["fr"] != r["text"] for r in reasons
    )
    parsed = ShortlistResponse.model_validate(body).candidates[0].reasons
    assert parsed and parsed[0].texts == body["candidates"][0]["reasons"][0]["texts"]
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


CHAMPION = ChampionInfo("talent-promise", "champion", "7", "run-1", None, None, {})
STAFF = Principal("staff-tester", "staff")


def test_each_shortlist_answer_writes_its_audit_line(ranking: Ranking, tmp_path: Path) -> None:
    served = Served(CHAMPION, ranking, frozenset(ranking.org_ids), 0.0, 0.0)
    path = tmp_path / "audit" / "shortlists.jsonl"
    log = AuditLog(path)
    bodies = [
        audited_shortlist(served, ShortlistRequest(k=3, region="Occitanie"), 50, log, STAFF),
        audited_shortlist(served, ShortlistRequest(), 12, log, STAFF),
    ]
    log.close()
    records = read_audit(path)
    assert [r["event"] for r in records] == ["shortlist", "shortlist"]
    for record, body in zip(records, bodies, strict=True):
        assert (record["who"], record["role"]) == ("staff-tester", "staff")
        assert record["filters"] == body["filters"] and record["matching"] == body["matching"]
        assert record["org_ids"] == [c["org_id"] for c in body["candidates"]]
        assert (record["model_version"], record["run_id"]) == ("7", "run-1")
        assert record["ranking_id"] == ranking.ranking_id
        assert record["feature_snapshot_id"] == "snap-1"
    assert len(records[1]["org_ids"]) == 12
    assert "Person " not in path.read_text(encoding="utf-8")  # ids only, never a name


def test_no_audit_line_no_shortlist(ranking: Ranking, tmp_path: Path) -> None:
    served = Served(CHAMPION, ranking, frozenset(ranking.org_ids), 0.0, 0.0)
    (tmp_path / "not-a-folder").write_text("", encoding="utf-8")
    broken = AuditLog(tmp_path / "not-a-folder" / "shortlists.jsonl")
    with pytest.raises(OSError):
        audited_shortlist(served, ShortlistRequest(k=3), 50, broken, STAFF)


def test_the_shortlist_route_answers_only_with_its_audit_line(
    ranking: Ranking, tmp_path: Path
) -> None:
    """The BentoML handler itself, called in-process on a bare instance (no server)."""
    import asyncio
    import json
    from types import SimpleNamespace

    from talentmap.serving import service
    from talentmap.serving.auth import PRINCIPAL_KEY

    served = Served(CHAMPION, ranking, frozenset(ranking.org_ids), 0.0, 0.0)
    handler = object.__new__(service.TalentMapService.inner)  # __init__ would start loading
    handler.state = SimpleNamespace(
        served=served,
        refusal=lambda: None,
        current=lambda: served,
        published_changed=lambda _: False,
        reload_requested=lambda _: False,
    )
    handler.config = ServingConfig()
    path = tmp_path / "shortlists.jsonl"
    handler.audit = AuditLog(path)

    def call() -> Any:
        ctx = SimpleNamespace(
            request=SimpleNamespace(scope={PRINCIPAL_KEY: STAFF}),
            response=SimpleNamespace(status_code=200),
        )
        return asyncio.run(handler.shortlist(ShortlistRequest(k=4), ctx=ctx)), ctx

    answer, ctx = call()
    handler.audit.close()
    body = json.loads(answer.body)
    assert answer.status_code == 200 and len(body["candidates"]) == 4
    assert [r["org_ids"] for r in read_audit(path)] == [[c["org_id"] for c in body["candidates"]]]
    (tmp_path / "not-a-folder").write_text("", encoding="utf-8")
    handler.audit = AuditLog(tmp_path / "not-a-folder" / "shortlists.jsonl")
    refused, ctx = call()
    assert refused.status_code == ctx.response.status_code == 503
    assert "audit log unavailable" in json.loads(refused.body)["error"]


@pytest.fixture()
def reloading_state(
    world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[ServingState, list[ServingInputs]]:
    """A ``ServingState`` whose every reload reads the toy world as the lake has it.

    The lake's opt-outs stay those of the world: whatever is forgotten at run time is in
    none of the inputs a reload reads, as before the lake or the register records it.
    """
    model, features, tables = world
    opt_outs = OptOuts.from_table(tables["opt_outs"])
    served_inputs: list[ServingInputs] = []

    def load_inputs(settings: Settings, config: ServingConfig) -> ServingInputs:
        ids = tuple(o for o in features["org_id"] if o not in opt_outs.org_ids)
        inputs = ServingInputs(
            tables, "lake-1", "snap-1", date(2025, 12, 31), date(2025, 12, 31), ids, opt_outs
        )
        served_inputs.append(inputs)
        return inputs

    def online(settings: Settings, org_ids: Any, as_of: date, store: Any = None) -> pd.DataFrame:
        return features.set_index("org_id").loc[list(org_ids)].reset_index()

    monkeypatch.setattr(state_module, "load_inputs", load_inputs)
    monkeypatch.setattr(state_module, "online_features", online)
    monkeypatch.setattr(state_module, "load_champion", lambda *args: (CHAMPION, model))
    monkeypatch.setattr(ServingState, "_open_store", lambda self: None)
    config = ServingConfig(precompute_reasons=0, reload_poll_seconds=0)
    return ServingState(Settings(home=tmp_path), config), served_inputs


def test_forgotten_subjects_stay_out_after_a_reload(reloading_state) -> None:
    state, inputs = reloading_state
    before = state.reload(trigger="test").served
    gone_org, kept_org = before.ranking.org_ids[0], before.ranking.org_ids[1]
    person = f"p{int(kept_org.split('-')[1])}"  # the toy world's founder of kept_org
    assert before.ranking.row(1)["founders"]
    assert gone_org in before.known_org_ids

    _, removed, hidden = state.forget([gone_org], [person])
    assert (removed, hidden) == (1, 1 + len(before.ranking.row(0)["founders"]))
    after = state.reload(force=True, trigger="test").served
    assert len(inputs) == 2 and after is state.served  # a new ranking was really built
    assert after.ranking.ranking_id not in (before.ranking.ranking_id, "r1")
    assert gone_org not in set(after.ranking.org_ids) and gone_org not in after.known_org_ids
    assert after.ranking.row(after.ranking.row_of(kept_org))["founders"] == []
    assert len(after.ranking) == len(before.ranking) - 1
    assert "org-0005" not in set(after.ranking.org_ids)  # the lake's own opt-out holds too
    again = state.reload(force=True, trigger="test").served  # and on every later reload
    assert gone_org not in set(again.ranking.org_ids)
