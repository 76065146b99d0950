"""The watchlist routes (staff key), mounted with the page's Starlette app (``web.py``).

- ``GET /watchlists``: the caller's watchlists;
- ``POST /watchlists``: create one (``name``, optional ``region``, ``sector``,
  ``max_age_years``, ``k``, ``companies``); 201;
- ``GET /watchlists/{id}``: one watchlist and its latest events (JSON);
- ``PATCH /watchlists/{id}``: rename it or change its filters;
- ``DELETE /watchlists/{id}``;
- ``POST /watchlists/{id}/companies`` (``{"org_id": …}``): follow a company;
  ``DELETE /watchlists/{id}/companies/{org_id}``: stop following it;
- ``GET /watchlists/{id}/feed.atom?lang=fr|en``: the Atom feed; the key may come as the
  HTTP Basic password (``auth.basic_auth_path``), which feed readers support.

A watchlist belongs to the key holder that made it (the key's configured name): another
holder's watchlist is a 404, like a missing one. Every route first brings the events up
to date with the ranking this worker serves (``WatchlistStore.sync``: one read when
nothing changed). Creations, deletions and follows are audited with ids only; feed
reads are not (feed readers poll every few minutes, and a feed shows changes, not a
shortlist).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from talentmap.serving.answers import NOT_READY
from talentmap.serving.audit import AuditLog
from talentmap.serving.auth import principal_of
from talentmap.serving.schemas import MapRegion
from talentmap.serving.watch_events import Filters
from talentmap.serving.watch_feed import LANGUAGES, render_feed
from talentmap.serving.watchlists import (
    NotFoundError,
    WatchlistError,
    WatchlistStore,
    store_for,
)
from talentmap.settings import get_settings

logger = logging.getLogger("talentmap.serving")
_STRICT = ConfigDict(extra="forbid", frozen=True)


class WatchlistFilters(BaseModel):
    """A watchlist's saved shortlist; without ``k`` it follows companies only."""

    model_config = _STRICT

    region: MapRegion | None = Field(None, description="An official region or 'International'.")
    sector: str | None = Field(None, min_length=1, max_length=100)
    max_age_years: int | None = Field(
        None, ge=1, le=100, description="Founded at most N years ago."
    )
    k: int | None = Field(None, ge=1, le=1000, description="Shortlist length; None: no shortlist.")


class WatchlistCreate(WatchlistFilters):
    name: str = Field(min_length=1, max_length=100)
    companies: list[str] = Field(default_factory=list, max_length=10_000)


class WatchlistPatch(WatchlistFilters):
    name: str | None = Field(None, min_length=1, max_length=100)


class FollowRequest(BaseModel):
    model_config = _STRICT

    org_id: str = Field(min_length=1, max_length=200)


def _filters(body: WatchlistFilters, default_k: int) -> Filters:
    k = body.k
    if k is None and (body.region or body.sector or body.max_age_years):
        k = default_k  # filters without k: the service's default shortlist length
    return Filters(body.region, body.sector, body.max_age_years, k)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _body(request: Request, model: type[BaseModel]) -> Any:
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise WatchlistError(problems) from exc


class _Context:
    """The settings, store and audit log, made on first use inside the worker."""

    def __init__(self) -> None:
        self._store: WatchlistStore | None = None
        self._audit: AuditLog | None = None

    @property
    def store(self) -> WatchlistStore:
        if self._store is None:
            self._store = store_for(get_settings())
        return self._store

    @property
    def audit(self) -> AuditLog:
        if self._audit is None:
            settings = get_settings()
            self._audit = AuditLog(settings.path(settings.serving.audit_log))
        return self._audit


def view(ranking: Any, lake_dir: Any) -> Any:
    """``watch_ranking.view``, imported on first use (pandas; not with the service)."""
    from talentmap.serving.watch_ranking import view as ranking_view

    return ranking_view(ranking, lake_dir)


