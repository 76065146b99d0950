"""The service over a ranking published by ``talentmap retrain`` (issue 10), with 2 workers.

A world goes through the real retrain chain (ingest, build, materialize, train, promote,
publish: the publish step ranks every candidate in batch and writes the ranking into the
version it publishes). The real server (``talentmap serve``) then runs with
``serving.workers = 2`` and the poller off, so only the published pointer can carry a
reload to the workers. Over HTTP:

- ``/shortlist`` is the published ranking's top k, with its ranking id;
- a company forgotten through one worker disappears from every answer, whichever worker
  gives it;
- a second retrain publishes a new ranking, and every following answer, from both
  workers, carries it;
- ``/admin/reload`` after the champion alias is moved by hand, under 8 threads of
  ``/shortlist``: the other worker follows it in the background; every answer is a 200
  from the old or the new version, and then both workers serve the new one.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_serving_world import (
    ADMIN_KEY,
    STAFF_KEY,
    WORLD_ORGS,
    WORLD_SEED,
    Server,
    ServingWorld,
    start_server,
    stop_server,
)

from talentmap.generate.world import generate_world
from talentmap.logs import JSON_ENV
from talentmap.serving.auth import hash_key
from talentmap.settings import Settings
from talentmap.settings.model import ModelConfig
from talentmap.settings.training import TrainingConfig
from talentmap.training.pipeline import ranking_file
from talentmap.training.pipeline.retrain import retrain

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STAFF = {"Authorization": f"Bearer {STAFF_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
REQUESTS = 16  # at least this many answers per check...
MAX_REQUESTS = 400  # ...and more until both workers have answered some of them


def _settings(home: Path) -> Settings:
    return Settings(home=home, training=TrainingConfig(model=ModelConfig(num_threads=1)))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    home = tmp_path_factory.mktemp("published-home")
    data = home / "world"
    generate_world(data, WORLD_ORGS, WORLD_SEED)
    settings = _settings(home)
    outcome = retrain(settings, data)
    assert outcome.promoted, outcome.decision_reason
    keys = [
        {"name": "staff-tester", "role": "staff", "sha256": hash_key(STAFF_KEY)},
        {"name": "admin-tester", "role": "admin", "sha256": hash_key(ADMIN_KEY)},
    ]
    env = {
        "TALENTMAP_HOME": str(home),
        "TALENTMAP_SERVING__API_KEYS": json.dumps(keys),
        "TALENTMAP_SERVING__RELOAD_POLL_SECONDS": "0",  # only the pointer carries reloads
        "TALENTMAP_SERVING__WORKERS": "2",
        "TALENTMAP_SERVING__RATE_LIMIT_PER_MINUTE": "0",
        "TALENTMAP_TRAINING__MODEL__NUM_THREADS": "1",
        JSON_ENV: "json",  # the workers' INFO lines, to count them
        "BENTOML_HOME": str(home / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "True",
    }
    started = start_server(ServingWorld(home, settings, env), home / "server.log")
    yield started
    stop_server(started.process)


@pytest.fixture(scope="module")
def client(server: Server) -> httpx.Client:
    # A fresh connection per request: each may land on either worker.
    with httpx.Client(
        base_url=server.url, timeout=60, limits=httpx.Limits(max_keepalive_connections=0)
    ) as http:
        yield http


def _shortlist(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post("/shortlist", json=body, headers=STAFF)
    assert response.status_code == 200, response.text
    return response.json()


def _answering_workers(server: Server, offset: int) -> set[str]:
    """The workers (BentoML's access-log ``component``) that answered /shortlist in the
    log after byte ``offset``."""
    text = server.log_path.read_bytes()[offset:].decode(errors="replace")
    found = set()
    for raw in text.splitlines():
        if "bentoml.access" in raw and "path=/shortlist" in raw:
            found.add(json.loads(raw[raw.index("{") :])["component"])
    return found


def _answers(
    server: Server, client: httpx.Client, check: Callable[[dict[str, Any]], None], **body: Any
) -> None:
    """``check`` every answer, until both workers have answered (at least REQUESTS)."""
    offset = server.log_path.stat().st_size
    for i in range(MAX_REQUESTS):
        check(_shortlist(client, **body))
        if i + 1 >= REQUESTS and len(_answering_workers(server, offset)) >= 2:
            return
    raise AssertionError(f"one worker answered all of {MAX_REQUESTS} requests")


def _log_lines(server: Server, text: str) -> list[dict[str, Any]]:
    found = []
    for raw in server.log_path.read_text(errors="replace").splitlines():
        if text in raw:
            try:
                found.append(json.loads(raw[raw.index("{") :]))
            except ValueError:
                found.append({"raw": raw})
    return found


def _wait_both_workers_ready(server: Server) -> None:
    # /readyz was answered by one worker; the other may still be mapping its file.
    deadline = time.monotonic() + 120
    while len(_log_lines(server, "loaded from the published ranking")) < 2:
        assert time.monotonic() < deadline, "the second worker never loaded the ranking"
        time.sleep(0.5)


def test_the_shortlist_is_the_published_ranking(server: Server, client: httpx.Client) -> None:
    _wait_both_workers_ready(server)
    published = ranking_file.read_ranking(server.world.settings.feature_tables_dir)
    assert published is not None
    top = published.table.slice(0, 20).to_pylist()

    def check(body: dict[str, Any]) -> None:
        rows = body["candidates"]
        assert [r["org_id"] for r in rows] == [t["org_id"] for t in top]
        assert [r["score"] for r in rows] == [t["score"] for t in top]
        assert [r["rank"] for r in rows] == [t["rank"] for t in top]
        assert [r["percentile"] for r in rows] == [t["percentile"] for t in top]
        served = [r["reasons"][0] for r in rows]
        # The file's reason, plus its texts by language (worded on read from its parts).
        assert [{k: v for k, v in r.items() if k != "texts"} for r in served] == [
            json.loads(t["reason_1"]) for t in top
        ]
        assert all(r["texts"]["en"] == r["text"] != r["texts"]["fr"] for r in served)
        assert body["lineage"]["ranking_id"].startswith(published.meta["ranking_id"])
        assert body["lineage"]["model_version"] == published.meta["model_version"]
        assert body["total_candidates"] <= published.meta["rows"]

    _answers(server, client, check, k=20, include_explanations=True)
    model = client.get("/model", headers=STAFF).json()
    assert model["ranking"]["source"] == "published"
    assert len(_log_lines(server, "loaded from the published ranking")) == 2  # both workers


def test_a_forgotten_company_disappears_from_every_worker(
    server: Server, client: httpx.Client
) -> None:
    first = _shortlist(client, k=5)["candidates"]
    gone = first[0]["org_id"]
    response = client.post("/admin/forget", json={"org_ids": [gone]}, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["removed_orgs"] == 1

    def check(body: dict[str, Any]) -> None:  # at once, whichever worker answers
        assert gone not in {c["org_id"] for c in body["candidates"]}

    _answers(server, client, check, k=1000)
    scored = client.post("/score", json={"org_ids": [gone]}, headers=STAFF).json()
    assert scored["results"][0]["status"] == "unknown"


def test_a_new_publish_reaches_both_workers(server: Server, client: httpx.Client) -> None:
    settings = server.world.settings
    before = ranking_file.read_ranking(settings.feature_tables_dir).meta
    outcome = retrain(settings, server.world.home / "world", force=True)
    assert not outcome.skipped
    after = ranking_file.read_ranking(settings.feature_tables_dir).meta
    assert after["ranking_id"] != before["ranking_id"]

    def check(body: dict[str, Any]) -> None:  # no poller: the pointer alone reloads them
        lineage = body["lineage"]
        assert lineage["ranking_id"].startswith(after["ranking_id"]), lineage
        assert lineage["model_version"] == after["model_version"]

    _answers(server, client, check, k=10)
    assert len(_log_lines(server, "(published ranking changed)")) == 2  # one per worker


def _wait_for_log(server: Server, text: str, count: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while len(_log_lines(server, text)) < count:
        assert time.monotonic() < deadline, f"never logged {count} x {text!r}"
        time.sleep(0.3)


def test_an_admin_reload_reaches_both_workers_without_an_error(
    server: Server, client: httpx.Client
) -> None:
    """The champion moved by hand, one ``POST /admin/reload`` while 8 threads hammer
    ``/shortlist`` on fresh connections (both workers answer).

    The poller is off and the move publishes nothing, so only the reload marker can carry
    the reload to the worker that did not answer it, which follows it in the background:
    every answer, from either worker, during and after the reload, is a 200 from the old
    or the new version, each version's answers all the same list (never a mix); once the
    other worker has logged its reload, both answer with the new version only.
    """
    from talentmap.training.tracking.target import activate, resolve_target

    target = resolve_target(server.world.settings)
    query = {"k": 10, "include_explanations": True}
    serving = _shortlist(client, **query)["lineage"]["model_version"]
    with activate(target) as mlflow_client:
        versions = mlflow_client.search_model_versions(f"name='{target.registered_model}'")
        others = sorted({str(v.version) for v in versions} - {str(serving)})
        assert others, "the two retrains registered one version only"
        moved = others[0]
        mlflow_client.set_registered_model_alias(target.registered_model, "champion", moved)

    answers: list[tuple[int, Any]] = []
    lock = threading.Lock()
    done = threading.Event()

    def hammer() -> None:
        with httpx.Client(
            base_url=server.url, timeout=60, limits=httpx.Limits(max_keepalive_connections=0)
        ) as http:
            while not done.is_set() and len(answers) < 4000:
                response = http.post("/shortlist", json=query, headers=STAFF)
                body = response.json() if response.status_code == 200 else response.text
                with lock:
                    answers.append((response.status_code, body))

    with ThreadPoolExecutor(max_workers=8) as pool:
        hammers = [pool.submit(hammer) for _ in range(8)]
        try:
            response = client.post("/admin/reload", json={"force": True}, headers=ADMIN)
            assert response.status_code == 200, response.text
            assert response.json()["model_version"] == moved
            # The other worker followed the marker in the background, and logged it.
            _wait_for_log(server, "reload marker from admin:admin-tester", 1)
        finally:
            done.set()
            for hammered in hammers:
                hammered.result()

    failures = [a for a in answers if a[0] != 200]
    assert not failures, failures[:3]
    seen: dict[str, list[tuple[str, float]]] = {}
    for _, body in answers:
        version = body["lineage"]["model_version"]
        content = [(c["org_id"], c["score"]) for c in body["candidates"]]
        assert seen.setdefault(version, content) == content, "an answer mixed two rankings"
    assert set(seen) <= {str(serving), moved} and moved in seen

    def check(body: dict[str, Any]) -> None:  # whichever worker answers, the moved champion
        assert body["lineage"]["model_version"] == moved, body["lineage"]

    _answers(server, client, check, **query)
    assert len(_log_lines(server, "reload marker from admin:admin-tester")) == 1  # the other
