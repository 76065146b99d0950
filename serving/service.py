"""The BentoML shortlist service (BentoML >= 1.2 style: a class, ``@bentoml.api`` methods).

Run it with ``talentmap serve`` or ``bentoml serve talentmap.serving.service:TalentMapService``.
Configuration comes from the environment (``TALENTMAP_*``; see ``ServingConfig``)
because ``bentoml serve`` starts the service in worker processes.

Start-up returns at once and loads in a background thread: ``/readyz`` answers 503 with
the reason until a ranking can be served — the published file as soon as it is mapped
(the registry confirms its champion right after), else every candidate ranked — then 200.
This module imports no heavy library (``bentoml serve`` imports it in its arbiter too):
the state comes with ``TalentMapService.__init__``, in the worker. Requests
read ``state.served`` once and answer from that object only (see ``state.py``).

Routes: POST ``/shortlist``, ``/score``, ``/admin/reload``, ``/admin/forget`` (here);
GET ``/``, ``/static/*``, ``/model``, ``/filters`` (``web.py``), ``/watchlists…``
(``watch_routes.py``); BentoML's own
``/livez``, ``/healthz``, ``/readyz``, ``/metrics`` and ``/docs.json`` (OpenAPI).
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any

import anyio
import bentoml
from starlette.responses import JSONResponse

from talentmap import logs
from talentmap.serving.answers import NOT_READY, audited_shortlist, score_items
from talentmap.serving.audit import AuditLog
from talentmap.serving.auth import GuardMiddleware, KeyRing, Principal, principal_of
from talentmap.serving.headers import SecurityHeadersMiddleware
from talentmap.serving.keyfile import KeySource
from talentmap.serving.limits import RateLimiter
from talentmap.serving.schemas import (
    ForgetRequest,
    ForgetResponse,
    ReloadRequest,
    ReloadResponse,
    ScoreRequest,
    ScoreResponse,
    ShortlistRequest,
    ShortlistResponse,
)
from talentmap.serving.web import build_web_app
from talentmap.settings import get_settings

if TYPE_CHECKING:
    from talentmap.serving.state import Served, ServingState


def _worker_logging() -> None:
    """The worker's entry point: our warning policy, and JSON lines when ``talentmap
    serve`` runs redirected (BentoML configured the handlers; only their format changes)."""
    logs.quiet_third_party_warnings()
    if os.environ.get(logs.JSON_ENV) == "json":
        logs.json_handlers_for(("bentoml", "bentoml.access", "uvicorn", "talentmap"), "serve")
        logging.getLogger("talentmap").setLevel(logging.INFO)


_worker_logging()


class _Runtime:
    """Lets the middleware and the mounted app reach the service instance's state.

    Both are built by BentoML before the instance exists, in the same worker process.
    """

    state: ServingState | None = None
    audit: AuditLog | None = None

    def served(self) -> Served | None:
        return self.state.current() if self.state is not None else None

    def fresh(self) -> Served | None:
        """``served`` after following a new publish or reload, as the POST APIs do
        (blocking)."""
        return self.state.catch_up() if self.state is not None else None

    def readiness(self) -> tuple[bool, str]:
        if self.state is None:
            return False, "starting: the service instance is not created yet"
        return self.state.readiness()


RUNTIME = _Runtime()


def _document_validation_errors() -> None:
    """Make the published schema of error answers say what BentoML actually sends.

    BentoML declares ``detail`` of its 400 answer (``InvalidArgument``) as a string, but
    sends pydantic's list of validation errors there, so every invalid request got an
    answer that contradicts ``/docs.json`` (found by Schemathesis, issue 5). The schema
    objects come from an ``lru_cache``d function of BentoML, so correcting them once, in
    memory, corrects every generated spec. Private API: ``test_load_and_schema`` fails
    if a BentoML upgrade changes it.
    """
    from bentoml._internal.service.openapi.specification import Schema
    from bentoml._internal.service.openapi.utils import exception_components_schema

    detail = Schema(
        title="Error Detail",
        description="A message, or the list of validation errors (one object each).",
        anyOf=[Schema(type="string"), Schema(type="array", items=Schema(type="object"))],
    )
    for schema in exception_components_schema().values():
        if schema.properties and "detail" in schema.properties:
            schema.properties["detail"] = detail


_document_validation_errors()


class _Keys:
    """The worker's key source and rate limiter, made on the first request."""

    def __init__(self) -> None:
        self._source: KeySource | None = None
        self._limiter: RateLimiter | None = None

    def limiter(self) -> RateLimiter | None:
        if self._limiter is None:
            config = get_settings().serving
            self._limiter = RateLimiter(config.rate_limit_per_minute, config.rate_limit_burst)
        return self._limiter if self._limiter.enabled else None

    def current(self) -> KeyRing:
        if self._source is None:
            settings = get_settings()
            config = settings.serving
            key_file = settings.path(config.api_keys_file) if config.api_keys_file else None
            limiter = self.limiter()
            self._source = KeySource(
                config.api_keys,
                key_file,
                config.keys_check_seconds,
                on_change=(lambda ring: limiter.forget_except(ring.names())) if limiter else None,
            )
        return self._source.current()


