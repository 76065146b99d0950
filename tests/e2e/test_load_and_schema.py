"""Load and hostile requests against the real server (issue 5, §4).

- A bounded load test on loopback: 2,000 requests (``/shortlist`` with varied filters,
  some ``/score``) at concurrency 32, while a new champion version is promoted and hot
  reloaded (``POST /admin/reload``) and a shortlisted organisation is forgotten
  (``POST /admin/forget``). Required: zero 5xx (every request answered 200), no lost
  audit line (one valid JSON line per successful shortlist), and no shortlist started
  after the forget answered lists the forgotten organisation. The time limit is only a
  guard against a hang, not a speed goal.
- Schemathesis against the service's own OpenAPI schema (``/docs.json``): for every
  operation, bounded generated requests, valid and invalid, sent with a key (the admin
  key, which may also read); every response must be a non-5xx that matches the schema.

Runs on a private copy of the session's small fault world (``faults_world``), so the
forget does not leak into other modules' servers.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from faults_world import Launched, copy_world, pristine_world
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from test_serving_world import ADMIN_KEY, STAFF_KEY, ServingWorld

from talentmap.serving.regions import MAP_REGIONS
from talentmap.training.tracking.target import activate, resolve_target

pytestmark = pytest.mark.e2e

STAFF = {"Authorization": f"Bearer {STAFF_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
REQUESTS, CONCURRENCY = 2000, 32
HANG_GUARD_S = 300  # a hung server fails the test instead of blocking the suite
EXAMPLES = {"/admin/reload": 5}  # each reload rebuilds the ranking: few, it has one field
DEFAULT_EXAMPLES = 30


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> ServingWorld:
    pristine = pristine_world(tmp_path_factory)
    return copy_world(pristine, tmp_path_factory.mktemp("load-and-schema") / "home")


@pytest.fixture(scope="module")
def server(world: ServingWorld) -> Iterator[Launched]:
    launched = Launched(world, world.home / "server.log")
    try:
        launched.wait_ready()
        yield launched
    finally:
        launched.stop()


def register_new_version(world: ServingWorld) -> str:
    """The champion's model registered again as a new version: a promotion to reload,
    without the cost of training another model."""
    target = resolve_target(world.settings)
    with activate(target) as client:
        current = client.get_model_version_by_alias(target.registered_model, "champion")
        new = client.create_model_version(
            target.registered_model, current.source, run_id=current.run_id
        )
        return str(new.version)


def move_champion(world: ServingWorld, version: str) -> None:
    target = resolve_target(world.settings)
    with activate(target) as client:
        client.set_registered_model_alias(target.registered_model, "champion", version)


@dataclass
class Answer:
    path: str
    status: int
    started: float
    body: dict[str, Any] | None


@dataclass
class LoadRun:
    answers: list[Answer] = field(default_factory=list)
    sent: int = 0


def _request(rng: random.Random, score_ids: list[str]) -> tuple[str, dict[str, Any]]:
    if rng.random() < 0.1:
        return "/score", {"org_ids": rng.sample(score_ids, k=min(3, len(score_ids)))}
    body: dict[str, Any] = {"k": rng.choice([5, 20, 50, 200])}
    if rng.random() < 0.3:
        body["region"] = rng.choice(MAP_REGIONS)
    if rng.random() < 0.5:
        body["include_explanations"] = False
    return "/shortlist", body


async def _load(url: str, score_ids: list[str], events: Any) -> LoadRun:
    run = LoadRun()
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def worker(seed: int) -> None:
            rng = random.Random(seed)
            while run.sent < REQUESTS:
                run.sent += 1
                path, body = _request(rng, score_ids)
                started = time.monotonic()
                response = await client.post(path, json=body, headers=STAFF)
                payload = response.json() if response.status_code == 200 else None
                run.answers.append(Answer(path, response.status_code, started, payload))

        await asyncio.gather(*(worker(i) for i in range(CONCURRENCY)), events(run))
    return run


def test_load_with_hot_reload_and_forget(server: Launched, world: ServingWorld) -> None:
    first = httpx.post(f"{server.url}/shortlist", json={"k": 50}, headers=STAFF, timeout=60)
    assert first.status_code == 200
    top = [c["org_id"] for c in first.json()["candidates"]]
    old_version = first.json()["lineage"]["model_version"]
    victim = top[3]  # shortlisted in most answers (k >= 5 without region filter)
    audit_start = world.audit_path.stat().st_size
    new_version = register_new_version(world)
    forgotten_at: list[float] = []
    reloads: list[httpx.Response] = []

    async def events(run: LoadRun) -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as admin:
            while run.sent < REQUESTS // 3:
                await asyncio.sleep(0.01)
            await asyncio.to_thread(move_champion, world, new_version)
            reloads.append(await admin.post("/admin/reload", json={"force": True}, headers=ADMIN))
            while run.sent < 2 * REQUESTS // 3:
                await asyncio.sleep(0.01)
            forget = await admin.post("/admin/forget", json={"org_ids": [victim]}, headers=ADMIN)
            assert forget.status_code == 200, forget.text
            forgotten_at.append(time.monotonic())

    run = asyncio.run(asyncio.wait_for(_load(server.url, top, events), HANG_GUARD_S))

    assert len(run.answers) == REQUESTS
    statuses: dict[int, int] = {}
    for answer in run.answers:
        statuses[answer.status] = statuses.get(answer.status, 0) + 1
    assert statuses == {200: REQUESTS}, statuses  # zero 5xx, and nothing refused either
    assert reloads and reloads[0].status_code == 200, reloads[0].text
    assert reloads[0].json()["model_version"] == new_version
    shortlists = [a for a in run.answers if a.path == "/shortlist"]
    versions = {a.body["lineage"]["model_version"] for a in shortlists}
    assert versions == {old_version, new_version}  # answers before and after the reload
    after_forget = [a for a in shortlists if a.started > forgotten_at[0]]
    assert after_forget, "some shortlists must have started after the forget"
    for answer in after_forget:
        assert victim not in {c["org_id"] for c in answer.body["candidates"]}

    # No lost audit line: exactly one valid JSON line per successful shortlist.
    with world.audit_path.open("rb") as handle:
        handle.seek(audit_start)
        lines = handle.read().decode("utf-8").splitlines()
    records = [json.loads(line) for line in lines]  # each line is whole, valid JSON
    audited = [r for r in records if r["event"] == "shortlist"]
    assert len(audited) == len(shortlists)
    assert sorted(r["ranking_id"] for r in audited) == sorted(
        a.body["lineage"]["ranking_id"] for a in shortlists
    )
    assert {r["event"] for r in records} == {"shortlist", "score", "reload", "forget"}


# ------------------------------------------------------------------ schemathesis


def _examples(path: str) -> int:
    return EXAMPLES.get(path, DEFAULT_EXAMPLES)


def test_every_operation_answers_per_its_schema(server: Launched) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/docs.json", timeout=30)
    operations = [result.ok() for result in schema.get_all_operations()]
    paths = {op.path for op in operations}
    assert {"/shortlist", "/score", "/admin/reload", "/admin/forget"} <= paths
    checks = [not_a_server_error, response_schema_conformance]
    tested = []
    for operation in operations:
        strategy = st.one_of(
            operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
            operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
        )

        @settings(
            max_examples=_examples(operation.path),
            deadline=None,
            derandomize=True,  # the same requests on every run: a failure reproduces
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=strategy)
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=server.url, headers=ADMIN, checks=checks, timeout=60)
            tested.append(case.operation.path)

        call()
    # Every operation was exercised, the main ones many times (not one trivial example).
    assert {op.path for op in operations} == set(tested)
    assert tested.count("/shortlist") >= DEFAULT_EXAMPLES // 2
    assert tested.count("/score") >= DEFAULT_EXAMPLES // 2
