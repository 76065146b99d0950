"""The shortlist service under faults (issue 5, §3), as a real server over HTTP.

- MLflow unreachable at start: the server that ran once normally cached its champion
  locally; started again with the tracking URI pointing at a closed port, it serves that
  champion, ready, with the warning in ``/readyz`` and ``GET /model``.
- Online store unreadable while running (``online.db`` replaced by garbage): the poller's
  probe finds it, readiness fails with the reason, ``/shortlist`` and ``/score`` answer
  503 with a clear message (never a stale or partial answer, never a 500), a reload is
  refused; once the file is back the service recovers by itself, with the same answers.
- Online store unreadable at start (the live ``data/feast`` link points nowhere): never
  ready, the reason is on ``/readyz``, ``/shortlist`` is 503; fixing the link heals it.

Decision (documented in ``serving/state.py``): while the online store cannot be read,
the service refuses to answer rather than serve the ranking it holds in memory, because
that ranking can no longer be checked against the store, readiness already tells load
balancers to stop sending traffic, and ``/score`` needs the store anyway.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import httpx
import pytest
from faults_world import Launched, copy_world, pristine_world
from test_serving_world import ADMIN_KEY, STAFF_KEY, ServingWorld, free_port, wait_confirmed

from talentmap.serving.audit import read_audit

pytestmark = pytest.mark.e2e

STAFF = {"Authorization": f"Bearer {STAFF_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
FAULT_WAIT_S = 60


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> ServingWorld:
    pristine = pristine_world(tmp_path_factory)
    return copy_world(pristine, tmp_path_factory.mktemp("faults-service") / "home")


@pytest.fixture(scope="module")
def server(world: ServingWorld) -> Iterator[Launched]:
    """The server started normally (it caches the champion as it loads it)."""
    launched = Launched(world, world.home / "server-normal.log")
    try:
        launched.wait_ready()
        wait_confirmed(launched.url, launched.log)
        yield launched
    finally:
        launched.stop()


def shortlist_ids(url: str) -> list[tuple[str, float]]:
    response = httpx.post(f"{url}/shortlist", json={"k": 20}, headers=STAFF, timeout=30)
    assert response.status_code == 200, response.text
    return [(c["org_id"], c["score"]) for c in response.json()["candidates"]]


def wait_for_reason(launched: Launched, needle: str) -> str:
    """The not-ready reason once it mentions ``needle`` (the first load may be running)."""
    deadline = time.monotonic() + FAULT_WAIT_S
    reason = ""
    while time.monotonic() < deadline:
        response = httpx.get(f"{launched.url}/readyz", timeout=5)
        assert response.status_code == 503, response.text
        reason = response.json()["reason"]
        if needle in reason:
            return reason
        time.sleep(0.3)
    raise AssertionError(f"readiness never said {needle!r}; last reason: {reason}")


def shortlist_lines(world: ServingWorld) -> int:
    return sum(r["event"] == "shortlist" for r in read_audit(world.audit_path))


def test_online_store_unreadable_while_running(server: Launched, world: ServingWorld) -> None:
    before = shortlist_ids(server.url)
    assert before
    online = world.settings.feature_store_dir / "online.db"
    original = online.read_bytes()
    audited = shortlist_lines(world)
    garbage = online.with_name("online.db.garbage")
    garbage.write_bytes(b"this is not a database\x00" * 512)
    os.replace(garbage, online)  # a new file under the old name, as a bad copy would leave
    try:
        refused = server.wait_ready(ready=False, timeout=FAULT_WAIT_S)  # found by the poller
        reason = refused.json()["reason"]
        assert "online store unreadable" in reason and "not a database" in reason
        answer = httpx.post(f"{server.url}/shortlist", json={"k": 5}, headers=STAFF, timeout=30)
        assert answer.status_code == 503
        assert "online store unreadable" in answer.json()["error"]
        top = before[0][0]
        scored = httpx.post(f"{server.url}/score", json={"org_ids": [top]}, headers=STAFF)
        assert scored.status_code == 503 and "online store unreadable" in scored.json()["error"]
        reload = httpx.post(f"{server.url}/admin/reload", json={}, headers=ADMIN, timeout=60)
        assert reload.status_code == 503 and "reload failed" in reload.json()["error"]
        assert httpx.get(f"{server.url}/readyz").status_code == 503
        assert httpx.get(f"{server.url}/livez").status_code == 200  # alive, just not ready
        assert shortlist_lines(world) == audited  # refused requests are not shortlists
    finally:
        restored = online.with_name("online.db.restored")
        restored.write_bytes(original)
        os.replace(restored, online)
    server.wait_ready(ready=True, timeout=FAULT_WAIT_S)  # recovers without a restart
    assert shortlist_ids(server.url) == before
    assert shortlist_lines(world) == audited + 1


def test_mlflow_unreachable_at_start_serves_the_cached_champion(
    server: Launched, world: ServingWorld
) -> None:
    model = httpx.get(f"{server.url}/model", headers=STAFF).json()
    assert model["source"] == "registry" and model["warning"] is None
    ready = httpx.get(f"{server.url}/readyz")
    assert ready.status_code == 200 and "warning" not in ready.text  # nothing to warn about
    before = shortlist_ids(server.url)
    server.stop()
    current = world.home / "data" / "serving" / "champion" / "current.json"
    assert json.loads(current.read_text())["version"] == model["version"]

    unreachable = {
        # A closed loopback port: connection refused at once, as for a server that is down.
        "TALENTMAP_TRACKING__URI": f"http://127.0.0.1:{free_port()}",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
    }
    cached = Launched(world, world.home / "server-no-mlflow.log", unreachable)
    try:
        ready = cached.wait_ready()
        warning = ready.json()["warning"]
        assert "MLflow registry unreachable" in warning
        assert f"cached champion version {model['version']}" in warning
        info = httpx.get(f"{cached.url}/model", headers=STAFF).json()
        assert info["source"] == "cache" and info["warning"] == warning
        assert info["version"] == model["version"] and info["run_id"] == model["run_id"]
        assert shortlist_ids(cached.url) == before  # the same model, the same answer
    finally:
        cached.stop()


def test_online_store_unreadable_at_start(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    world = copy_world(
        pristine_world(tmp_path_factory), tmp_path_factory.mktemp("faults-start") / "home"
    )
    live = world.settings.feature_store_dir
    aside = live.with_name("feast-aside")
    live.rename(aside)
    live.symlink_to(live.with_name("feast-version-that-was-deleted"), target_is_directory=True)
    launched = Launched(world, world.home / "server-no-store.log")
    try:
        reason = wait_for_reason(launched, "online store unreadable")
        assert "feast-version-that-was-deleted" in reason  # says where it points
        answer = httpx.post(f"{launched.url}/shortlist", json={}, headers=STAFF, timeout=30)
        assert answer.status_code == 503 and "/readyz" in answer.json()["error"]
        assert not world.audit_path.exists() or shortlist_lines(world) == 0
        # Point the link back at a store: it heals without a restart.
        live.unlink()
        live.symlink_to(aside, target_is_directory=True)
        launched.wait_ready(ready=True, timeout=FAULT_WAIT_S)
        assert shortlist_ids(launched.url)
    finally:
        launched.stop()