KEYS = _Keys()


def _max_body() -> int:
    return get_settings().serving.max_body_bytes


def _error(ctx: bentoml.Context, status: int, message: str) -> JSONResponse:
    # BentoML overwrites a returned response's status with ``ctx.response.status_code``
    # (200 unless set) whenever the API takes a context: without this line every error
    # below went out as "200 OK" with an error body (found by the issue 5 fault tests).
    ctx.response.status_code = status
    return JSONResponse({"error": message}, status_code=status)


def _caller(ctx: bentoml.Context) -> Principal:
    # The guard middleware sets it on every non-public route; absence is a server bug.
    found = principal_of(ctx.request.scope)
    if found is None:
        raise RuntimeError("request reached an API without an authenticated principal")
    return found


def _workers() -> int:
    # ``bentoml serve`` imports this module in its arbiter and its workers, with the
    # environment of ``talentmap serve``: the count comes from the settings.
    return get_settings().serving.workers


@bentoml.service(
    name="talentmap",
    workers=_workers(),
    traffic={"timeout": 300},
    metrics={"enabled": True},
)
@bentoml.asgi_app(build_web_app(RUNTIME.served, lambda: RUNTIME.audit, RUNTIME.fresh), path="/")
class TalentMapService:
    """Ranked, explained shortlists of promising young companies."""

    def __init__(self) -> None:
        settings = get_settings()
        self.config = settings.serving
        # Imported here, in the worker: the state brings numpy, pyarrow and pandas, which
        # ``bentoml serve``'s arbiter (it imports this module too) does not need.
        from talentmap.serving.state import ServingState

        self.state = ServingState(settings, self.config)
        self.audit = AuditLog(settings.path(self.config.audit_log))
        RUNTIME.state = self.state
        RUNTIME.audit = self.audit
        self.state.start()

    def __is_ready__(self) -> bool:
        return self.state.readiness()[0]

    async def _served(self) -> Served | None:
        """What this request answers from: follows a new publish (every worker does, on
        its next request), follows ``/admin/reload`` answered by another worker, and drops
        subjects forgotten through any worker."""
        state = self.state
        served = state.current()
        if served is None:
            served = await self._first_load()
        # Checked on the loop (a ``stat`` each). A new publish is followed off the loop
        # before answering; another worker's reload in the background, while this request
        # and the next answer from the current ranking (``ServingState.catch_up``).
        if served is not None:
            if state.published_changed(served):
                served = await anyio.to_thread.run_sync(state.catch_up)
            elif state.reload_requested(served):
                state.follow_reload_in_background()
        return served

    async def _first_load(self) -> Served | None:
        """Wait (on the loop, without a thread) for this worker's first ranking, at most
        ``first_load_wait_seconds``: another worker may already have said it was ready."""
        deadline = time.monotonic() + self.config.first_load_wait_seconds
        while not self.state.first_load_settled() and time.monotonic() < deadline:
            await anyio.sleep(0.05)
        return self.state.current()

    @bentoml.on_shutdown
    def _shutdown(self) -> None:
        self.state.stop()
        self.audit.close()

    @bentoml.api(route="/shortlist", output_spec=ShortlistResponse)
    async def shortlist(self, request: ShortlistRequest, /, ctx: bentoml.Context) -> Any:
        """The top-k current candidates matching the filters, with reasons and lineage."""
        who = _caller(ctx)
        served = await self._served()  # read once: one model, one ranking for this answer
        if served is None:
            return _error(ctx, 503, NOT_READY)
        if (refused := self.state.refusal()) is not None:  # e.g. online store unreadable
            return _error(ctx, 503, f"{refused}; no answer until it is fixed (see /readyz)")
        try:
            body = audited_shortlist(served, request, self.config.default_k, self.audit, who)
        except OSError as exc:  # no audit line, no shortlist
            return _error(ctx, 503, f"audit log unavailable ({exc.strerror or exc})")
        return JSONResponse(body)

    @bentoml.api(route="/score", output_spec=ScoreResponse)
    async def score(self, request: ScoreRequest, /, ctx: bentoml.Context) -> Any:
        """Score and reasons of listed organisations from online features; others: unknown."""
        who = _caller(ctx)
        served = await self._served()
        if served is None:
            return _error(ctx, 503, NOT_READY)
        if (refused := self.state.refusal()) is not None:
            return _error(ctx, 503, f"{refused}; no answer until it is fixed (see /readyz)")
        if len(request.org_ids) > self.config.max_score_ids:
            return _error(ctx, 422, f"at most {self.config.max_score_ids} org_ids per call")
        requested = list(dict.fromkeys(request.org_ids))
        from talentmap.serving.known import known_among
        from talentmap.serving.state import OnlineStoreError

        found = known_among(served.known_org_ids, requested)
        known = [o for o in requested if o in found]
        features = None
        if known:
            try:
                # The model may still be loading (a fast start defers it): off the loop.
                await anyio.to_thread.run_sync(lambda: served.ranking.model)
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                return _error(ctx, 503, f"the model cannot be loaded ({reason}); see /readyz")
            try:
                features = await anyio.to_thread.run_sync(self.state.online, known, served)
            except OnlineStoreError as exc:  # a 503 with the reason, never a 500
                return _error(ctx, 503, f"{exc}; no answer until it is fixed (see /readyz)")
        results = score_items(served.ranking, request.org_ids, found, features)
        try:
            self.audit.write(
                "score",
                who.name,
                who.role,
                model_version=served.champion.version,
                ranking_id=served.ranking.ranking_id,
                org_ids=requested,
            )
        except OSError as exc:
            return _error(ctx, 503, f"audit log unavailable ({exc.strerror or exc})")
        return JSONResponse({"lineage": served.ranking.lineage.as_dict(), "results": results})

    @bentoml.api(route="/admin/reload", output_spec=ReloadResponse)
    async def reload(self, request: ReloadRequest, /, ctx: bentoml.Context) -> Any:
        """Load the champion again and swap the ranking atomically (admin), here and, through
        the reload marker, in every other worker on its next request."""
        who = _caller(ctx)
        started = time.perf_counter()
        try:
            outcome = await anyio.to_thread.run_sync(
                lambda: self.state.reload_everywhere(request.force, trigger=f"admin:{who.name}")
            )
        except Exception as exc:  # the old ranking keeps being served
            return _error(ctx, 503, f"reload failed, still serving the previous ranking: {exc}")
        served = outcome.served
        self.audit.write(
            "reload",
            who.name,
            who.role,
            previous_version=outcome.previous_version,
            model_version=served.champion.version,
            ranking_id=served.ranking.ranking_id,
        )
        return JSONResponse(
            {
                "reloaded": outcome.reloaded,
                "previous_version": outcome.previous_version,
                "model_version": served.champion.version,
                "ranking_id": served.ranking.ranking_id,
                "candidates": len(served.ranking),
                "seconds": round(time.perf_counter() - started, 3),
            }
        )

    @bentoml.api(route="/admin/forget", output_spec=ForgetResponse)
    async def forget(self, request: ForgetRequest, /, ctx: bentoml.Context) -> Any:
        """Drop organisations and persons from the running ranking at once (admin)."""
        who = _caller(ctx)
        if self.state.served is None and await self._first_load() is None:
            return _error(ctx, 503, NOT_READY)
        served, removed, hidden = await anyio.to_thread.run_sync(
            self.state.forget, list(request.org_ids), list(request.person_ids)
        )
        # ...and from every watchlist and feed (`talentmap forget` does it too).
        from talentmap.serving.watchlists import store_for

        watched = store_for(get_settings())
        await anyio.to_thread.run_sync(watched.forget, list(request.org_ids))
        # Counts only: the ids of people who asked to be forgotten are not copied here.
        self.audit.write(
            "forget",
            who.name,
            who.role,
            orgs=len(request.org_ids),
            persons=len(request.person_ids),
            ranking_id=served.ranking.ranking_id,
        )
        return JSONResponse(
            {
                "ranking_id": served.ranking.ranking_id,
                "removed_orgs": removed,
                "founders_hidden": hidden,
            }
        )


# Starlette runs the first registered middleware outermost: the headers go on every
# answer, the guard's refusals included.
TalentMapService.add_asgi_middleware(SecurityHeadersMiddleware)
TalentMapService.add_asgi_middleware(
    GuardMiddleware,
    keyring=KEYS.current,
    max_body_bytes=_max_body,
    readiness=RUNTIME.readiness,
    limiter=KEYS.limiter,
)
