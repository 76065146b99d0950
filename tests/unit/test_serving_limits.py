"""The per-key rate limiter (token buckets on a fake clock), key rotation from a file, the
guard's 429 and the security headers, on a small Starlette app (no server)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from talentmap.serving.auth import GuardMiddleware, KeyRing, Principal, hash_key, new_key
from talentmap.serving.headers import SECURITY_HEADERS, SecurityHeadersMiddleware
from talentmap.serving.keyfile import ENV_VAR, KeySource
from talentmap.serving.limits import RateLimiter, TokenBucket
from talentmap.settings.serving import ApiKeyEntry, ServingConfig


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------ token buckets


def test_bucket_allows_the_burst_then_refuses_with_the_wait() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=6, burst=3, clock=clock)  # one token every 10 s
    assert [limiter.check("sam") for _ in range(3)] == [None, None, None]
    assert limiter.check("sam") == 10
    clock.now += 4.0
    assert limiter.check("sam") == 6  # refused requests take nothing
    clock.now += 6.0
    assert limiter.check("sam") is None
    assert limiter.check("sam") == 10


def test_buckets_are_per_key_and_refill_up_to_the_burst_only() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, burst=2, clock=clock)
    assert limiter.check("a") is None and limiter.check("a") is None
    assert limiter.check("a") == 1
    assert limiter.check("b") is None  # another key has its own bucket
    clock.now += 3600.0  # an hour idle refills to the burst, not to 3600 tokens
    assert [limiter.check("a") for _ in range(3)] == [None, None, 1]


def test_retry_after_rounds_up_and_is_at_least_one_second() -> None:
    bucket = TokenBucket(rate=0.4, burst=1, tokens=0.0, updated=0.0)
    assert bucket.take(0.0) == pytest.approx(2.5)
    clock = FakeClock()
    limiter = RateLimiter(per_minute=24, burst=1, clock=clock)  # 2.5 s per token
    assert limiter.check("x") is None
    assert limiter.check("x") == 3
    clock.now += 2.4
    assert limiter.check("x") == 1  # 0.1 s left: still one whole second


def test_zero_turns_the_limit_off_and_forget_drops_old_names() -> None:
    off = RateLimiter(per_minute=0, burst=1)
    assert not off.enabled and all(off.check("x") is None for _ in range(100))
    clock = FakeClock()
    limiter = RateLimiter(per_minute=1, burst=1, clock=clock)
    assert limiter.check("old") is None and limiter.check("old") == 60
    limiter.forget_except({"new"})
    assert limiter.check("old") is None  # a fresh bucket: the name had been dropped
    with pytest.raises(ValueError):
        RateLimiter(per_minute=-1, burst=1)


def test_the_settings_have_a_limit_on_by_default() -> None:
    config = ServingConfig()
    assert config.rate_limit_per_minute > 0 and config.rate_limit_burst >= 1
    assert config.api_keys_file is None


# ------------------------------------------------------------------ key rotation


def _entry(name: str, key: str, role: str = "staff") -> dict[str, str]:
    return {"name": name, "role": role, "sha256": hash_key(key)}


def _write_atomically(path: Path, entries: list[dict[str, str]]) -> None:
    aside = path.with_suffix(".tmp")
    aside.write_text(json.dumps(entries), encoding="utf-8")
    os.replace(aside, path)


def test_key_file_changes_are_picked_up_after_the_check_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    old, new, fixed = new_key(), new_key(), new_key()
    path = tmp_path / "keys.json"
    _write_atomically(path, [_entry("rotating", old)])
    clock = FakeClock()
    seen: list[KeyRing] = []
    source = KeySource(
        [ApiKeyEntry(**_entry("fixed", fixed))], path, 5.0, clock=clock, on_change=seen.append
    )
    assert source.current().authenticate(old) == Principal("rotating", "staff")
    assert source.current().authenticate(fixed) == Principal("fixed", "staff")
    _write_atomically(path, [_entry("rotating", new, role="admin")])
    assert source.current().authenticate(old) is not None  # not checked again yet
    clock.now += 5.0
    ring = source.current()
    assert ring.authenticate(old) is None
    assert ring.authenticate(new) == Principal("rotating", "admin")
    assert ring.authenticate(fixed) == Principal("fixed", "staff")  # configured keys stay
    assert len(seen) == 2 and seen[-1] is ring


def test_a_broken_key_file_keeps_the_previous_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    key, other = new_key(), new_key()
    path = tmp_path / "keys.json"
    _write_atomically(path, [_entry("k", key)])
    clock = FakeClock()
    source = KeySource([], path, 0.0, clock=clock)
    path.write_text('[{"name": "k", "role": "staff", "sha256": "trunc', encoding="utf-8")
    assert source.current().authenticate(key) == Principal("k", "staff")
    assert source.problem is not None and "previous keys stay in force" in source.problem
    _write_atomically(path, [_entry("k", key), _entry("k", other)])  # a repeated name
    assert source.current().authenticate(key) is not None and "repeated" in source.problem
    _write_atomically(path, [_entry("k", other)])
    assert source.current().authenticate(other) is not None and source.problem is None
    path.unlink()  # no file: only the configured keys (here none)
    assert len(source.current()) == 0


def test_the_variable_is_reread_when_it_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = new_key(), new_key()
    monkeypatch.setenv(ENV_VAR, json.dumps([_entry("env", first)]))
    configured = [ApiKeyEntry(**_entry("env", first))]
    source = KeySource(configured, None, 0.0)
    assert source.current().authenticate(first) is not None
    monkeypatch.setenv(ENV_VAR, json.dumps([_entry("env", second)]))
    assert source.current().authenticate(first) is None
    assert source.current().authenticate(second) == Principal("env", "staff")


# ------------------------------------------------------------------ the guard and headers


def _app(ring: KeyRing, limiter: RateLimiter | None) -> TestClient:
    async def ok(_: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def page(_: Request) -> PlainTextResponse:
        return PlainTextResponse("page")

    app = Starlette(routes=[Route("/shortlist", ok, methods=["POST"]), Route("/", page)])
    app.add_middleware(
        GuardMiddleware,
        keyring=lambda: ring,
        max_body_bytes=lambda: 1024,
        readiness=lambda: (False, "loading"),
        limiter=lambda: limiter,
    )
    app.add_middleware(SecurityHeadersMiddleware)  # Starlette: the last added is outermost
    return TestClient(app)


def test_guard_answers_429_with_retry_after_per_key() -> None:
    sam, ada = new_key(), new_key()
    ring = KeyRing([ApiKeyEntry(**_entry("sam", sam)), ApiKeyEntry(**_entry("ada", ada))])
    clock = FakeClock()
    client = _app(ring, RateLimiter(per_minute=2, burst=2, clock=clock))
    as_sam = {"Authorization": f"Bearer {sam}"}
    assert [client.post("/shortlist", headers=as_sam).status_code for _ in range(2)] == [200, 200]
    refused = client.post("/shortlist", headers=as_sam)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "30"
    assert "sam" in refused.json()["error"]
    assert client.post("/shortlist", headers={"Authorization": f"Bearer {ada}"}).status_code == 200
    assert client.get("/").status_code == 200  # public paths are not limited
    assert client.post("/shortlist").status_code == 401  # no key: 401, not 429
    clock.now += 30.0
    assert client.post("/shortlist", headers=as_sam).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/", 200), ("POST", "/shortlist", 401), ("GET", "/readyz", 503), ("GET", "/x", 401)],
)
def test_every_answer_carries_the_security_headers(method: str, path: str, status: int) -> None:
    client = _app(KeyRing([]), None)
    response = client.request(method, path)
    assert response.status_code == status
    for name, value in SECURITY_HEADERS:
        assert response.headers[name] == value
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_the_header_policy_keeps_what_the_page_meta_policy_allows() -> None:
    from talentmap.serving.headers import CONTENT_SECURITY_POLICY, PAGE_CSP
    from talentmap.serving.web import STATIC_DIR

    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    assert f'content="{PAGE_CSP}"' in page  # the header and the meta tag say the same
    assert CONTENT_SECURITY_POLICY.startswith(PAGE_CSP)