def watch_routes(served: Callable[[], Any]) -> list[Route]:
    """The routes; ``served`` returns the current ``Served`` (None while loading)."""
    context = _Context()

    def sync(current: Any) -> None:
        settings = get_settings()
        threshold = settings.serving.watchlists.move_threshold
        made = context.store.sync(view(current.ranking, settings.lake_dir), threshold)
        if made is not None:
            logger.info(
                "watchlists: %d event(s) derived for ranking %s",
                made,
                current.ranking.ranking_id,
            )

    async def prepare(request: Request) -> tuple[Any, Any]:
        current = await anyio.to_thread.run_sync(served)
        who = principal_of(request.scope)
        if who is None:
            raise RuntimeError("request reached a watchlist route without a principal")
        if current is not None:
            await anyio.to_thread.run_sync(sync, current)
        return current, who

    def guarded(handler: Callable[..., Any]) -> Callable[[Request], Any]:
        async def route(request: Request) -> Response:
            try:
                current, who = await prepare(request)
                return await handler(request, current, who)
            except NotFoundError as exc:
                return _error(404, str(exc))
            except WatchlistError as exc:
                return _error(400, str(exc))

        return route

    def audit(who: Any, action: str, **fields: Any) -> None:
        context.audit.write("watchlist", who.name, who.role, action=action, **fields)

    async def list_all(request: Request, current: Any, who: Any) -> Response:
        found = await anyio.to_thread.run_sync(context.store.list, who.name)
        return JSONResponse({"watchlists": [w.as_dict() for w in found]})

    async def create(request: Request, current: Any, who: Any) -> Response:
        if current is None:
            return JSONResponse({"error": NOT_READY}, status_code=503)
        body = await _body(request, WatchlistCreate)
        from talentmap.serving.known import known_among  # pyarrow: not with the service

        found = known_among(current.known_org_ids, body.companies)  # one scan for all
        unknown = [o for o in body.companies if o not in found]
        if unknown:
            return _error(404, f"unknown organisation(s): {', '.join(unknown[:10])}")
        default_k = get_settings().serving.default_k
        settings = get_settings()
        made = await anyio.to_thread.run_sync(
            lambda: context.store.create(
                who.name,
                body.name,
                _filters(body, default_k),
                body.companies,
                view(current.ranking, settings.lake_dir),
            )
        )
        audit(who, "create", watchlist_id=made.id, org_ids=list(made.companies))
        return JSONResponse(made.as_dict(), status_code=201)

    async def one(request: Request, current: Any, who: Any) -> Response:
        watchlist_id = request.path_params["watchlist_id"]
        limit = get_settings().serving.watchlists.feed_entries
        found = await anyio.to_thread.run_sync(context.store.get, who.name, watchlist_id)
        events = await anyio.to_thread.run_sync(context.store.events, who.name, watchlist_id, limit)
        hidden = current.ranking.opt_outs.org_ids if current is not None else frozenset()
        return JSONResponse(
            {
                **found.as_dict(),
                "events": [e.as_dict() for e in events if e.org_id not in hidden],
            }
        )

    async def patch(request: Request, current: Any, who: Any) -> Response:
        body = await _body(request, WatchlistPatch)
        watchlist_id = request.path_params["watchlist_id"]
        touched = body.model_fields_set - {"name"}
        filters = _filters(body, get_settings().serving.default_k) if touched else None
        found = await anyio.to_thread.run_sync(
            context.store.update, who.name, watchlist_id, body.name, filters
        )
        return JSONResponse(found.as_dict())

    async def delete(request: Request, current: Any, who: Any) -> Response:
        watchlist_id = request.path_params["watchlist_id"]
        await anyio.to_thread.run_sync(context.store.delete, who.name, watchlist_id)
        audit(who, "delete", watchlist_id=watchlist_id)
        return JSONResponse({"deleted": watchlist_id})

    async def follow(request: Request, current: Any, who: Any) -> Response:
        if current is None:
            return JSONResponse({"error": NOT_READY}, status_code=503)
        body = await _body(request, FollowRequest)
        if body.org_id not in current.known_org_ids:
            return _error(404, f"unknown organisation {body.org_id!r}")
        watchlist_id = request.path_params["watchlist_id"]
        lake_dir = get_settings().lake_dir
        found = await anyio.to_thread.run_sync(
            lambda: context.store.add_company(
                who.name, watchlist_id, body.org_id, view(current.ranking, lake_dir)
            )
        )
        audit(who, "follow", watchlist_id=watchlist_id, org_ids=[body.org_id])
        return JSONResponse(found.as_dict())

    async def unfollow(request: Request, current: Any, who: Any) -> Response:
        watchlist_id = request.path_params["watchlist_id"]
        org_id = request.path_params["org_id"]
        found = await anyio.to_thread.run_sync(
            context.store.remove_company, who.name, watchlist_id, org_id
        )
        audit(who, "unfollow", watchlist_id=watchlist_id, org_ids=[org_id])
        return JSONResponse(found.as_dict())

    async def feed(request: Request, current: Any, who: Any) -> Response:
        watchlist_id = request.path_params["watchlist_id"]
        lang = request.query_params.get("lang", "fr")
        if lang not in LANGUAGES:
            return _error(400, f"lang must be one of {', '.join(LANGUAGES)}")
        limit = get_settings().serving.watchlists.feed_entries
        found = await anyio.to_thread.run_sync(context.store.get, who.name, watchlist_id)
        events = await anyio.to_thread.run_sync(context.store.events, who.name, watchlist_id, limit)
        hidden = current.ranking.opt_outs.org_ids if current is not None else frozenset()
        body = render_feed(found, events, str(request.base_url), lang, hidden)
        return Response(
            body,
            media_type="application/atom+xml; charset=utf-8",
            headers={"cache-control": "private, no-cache"},
        )

    return [
        Route("/watchlists", guarded(list_all), methods=["GET"]),
        Route("/watchlists", guarded(create), methods=["POST"]),
        Route("/watchlists/{watchlist_id}/feed.atom", guarded(feed), methods=["GET"]),
        Route("/watchlists/{watchlist_id}", guarded(one), methods=["GET"]),
        Route("/watchlists/{watchlist_id}", guarded(patch), methods=["PATCH"]),
        Route("/watchlists/{watchlist_id}", guarded(delete), methods=["DELETE"]),
        Route("/watchlists/{watchlist_id}/companies", guarded(follow), methods=["POST"]),
        Route(
            "/watchlists/{watchlist_id}/companies/{org_id}",
            guarded(unfollow),
            methods=["DELETE"],
        ),
    ]
