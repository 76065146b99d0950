"""API keys: hashing, checking, and the ASGI middleware that guards every route.

Keys are random (``new_key``: 32 bytes, URL-safe), so the configuration stores their plain
SHA-256 and a request is checked by hashing the presented key and comparing digests with
``hmac.compare_digest`` against every configured entry (no early exit on the first
match, so timing says nothing about which entry matched).

The middleware runs before BentoML's routing, so it guards BentoML's own routes too:

- public: liveness/readiness (``/livez``, ``/healthz``, ``/readyz``), the web page shells
  (``/``, ``/company/<org_id>``), their static files and translation catalogues
  (``/i18n/<lang>.json``) (they hold no data; the page asks for a key), and the OpenAPI
  schema (``/docs.json``, ``/schema.json``: it describes the API, it holds no data);
- ``/admin/...`` needs the admin role; everything else (``/shortlist``, ``/score``,
  ``/model``, ``/metrics``, ...) needs staff or admin;
- 401 without a valid key, 403 with a valid key of the wrong role, 429 with
  ``Retry-After`` (seconds) when the key is over its rate limit (``limits.py``), 413 for a
  body over the limit, and 503 with the reason on ``/readyz`` while no ranking is loaded (or the
  online store is unreadable); 200 with ``{"ready": true, "warning": ...}`` when ready
  with a warning (the cached champion served while MLflow is unreachable).

The keys are asked for on every request (``keyring`` is a function): the service passes
``KeySource.current`` (``keyfile.py``), which re-reads a changed key file or variable, so
keys rotate without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from talentmap.serving.limits import RateLimiter
from talentmap.settings.serving import ApiKeyEntry, Role

PUBLIC_PATHS: frozenset[str] = frozenset(
    {"/livez", "/healthz", "/readyz", "/", "/index.html", "/docs.json", "/schema.json"}
)
# The page shells and their assets hold no data (the page asks for a key, then fetches
# the data from staff routes): the static files, the translation catalogues, and the
# company page's shell (its data is ``/api/company/<org_id>``, staff).
PUBLIC_PREFIXES: tuple[str, ...] = ("/static/", "/i18n/", "/company/")
ADMIN_PREFIX = "/admin/"
PRINCIPAL_KEY = "talentmap.principal"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

ASGIApp = Callable[..., Any]
# () -> (ready, reason); the reason is shown when not ready.
ReadinessProbe = Callable[[], tuple[bool, str]]


def new_key() -> str:
    """A fresh random API key (256 bits)."""
    return secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The hex SHA-256 of a key, as configured in ``api_keys``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's configured name and role (never the key)."""

    name: str
    role: Role

    def may(self, needed: Role) -> bool:
        return self.role == "admin" or needed == "staff"


class KeyRing:
    """The configured keys, checked in constant time per entry."""

    def __init__(self, entries: Iterable[ApiKeyEntry]) -> None:
        self._entries = tuple((bytes.fromhex(e.sha256), Principal(e.name, e.role)) for e in entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> frozenset[str]:
        return frozenset(p.name for _, p in self._entries)

    def fingerprint(self) -> frozenset[tuple[bytes, Principal]]:
        """What decides every answer: equal fingerprints, equal keyrings."""
        return frozenset(self._entries)

    def authenticate(self, key: str | None) -> Principal | None:
        if not key:
            return None
        digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()
        found = None
        for expected, principal in self._entries:
            if hmac.compare_digest(digest, expected):
                found = principal
        return found

    def from_header(self, value: str | None) -> Principal | None:
        """The principal of an ``Authorization: Bearer <key>`` header value, if valid."""
        if not value:
            return None
        scheme, _, key = value.strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.authenticate(key.strip())


def required_role(path: str) -> Role | None:
    """None for public paths, else the least role the path needs."""
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return None
    return "admin" if path.startswith(ADMIN_PREFIX) else "staff"


def principal_of(scope: dict[str, Any]) -> Principal | None:
    """The principal the middleware attached to this request, if any."""
    found = scope.get(PRINCIPAL_KEY)
    return found if isinstance(found, Principal) else None


async def _json(
    send: Callable[..., Any], status: int, body: dict[str, Any], **headers: str
) -> None:
    payload = json.dumps(body).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


class GuardMiddleware:
    """Authentication, roles, body size limit and readiness reasons, in one ASGI layer.

    ``keyring`` is called on every request (it returns the keys in force: they may
    rotate); ``max_body_bytes`` and ``limiter`` are factories called on first use, inside
    the worker process, so that nothing is read at import time.
    """

    def __init__(
        self,
        app: ASGIApp,
        keyring: Callable[[], KeyRing],
        max_body_bytes: Callable[[], int],
        readiness: ReadinessProbe,
        limiter: Callable[[], RateLimiter | None] | None = None,
    ) -> None:
        self.app = app
        self._keyring_factory = keyring
        self._max_body_factory = max_body_bytes
        self._limiter_factory = limiter
        self._limiter: RateLimiter | None = None
        self._limiter_made = False
        self._max_body: int | None = None
        self.readiness = readiness

    @property
    def keyring(self) -> KeyRing:
        return self._keyring_factory()

    @property
    def limiter(self) -> RateLimiter | None:
        if not self._limiter_made:
            factory = self._limiter_factory
            self._limiter = factory() if factory is not None else None
            self._limiter_made = True
        return self._limiter

    @property
    def max_body(self) -> int:
        if self._max_body is None:
            self._max_body = self._max_body_factory()
        return self._max_body

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path == "/readyz":
            ready, reason = self.readiness()
            if not ready:
                await _json(send, 503, {"ready": False, "reason": reason})
                return
            if reason != "ok":
                # Ready, with a warning to show (e.g. the cached champion is served because
                # MLflow is unreachable; issue 5): BentoML's own answer has an empty body.
                await _json(send, 200, {"ready": True, "warning": reason})
                return
        needed = required_role(path)
        if needed is not None:
            headers = dict(scope.get("headers") or [])
            raw = headers.get(b"authorization")
            principal = self.keyring.from_header(raw.decode("latin-1") if raw else None)
            if principal is None:
                await _json(
                    send,
                    401,
                    {"error": "missing or invalid API key: send 'Authorization: Bearer <key>'"},
                    **{"www-authenticate": 'Bearer realm="talentmap"'},
                )
                return
            if not principal.may(needed):
                await _json(send, 403, {"error": f"this endpoint needs the {needed} role"})
                return
            limiter = self.limiter
            wait = limiter.check(principal.name) if limiter is not None else None
            if wait is not None:
                await _json(
                    send,
                    429,
                    {"error": f"rate limit of key '{principal.name}' exceeded; retry in {wait} s"},
                    **{"retry-after": str(wait)},
                )
                return
            scope[PRINCIPAL_KEY] = principal
        if scope.get("method") in _BODY_METHODS:
            receive = await self._bounded(scope, receive, send)
            if receive is None:
                return
        await self.app(scope, receive, send)

    async def _bounded(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        """Read the whole body (refusing more than the limit) and replay it downstream."""
        limit = self.max_body
        too_large = {"error": f"request body larger than {limit} bytes"}
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _json(send, 413, too_large)
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _json(send, 413, too_large)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay
