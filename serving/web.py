"""The Starlette app mounted at ``/`` on the BentoML server: the web page and GET routes.

BentoML's ``@bentoml.api`` routes are POST only, so the read-only GET routes live here:
``/`` (the page), ``/static/*`` (its assets, all local: nothing is fetched from the
internet), ``/i18n/<lang>.json`` (the page's translation catalogue, ``translations.py``), ``/model`` (the champion and its ranking) and ``/filters`` (the regions and
sectors the page offers), ``/company/<org_id>`` (the company page's shell) and the JSON
behind the pages, ``/api/company/<org_id>`` and ``/api/changes`` (``web_pages.py``). The
guard middleware in front of the whole server checks keys; ``/model``, ``/filters`` and
``/api/*`` need the staff role, the page shells, their assets and catalogues are public.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from talentmap.serving.answers import NOT_READY, model_info
from talentmap.serving.regions import FRENCH_REGIONS, INTERNATIONAL, MAP_REGIONS
from talentmap.serving.report.routes import report_routes
from talentmap.serving.translations import LANGUAGES, catalogue_json
from talentmap.serving.watch_routes import watch_routes
from talentmap.serving.web_pages import changes_route, company_data_route

STATIC_DIR = Path(__file__).resolve().parent / "static"


def build_web_app(
    served: Callable[[], Any],
    audit: Callable[[], Any] | None = None,
    fresh: Callable[[], Any] | None = None,
) -> Starlette:
    """``served`` returns the current ``Served`` (or None while loading); ``audit`` the
    service's ``AuditLog`` (company pages are audited like shortlists); ``fresh`` the
    current ``Served`` after following a new publish or another worker's reload
    (blocking; the watchlist routes call it)."""

    async def index(_: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-store"})

    async def company_page(_: Request) -> Response:
        # The shell only (public, like /): it asks for the key, then fetches the data.
        return FileResponse(STATIC_DIR / "company.html", headers={"cache-control": "no-store"})

    async def model(_: Request) -> Response:
        current = served()
        if current is None:
            return JSONResponse({"error": NOT_READY}, status_code=503)
        return JSONResponse(model_info(current))

    async def filters(_: Request) -> Response:
        current = served()
        if current is None:
            return JSONResponse({"error": NOT_READY}, status_code=503)
        return JSONResponse(
            {
                "regions": list(MAP_REGIONS),
                "french_regions": list(FRENCH_REGIONS),
                "international": INTERNATIONAL,
                "sectors": current.ranking.sectors_available(),
            }
        )

    async def catalogue(request: Request) -> Response:
        lang = request.path_params["lang"]
        if lang not in LANGUAGES:
            return JSONResponse(
                {"error": f"unknown language {lang!r}; one of {', '.join(LANGUAGES)}"},
                status_code=404,
            )
        return Response(
            catalogue_json(lang),
            media_type="application/json",
            headers={"cache-control": "no-cache"},
        )

    return Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/i18n/{lang}.json", catalogue, methods=["GET"]),
            Route("/company/{org_id}", company_page, methods=["GET"]),
            Route("/api/company/{org_id}", company_data_route(served, audit), methods=["GET"]),
            Route("/api/changes", changes_route(served), methods=["GET"]),
            Route("/model", model, methods=["GET"]),
            Route("/filters", filters, methods=["GET"]),
            *watch_routes(fresh or served),
            *report_routes(served),  # the regional report (serving/report/routes.py)
            Mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static"),
        ]
    )
