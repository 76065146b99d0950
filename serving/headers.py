"""Security headers on every response of the server: the page, its files, the APIs, errors.

The page's ``<meta>`` Content-Security-Policy cannot forbid framing (browsers ignore
``frame-ancestors`` in a meta tag), so the same policy is sent as a header with
``frame-ancestors 'none'`` added, plus ``X-Frame-Options: DENY`` for older browsers,
``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``.

The middleware is registered on the BentoML service (``add_asgi_middleware``) before the
guard, so it wraps the guard's own 401/403/413/429/503 answers, BentoML's routes
(``/shortlist``, ``/readyz``, ``/metrics``, its 404s and validation errors) and the page
app mounted at ``/``. Headers a response already carries are left as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# The page's meta policy (serving/static/index.html), plus what only a header can say.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'"
)
CONTENT_SECURITY_POLICY = f"{PAGE_CSP}; frame-ancestors 'none'"

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
)
_RAW = tuple((k.encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS)


class SecurityHeadersMiddleware:
    """Adds ``SECURITY_HEADERS`` to every HTTP response start message."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {bytes(k).lower() for k, _ in headers}
                headers += [(k, v) for k, v in _RAW if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
