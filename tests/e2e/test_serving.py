"""The real BentoML server over HTTP: every endpoint, auth, bad input, opt-outs, audit, hot
reload under concurrent requests, forget, and the CLI client.

One server for the session (``test_serving_world``), over a 600-organisation world that
went through the real pipeline and an MLflow registry with a promoted champion.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from test_serving_world import (
    ADMIN_KEY,
    STAFF_KEY,
    Server,
    move_champion,
    serving_server,
    train_second_version,
)
from typer.testing import CliRunner

from talentmap.app.cli import app as talentmap_app
from talentmap.lake import Lake
from talentmap.serving.audit import read_audit
from talentmap.serving.commands import shortlist as shortlist_commands
from talentmap.serving.regions import MAP_REGIONS
from talentmap.serving.schemas import ScoreResponse, ShortlistResponse
from talentmap.training.pipeline.candidates import candidates

pytestmark = pytest.mark.e2e

STAFF = {"Authorization": f"Bearer {STAFF_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}

KEEPALIVE = httpx.Limits(keepalive_expiry=2.0)


@pytest.fixture(scope="session")
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Server:
    return serving_server(request, tmp_path_factory)


@pytest.fixture(scope="session")
def client(server: Server) -> httpx.Client:
    # The server closes idle keep-alive connections after 5 s (uvicorn's default); a client
    # that reuses one just as it closes gets "Server disconnected" on a POST, which httpx
    # cannot retry. Expiring idle connections sooner on our side removes that race.
    with httpx.Client(base_url=server.url, timeout=60, limits=KEEPALIVE) as http:
        yield http


@pytest.fixture(scope="session")
def lake_tables(server: Server) -> dict[str, Any]:
    lake = Lake(server.world.settings.lake_dir)
    return lake.load(lake.latest().snapshot_id)


def shortlist(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post("/shortlist", json=body, headers=STAFF)
    assert response.status_code == 200, response.text
    return response.json()


# ------------------------------------------------------------------ health


def test_liveness_and_readiness_need_no_key(client: httpx.Client) -> None:
    assert client.get("/livez").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_metrics_are_prometheus_and_need_a_key(client: httpx.Client) -> None:
    assert client.get("/metrics").status_code == 401
    shortlist(client, k=3)
    response = client.get("/metrics", headers=STAFF)
    assert response.status_code == 200
    assert "bentoml_service_request" in response.text
    assert 'endpoint="/shortlist"' in response.text


def test_openapi_schema_lists_the_apis(client: httpx.Client) -> None:
    schema = client.get("/docs.json").json()
    for path in ("/shortlist", "/score", "/admin/reload", "/admin/forget"):
        assert path in schema["paths"]
    props = schema["paths"]["/shortlist"]["post"]["requestBody"]["content"]["application/json"]
    assert "k" in json.dumps(props)


# ------------------------------------------------------------------ auth


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-key"},
        {"Authorization": f"Basic {STAFF_KEY}"},
        {"Authorization": "Bearer"},
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/shortlist"),
        ("POST", "/score"),
        ("GET", "/model"),
        ("GET", "/filters"),
        ("POST", "/admin/reload"),
        ("GET", "/no-such-route"),
    ],
)
def test_missing_or_bad_key_is_401(
    client: httpx.Client, headers: dict[str, str], method: str, path: str
) -> None:
    response = client.request(method, path, json={}, headers=headers)
    assert response.status_code == 401
    assert "API key" in response.json()["error"]
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_staff_key_cannot_administer(client: httpx.Client) -> None:
    for path in ("/admin/reload", "/admin/forget"):
        response = client.post(path, json={}, headers=STAFF)
        assert response.status_code == 403
        assert "admin" in response.json()["error"]


def test_admin_key_can_read(client: httpx.Client) -> None:
    assert client.post("/shortlist", json={"k": 1}, headers=ADMIN).status_code == 200


# ------------------------------------------------------------------ shortlist


def test_shortlist_shape_order_and_lineage(client: httpx.Client, server: Server) -> None:
    body = shortlist(client)
    ShortlistResponse.model_validate(body)  # the served JSON matches the published schema
    rows = body["candidates"]
    assert len(rows) == min(50, body["total_candidates"])  # default k
    assert [r["rank"] for r in rows] == sorted(r["rank"] for r in rows)
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert rows[0]["rank"] == 1 and rows[0]["percentile"] >= rows[-1]["percentile"]
    lineage = body["lineage"]
    model = client.get("/model", headers=STAFF).json()
    assert lineage["model_version"] == model["version"]
    assert lineage["run_id"] == model["run_id"] and len(lineage["run_id"]) == 32
    assert (
        lineage["feature_snapshot_id"] == Lake(server.world.settings.lake_dir).latest().snapshot_id
    )
    for row in rows:
        assert row["region"] in (*MAP_REGIONS, None)
        assert 1 <= len(row["reasons"]) <= 3
        for reason in row["reasons"]:
            assert reason["text"].endswith(("(raises the score)", "(lowers the score)"))
            assert (reason["contribution"] > 0) == reason["text"].endswith("(raises the score)")


def test_served_set_is_the_candidate_set_now_minus_opt_outs(
    client: httpx.Client, lake_tables: dict[str, Any]
) -> None:
    body = shortlist(client, k=1000, include_explanations=False)
    served = {r["org_id"] for r in body["candidates"]}
    as_of = body["lineage"]["as_of"]
    expected = set(candidates(lake_tables, as_of)["org_id"])  # issue 6: visible at "now"
    assert served == expected
    assert body["total_candidates"] == len(expected)


def test_opted_out_subjects_never_appear(client: httpx.Client, lake_tables: dict[str, Any]) -> None:
    opt_outs = lake_tables["opt_outs"]
    orgs = set(opt_outs.loc[opt_outs["subject_kind"] == "org", "subject_id"])
    persons = set(opt_outs.loc[opt_outs["subject_kind"] == "person", "subject_id"])
    assert orgs and persons, "the generated world should hold opt-outs of both kinds"
    people = lake_tables["people"].set_index("person_id")["full_name"]
    hidden_names = {people[p] for p in persons if p in people.index}
    roles = lake_tables["roles"]
    founder_ids = set(roles.loc[roles["role"] == "founder", "person_id"])
    body = shortlist(client, k=1000)
    assert not orgs & {r["org_id"] for r in body["candidates"]}
    shown = {f["name"] for r in body["candidates"] for f in r["founders"]}
    visible_names = {people[p] for p in founder_ids - persons if p in people.index}
    assert not (shown & hidden_names) - visible_names  # a namesake may still be shown
    scored = client.post("/score", json={"org_ids": sorted(orgs)[:5]}, headers=STAFF).json()
    assert {r["status"] for r in scored["results"]} == {"unknown"}


def test_filters(client: httpx.Client) -> None:
    everyone = shortlist(client, k=1000, include_explanations=False)["candidates"]
    region = max(MAP_REGIONS, key=lambda r: sum(c["region"] == r for c in everyone))
    by_region = shortlist(client, k=5, region=region)
    assert by_region["candidates"] and all(c["region"] == region for c in by_region["candidates"])
    assert by_region["matching"] == sum(c["region"] == region for c in everyone)
    sector = everyone[0]["sector"]
    by_sector = shortlist(client, k=1000, sector=sector, include_explanations=False)
    assert {c["sector"] for c in by_sector["candidates"]} == {sector}
    cut = everyone[len(everyone) // 2]["score"]
    by_score = shortlist(client, k=1000, min_score=cut, include_explanations=False)
    assert all(c["score"] >= cut for c in by_score["candidates"])
    assert len(by_score["candidates"]) == sum(c["score"] >= cut for c in everyone)
    by_date = shortlist(client, k=1000, founded_after="2023-01-01", include_explanations=False)
    assert all(c["founded_on"] >= "2023-01-01" for c in by_date["candidates"])
    assert len(by_date["candidates"]) == sum(
        (c["founded_on"] or "") >= "2023-01-01" for c in everyone
    )
    assert all("reasons" not in c for c in by_date["candidates"])
    nowhere = shortlist(client, region="Mayotte", sector="no-such-sector")
    assert nowhere["candidates"] == [] and nowhere["matching"] == 0


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"k": 0}, "greater than or equal to 1"),
        ({"k": 1001}, "less than or equal to 1000"),
        ({"k": "many"}, "valid integer"),
        ({"k": 2.5}, "valid integer"),
        ({"region": "Mars"}, "Occitanie"),
        ({"region": "occitanie"}, "Occitanie"),
        ({"regoin": "Occitanie"}, "Extra inputs"),
        ({"min_score": 2}, "less than or equal to 1"),
        ({"founded_after": "last year"}, "date"),
        ({"include_explanations": "sometimes"}, "boolean"),
        ([1, 2, 3], "object"),
    ],
)
def test_bad_shortlist_input_is_400_with_a_message(
    client: httpx.Client, body: Any, needle: str
) -> None:
    response = client.post("/shortlist", json=body, headers=STAFF)
    assert response.status_code == 400
    assert needle in json.dumps(response.json(), ensure_ascii=False)


def test_malformed_and_oversized_bodies_are_4xx(client: httpx.Client) -> None:
    headers = {**STAFF, "Content-Type": "application/json"}
    broken = client.post("/shortlist", content=b'{"k": 5', headers=headers)
    assert broken.status_code == 400 and "JSON" in broken.text
    binary = client.post("/shortlist", content=b"\xff\xfe\x00garbage", headers=headers)
    assert 400 <= binary.status_code < 500
    huge = client.post("/shortlist", json={"sector": "x" * 10_000}, headers=STAFF)
    assert huge.status_code == 413 and "larger than" in huge.json()["error"]
    # No content-length (chunked upload): the limit is enforced while reading.
    chunks = (b'{"sector": "' + b"y" * 1024 for _ in range(8))
    streamed = client.post("/shortlist", content=chunks, headers=headers)
    assert streamed.status_code == 413


# ------------------------------------------------------------------ score and model


def test_score_known_and_unknown_ids(client: httpx.Client) -> None:
    top = shortlist(client, k=3)["candidates"]
    ids = [top[0]["org_id"], "org-does-not-exist", top[1]["org_id"], "'; DROP TABLE orgs;--"]
    response = client.post("/score", json={"org_ids": ids}, headers=STAFF)
    assert response.status_code == 200
    body = response.json()
    ScoreResponse.model_validate(body)
    results = body["results"]
    assert [r["org_id"] for r in results] == ids
    assert [r["status"] for r in results] == ["scored", "unknown", "scored", "unknown"]
    first = results[0]
    assert first["candidate"] is True and first["rank"] == 1
    assert first["score"] == pytest.approx(top[0]["score"], abs=1e-6)  # same online features
    assert [r["text"] for r in first["reasons"]] == [r["text"] for r in top[0]["reasons"]]


def test_bad_score_input_is_4xx(client: httpx.Client) -> None:
    for body in ({}, {"org_ids": []}, {"org_ids": "org-1"}, {"org_ids": [1, 2]}):
        response = client.post("/score", json=body, headers=STAFF)
        assert response.status_code == 400, (body, response.text)
    too_many = {"org_ids": [f"o{i}" for i in range(1001)]}
    assert 400 <= client.post("/score", json=too_many, headers=STAFF).status_code < 500


def test_model_endpoint(client: httpx.Client) -> None:
    model = client.get("/model", headers=STAFF).json()
    assert model["model_name"] == "talent-promise" and model["alias"] == "champion"
    assert model["version"] and model["run_id"] and model["trained_at"]
    assert "model.auc_pr" in model["metrics"] and "model.precision_at_50" in model["metrics"]
    assert model["warning"] is None and model["source"] == "registry"
    assert model["ranking"]["candidates"] > 0
    filters = client.get("/filters", headers=STAFF).json()
    assert filters["regions"] == list(MAP_REGIONS) and filters["sectors"]


# ------------------------------------------------------------------ audit


def test_audit_log_has_one_line_per_shortlist_and_no_names(
    client: httpx.Client, server: Server, lake_tables: dict[str, Any]
) -> None:
    def count() -> int:
        return sum(r["event"] == "shortlist" for r in read_audit(server.world.audit_path))

    before = count()
    ok = [shortlist(client, k=k, region="Occitanie") for k in (1, 2, 3)]
    ok.append(shortlist(client, k=4))
    client.post("/shortlist", json={"k": 0}, headers=STAFF)  # refused: not a shortlist
    client.post("/shortlist", json={"k": 5})  # no key: not a shortlist
    records = [r for r in read_audit(server.world.audit_path) if r["event"] == "shortlist"]
    assert count() - before == len(ok)
    last = records[-1]
    assert last["who"] == "staff-tester" and last["role"] == "staff"
    assert last["org_ids"] == [c["org_id"] for c in ok[-1]["candidates"]]
    assert last["model_version"] == ok[-1]["lineage"]["model_version"]
    assert last["filters"]["k"] == 4
    text = server.world.audit_path.read_text(encoding="utf-8")
    assert STAFF_KEY not in text and ADMIN_KEY not in text
    names = set(lake_tables["people"]["full_name"])
    assert not any(name in text for name in names)


# ------------------------------------------------------------------ CLI client


def test_cli_shortlist_formats(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    app = talentmap_app
    runner = CliRunner()
    args = ["shortlist", "--url", server.url, "--k", "5", "--region", "Île-de-France"]
    monkeypatch.delenv(shortlist_commands.API_KEY_ENV, raising=False)
    assert runner.invoke(app, args).exit_code != 0  # no key in the environment
    monkeypatch.setenv(shortlist_commands.API_KEY_ENV, STAFF_KEY)
    as_json = runner.invoke(app, [*args, "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    body = json.loads(as_json.stdout)
    assert 0 < len(body["candidates"]) <= 5
    assert {c["region"] for c in body["candidates"]} == {"Île-de-France"}
    as_csv = runner.invoke(app, [*args, "--format", "csv"])
    lines = as_csv.stdout.strip().splitlines()
    assert lines[0].startswith("rank,org_id,name") and len(lines) == len(body["candidates"]) + 1
    table = runner.invoke(app, args)
    assert table.exit_code == 0
    assert f"{len(body['candidates'])} of {body['matching']} matching" in table.stdout
    bad = runner.invoke(app, ["shortlist", "--url", server.url, "--region", "Mars"])
    assert bad.exit_code == 1 and "Occitanie" in bad.output


# ------------------------------------------------------------------ hot reload


def _content(body: dict[str, Any]) -> list[tuple[str, float]]:
    return [(c["org_id"], c["score"]) for c in body["candidates"]]


def test_hot_reload_under_concurrent_requests(client: httpx.Client, server: Server) -> None:
    """A pool hammers /shortlist while @champion moves and /admin/reload swaps the model.

    Zero failures; every answer comes from the old or the new version, and its content is
    exactly that version's ranking (never a mix).
    """
    query = {"k": 20, "include_explanations": True}
    old = shortlist(client, **query)
    old_version = old["lineage"]["model_version"]
    new_version = train_second_version(server.world)
    assert new_version != old_version

    answers: list[tuple[int, dict[str, Any] | str]] = []
    reloaded = threading.Event()
    after = 0
    lock = threading.Lock()
    cap = 3000  # bounded: the loop stops at the cap whatever happens

    def hammer() -> None:
        nonlocal after
        with httpx.Client(base_url=server.url, timeout=60, limits=KEEPALIVE) as http:
            while True:
                with lock:
                    if len(answers) >= cap or after >= 100:
                        return
                response = http.post("/shortlist", json=query, headers=STAFF)
                payload = response.json() if response.status_code == 200 else response.text
                with lock:
                    answers.append((response.status_code, payload))
                    if reloaded.is_set():
                        after += 1

    with ThreadPoolExecutor(max_workers=8) as pool:
        workers = [pool.submit(hammer) for _ in range(8)]
        move_champion(server.world, new_version)
        reload = client.post("/admin/reload", json={"force": True}, headers=ADMIN)
        reloaded.set()
        for worker in workers:
            worker.result()
    assert reload.status_code == 200, reload.text
    assert reload.json()["model_version"] == new_version

    new = shortlist(client, **query)
    assert new["lineage"]["model_version"] == new_version
    assert _content(new) != _content(old), "the two versions should rank differently"
    failures = [a for a in answers if a[0] != 200]
    assert not failures, failures[:3]
    expected = {old_version: _content(old), new_version: _content(new)}
    versions = set()
    for _, body in answers:
        version = body["lineage"]["model_version"]
        versions.add(version)
        assert _content(body) == expected[version]
    assert versions == {old_version, new_version}
    assert client.get("/model", headers=STAFF).json()["version"] == new_version


def test_poller_follows_the_alias(client: httpx.Client, server: Server) -> None:
    import time

    current = client.get("/model", headers=STAFF).json()["version"]
    back = "1" if current != "1" else "2"
    move_champion(server.world, back)
    deadline = time.monotonic() + 60  # poll interval is 2 s in the test config
    while time.monotonic() < deadline:
        if client.get("/model", headers=STAFF).json()["version"] == back:
            break
        time.sleep(0.5)
    assert client.get("/model", headers=STAFF).json()["version"] == back


# ------------------------------------------------------------------ forget


def test_forget_drops_subjects_at_once_and_after_reload(
    client: httpx.Client, lake_tables: dict[str, Any]
) -> None:
    top = shortlist(client, k=10)["candidates"]
    gone_org = top[0]["org_id"]
    with_founders = next(c for c in top[1:] if c["founders"])
    name = with_founders["founders"][0]["name"]
    people = lake_tables["people"]
    person_ids = people.loc[people["full_name"] == name, "person_id"].tolist()
    response = client.post(
        "/admin/forget", json={"org_ids": [gone_org], "person_ids": person_ids}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    assert response.json()["removed_orgs"] == 1 and response.json()["founders_hidden"] >= 1

    def check() -> None:
        body = shortlist(client, k=1000)
        assert gone_org not in {c["org_id"] for c in body["candidates"]}
        assert name not in {f["name"] for c in body["candidates"] for f in c["founders"]}
        scored = client.post("/score", json={"org_ids": [gone_org]}, headers=STAFF).json()
        assert scored["results"][0]["status"] == "unknown"

    check()
    assert client.post("/admin/reload", json={}, headers=ADMIN).status_code == 200
    check()
