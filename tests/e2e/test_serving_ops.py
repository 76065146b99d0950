"""Operations of the real server over HTTP: security headers on every answer, the per-key
rate limit (429 + Retry-After), and key rotation from the key file without a restart.

A second server on the session's serving world (``test_serving_world``), with a small rate
limit and a key file, so the main server's tests are not throttled by it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_serving_world import STAFF_KEY, Server, serving_server, start_server, stop_server

from talentmap.serving.auth import hash_key
from talentmap.serving.headers import SECURITY_HEADERS

pytestmark = pytest.mark.e2e

LIMITED_KEY = "limited-key-for-tests-only-0123456789abcdef"
HEADERS_KEY = "headers-key-for-tests-only-0123456789abcdef"
OLD_KEY = "old-rotating-key-for-tests-only-0123456789"
NEW_KEY = "new-rotating-key-for-tests-only-0123456789"
CHECK_SECONDS = 0.5
PER_MINUTE, BURST = 6, 3  # one token every 10 s


def _entry(name: str, key: str) -> dict[str, str]:
    return {"name": name, "role": "staff", "sha256": hash_key(key)}


def write_keys(path: Path, entries: list[dict[str, str]]) -> None:
    """Rotate the way docs/OPERATIONS.md says: write aside, then rename over."""
    aside = path.with_name(path.name + ".new")
    aside.write_text(json.dumps(entries), encoding="utf-8")
    os.replace(aside, path)


@pytest.fixture(scope="module")
def ops(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Path]]:
    main = serving_server(request, tmp_path_factory)  # the trained, promoted world
    home = main.world.home
    key_file = home / "ops-keys.json"
    write_keys(
        key_file,
        [
            _entry("limited", LIMITED_KEY),
            _entry("headers", HEADERS_KEY),
            _entry("rotating", OLD_KEY),
        ],
    )
    env = {
        **main.world.env,
        "TALENTMAP_SERVING__API_KEYS_FILE": str(key_file),
        "TALENTMAP_SERVING__KEYS_CHECK_SECONDS": str(CHECK_SECONDS),
        "TALENTMAP_SERVING__RATE_LIMIT_PER_MINUTE": str(PER_MINUTE),
        "TALENTMAP_SERVING__RATE_LIMIT_BURST": str(BURST),
        "TALENTMAP_SERVING__RELOAD_POLL_SECONDS": "0",
        "TALENTMAP_SERVING__AUDIT_LOG": str(home / "data" / "audit" / "ops.jsonl"),
        "TALENTMAP_SERVING__CACHE_DIR": str(home / "data" / "serving-ops"),
    }
    world = dataclasses.replace(main.world, env=env)
    server = start_server(world, home / "ops-server.log")
    try:
        yield server, key_file
    finally:
        stop_server(server.process)


@pytest.fixture(scope="module")
def client(ops: tuple[Server, Path]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ops[0].url, timeout=60) as http:
        yield http


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_security_headers_on_every_kind_of_answer(client: httpx.Client) -> None:
    answers = {
        "page": client.get("/"),
        "static file": client.get("/static/app.js"),
        "readiness (BentoML)": client.get("/readyz"),
        "liveness (BentoML)": client.get("/livez"),
        "API (BentoML)": client.post("/shortlist", json={"k": 2}, headers=_bearer(HEADERS_KEY)),
        "401": client.post("/shortlist", json={"k": 2}),
        "404": client.get("/no-such-route", headers=_bearer(HEADERS_KEY)),
        "400 (BentoML validation)": client.post(
            "/shortlist", json={"k": 0}, headers=_bearer(STAFF_KEY)
        ),
    }
    statuses = {name: r.status_code for name, r in answers.items()}
    assert statuses == {
        "page": 200,
        "static file": 200,
        "readiness (BentoML)": 200,
        "liveness (BentoML)": 200,
        "API (BentoML)": 200,
        "401": 401,
        "404": 404,
        "400 (BentoML validation)": 400,
    }
    for name, response in answers.items():
        for header, value in SECURITY_HEADERS:
            assert response.headers.get(header) == value, (name, header)
    csp = answers["page"].headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert answers["page"].headers["x-frame-options"] == "DENY"


def test_rate_limit_answers_429_with_retry_after(client: httpx.Client) -> None:
    limited = _bearer(LIMITED_KEY)
    statuses = [client.get("/filters", headers=limited).status_code for _ in range(BURST)]
    assert statuses == [200] * BURST
    refused = client.get("/filters", headers=limited)
    assert refused.status_code == 429, refused.text
    wait = int(refused.headers["retry-after"])
    assert 1 <= wait <= 60 / PER_MINUTE
    assert "limited" in refused.json()["error"]
    assert refused.headers["x-content-type-options"] == "nosniff"
    # Another key is not slowed down by this one.
    assert client.get("/filters", headers=_bearer(HEADERS_KEY)).status_code == 200


def test_rotating_the_key_file_needs_no_restart(
    client: httpx.Client, ops: tuple[Server, Path]
) -> None:
    server, key_file = ops
    assert client.get("/model", headers=_bearer(OLD_KEY)).status_code == 200
    assert client.get("/model", headers=_bearer(NEW_KEY)).status_code == 401
    write_keys(
        key_file,
        [
            _entry("limited", LIMITED_KEY),
            _entry("headers", HEADERS_KEY),
            _entry("rotated", NEW_KEY),
        ],
    )
    time.sleep(CHECK_SECONDS * 3)
    assert client.get("/model", headers=_bearer(OLD_KEY)).status_code == 401
    assert client.get("/model", headers=_bearer(NEW_KEY)).status_code == 200
    assert server.process.poll() is None  # the same process throughout
