"""The GET routes behind the company page and "what changed" (staff key, via the guard).

- ``GET /api/company/<org_id>``: ``company.company_answer`` (404 for an unknown, opted-out
  or forgotten organisation alike); audited like a shortlist (who, which org, which
  ranking), since the answer names founders.
- ``GET /api/changes?k=&region=&sector=&founded_after=&moves=``: ``changes_api``; bad
  parameters are 400 with a message naming the parameter.

Both do their reading (lake snapshot, earlier rankings, MLflow) in a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from talentmap.serving.answers import NOT_READY
from talentmap.serving.auth import principal_of
from talentmap.serving.regions import MAP_REGIONS
from talentmap.settings import get_settings

if TYPE_CHECKING:
    from talentmap.serving.changes import Filters

logger = logging.getLogger("talentmap.serving")
MAX_MOVES = 50


def company_data_route(
    served: Callable[[], Any], audit: Callable[[], Any] | None
) -> Callable[[Request], Any]:
    async def company_data(request: Request) -> Response:
        current = served()
        if current is None:
            return JSONResponse({"error": NOT_READY}, status_code=503)
        org_id = request.path_params["org_id"]
        settings = get_settings()

        def build() -> dict[str, Any] | None:
            # pandas-heavy modules, imported on first use (not with the service: issue 10)
            from talentmap.serving.company import company_answer
            from talentmap.serving.history import cached_rankings
            from talentmap.serving.lookups import run_links, snapshot_tables

            lineage = current.ranking.lineage
            tables = snapshot_tables(settings, lineage.lake_snapshot_id)
            history = cached_rankings(settings)
            return company_answer(current, org_id, tables, history, run_links(settings))

        try:
            body = await anyio.to_thread.run_sync(build)
        except Exception as exc:  # the lake or MLflow unreadable: say so, never a bare 500
            return _unavailable("the company page", exc)
        if body is None:
            return JSONResponse({"error": f"no company {org_id!r} to show"}, status_code=404)
        log = audit() if audit is not None else None
        who = principal_of(request.scope)
        if log is not None and who is not None:
            try:
                log.write(
                    "company",
                    who.name,
                    who.role,
                    org_ids=[org_id],
                    model_version=current.champion.version,
                    ranking_id=current.ranking.ranking_id,
                )
            except OSError as exc:  # no audit line, no answer (as for /shortlist)
                return JSONResponse(
                    {"error": f"audit log unavailable ({exc.strerror or exc})"}, status_code=503
                )
        return JSONResponse(body)

    return company_data


def _unavailable(what: str, exc: Exception) -> Response:
    reason = f"{what} cannot be computed now: {type(exc).__name__}: {exc}"
    logger.error("%s", reason)
    return JSONResponse({"error": reason}, status_code=503)


class BadParameterError(ValueError):
    pass


def _int(query: Any, name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadParameterError(f"{name} must be a whole number, not {raw!r}") from exc
    if not low <= value <= high:
        raise BadParameterError(f"{name} must be between {low} and {high}, not {value}")
    return value


def changes_filters(query: Any, default_k: int) -> tuple[int, Filters, int]:
    """(k, filters, moves) from the query string; ``BadParameterError`` names what is wrong."""
    from talentmap.serving.changes import DEFAULT_MOVES, Filters

    k = _int(query, "k", default_k, 1, 1000)
    moves = _int(query, "moves", DEFAULT_MOVES, 0, MAX_MOVES)
    region = query.get("region") or None
    if region is not None and region not in MAP_REGIONS:
        raise BadParameterError(f"region must be one of {', '.join(MAP_REGIONS)}; not {region!r}")
    founded = query.get("founded_after") or None
    try:
        founded_after = date.fromisoformat(founded) if founded else None
    except ValueError as exc:
        raise BadParameterError(f"founded_after must be YYYY-MM-DD, not {founded!r}") from exc
    unknown = set(query.keys()) - {"k", "moves", "region", "sector", "founded_after"}
    if unknown:
        raise BadParameterError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    sector = query.get("sector") or None
    return k, Filters(region=region, sector=sector, founded_after=founded_after), moves


def changes_route(served: Callable[[], Any]) -> Callable[[Request], Any]:
    async def changes(request: Request) -> Response:
        current = served()
        if current is None:
            return JSONResponse({"error": NOT_READY}, status_code=503)
        settings = get_settings()
        try:
            k, filters, moves = changes_filters(request.query_params, settings.serving.changes_k)
        except BadParameterError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

        def build() -> dict[str, Any]:
            from talentmap.serving.changes_api import changes_answer
            from talentmap.serving.history import cached_rankings

            return changes_answer(current, cached_rankings(settings), k, filters, moves)

        try:
            return JSONResponse(await anyio.to_thread.run_sync(build))
        except Exception as exc:
            return _unavailable("what changed", exc)

    return changes
