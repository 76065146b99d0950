"""API keys and the guard middleware: 401 / 403 / 413, public paths, readiness reasons."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from talentmap.serving.auth import (
    GuardMiddleware,
    KeyRing,
    Principal,
    hash_key,
    new_key,
    principal_of,
    required_role,
)
from talentmap.settings.serving import ApiKeyEntry

STAFF, ADMIN = new_key(), new_key()
RING = KeyRing(
    [
        ApiKeyEntry(name="sam", role="staff", sha256=hash_key(STAFF)),
        ApiKeyEntry(name="ada", role="admin", sha256=hash_key(ADMIN)),
    ]
)


def test_keys_are_random_and_hashed_to_hex() -> None:
    assert STAFF != ADMIN and len(STAFF) >= 40
    digest = hash_key("abc")
    assert digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_keyring_finds_the_holder_and_refuses_others() -> None:
    assert RING.authenticate(STAFF) == Principal("sam", "staff")
    assert RING.authenticate(ADMIN) == Principal("ada", "admin")
    assert RING.authenticate(STAFF + "x") is None
    assert RING.authenticate("") is None
    assert RING.from_header(f"Bearer {ADMIN}") == Principal("ada", "admin")
    assert RING.from_header(f"bearer   {ADMIN}  ") == Principal("ada", "admin")
    assert RING.from_header(f"Basic {ADMIN}") is None
    assert RING.from_header(ADMIN) is None
    assert RING.from_header(None) is None
    assert KeyRing([]).authenticate(STAFF) is None


def test_roles() -> None:
    staff, admin = Principal("s", "staff"), Principal("a", "admin")
    assert staff.may("staff") and not staff.may("admin")
    assert admin.may("staff") and admin.may("admin")
    assert required_role("/readyz") is None and required_role("/static/app.js") is None
    assert required_role("/") is None and required_role("/docs.json") is None
    assert required_role("/shortlist") == "staff" and required_role("/metrics") == "staff"
    assert required_role("/admin/reload") == "admin"


@pytest.fixture()
def client() -> TestClient:
    ready = {"value": (False, "loading the champion")}

    async def echo(request: Request) -> JSONResponse:
        who = principal_of(request.scope)
        body = await request.body()
        return JSONResponse({"who": who.name if who else None, "body": body.decode()})

    async def ok(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[
            Route("/shortlist", echo, methods=["POST"]),
            Route("/admin/reload", echo, methods=["POST"]),
            Route("/readyz", ok),
            Route("/", ok),
        ]
    )
    app.add_middleware(
        GuardMiddleware,
        keyring=lambda: RING,
        max_body_bytes=lambda: 1024,
        readiness=lambda: ready["value"],
    )
    test_client = TestClient(app)
    test_client.ready = ready  # type: ignore[attr-defined]
    return test_client


def test_guard(client: TestClient) -> None:
    assert client.get("/").status_code == 200  # public page
    missing = client.post("/shortlist", json={})
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert client.post("/shortlist", headers={"Authorization": "Bearer nope"}).status_code == 401
    staff = {"Authorization": f"Bearer {STAFF}"}
    answer = client.post("/shortlist", content=b'{"k": 3}', headers=staff)
    assert answer.json() == {"who": "sam", "body": '{"k": 3}'}  # body replayed intact
    assert client.post("/admin/reload", headers=staff).status_code == 403
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert client.post("/admin/reload", headers=admin).json()["who"] == "ada"
    assert client.post("/unknown", headers=staff).status_code == 404  # after auth, not before


def test_body_limit(client: TestClient) -> None:
    staff = {"Authorization": f"Bearer {STAFF}"}
    assert client.post("/shortlist", content=b"x" * 1024, headers=staff).status_code == 200
    too_big = client.post("/shortlist", content=b"x" * 1025, headers=staff)
    assert too_big.status_code == 413 and "1024" in too_big.json()["error"]

    def chunks():  # no content-length: counted while streaming
        for _ in range(4):
            yield b"y" * 400

    assert client.post("/shortlist", content=chunks(), headers=staff).status_code == 413


def test_readiness_gives_the_reason(client: TestClient) -> None:
    waiting = client.get("/readyz")
    assert waiting.status_code == 503
    assert waiting.json() == {"ready": False, "reason": "loading the champion"}
    client.ready["value"] = (True, "ok")  # type: ignore[attr-defined]
    assert client.get("/readyz").status_code == 200
