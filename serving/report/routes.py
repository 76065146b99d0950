"""GET routes of the regional report on the service (staff key, like every non-public path):

- ``/report/region?region=R``: the report as JSON (English keys, untranslated values);
- ``/report/region.html?region=R&lang=fr|en``: the standalone HTML file, as a download;
- ``/report/region.csv?region=R&lang=fr|en``: every figure as CSV, as a download.

The figures come from the lake snapshot behind the served ranking and from the served
ranking itself. The snapshot's tables are read once per served ranking (its id changes
with a publish, a reload or a forget) and kept for the next requests; a report is
computed off the event loop.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from talentmap.errors import StorageError
from talentmap.serving.answers import NOT_READY
from talentmap.serving.regions import FRENCH_REGIONS
from talentmap.serving.translations import DEFAULT_LANGUAGE, LANGUAGES
from talentmap.settings import get_settings

if TYPE_CHECKING:
    from talentmap.serving.report.source import ReportSource


class _SourceCache:
    """The report's source for the ranking being served (one entry: the current one)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: str | None = None
        self._source: ReportSource | None = None

    def get(self, key: str) -> ReportSource:
        with self._lock:
            if self._key != key or self._source is None:
                from talentmap.serving.report.source import load_source

                self._source = load_source(get_settings())
                self._key = key
            return self._source


def _filename(region: str, as_of: str, suffix: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", region).encode("ascii", "ignore").decode()
    plain = "".join(ch if ch.isalnum() else "-" for ch in ascii_name)
    return f"talentmap-report-{plain.strip('-').lower()}-{as_of}.{suffix}"


def report_routes(served: Callable[[], Any]) -> list[Route]:
    cache = _SourceCache()

    def compute(region: str) -> dict[str, Any]:
        # pandas-heavy modules, imported on first use (not with the service: issue 10)
        from talentmap.serving.report.aggregate import build_report
        from talentmap.serving.report.source import ranked_from_ranking

        current = served()
        source = cache.get(current.ranking.ranking_id)
        lineage = current.ranking.lineage.as_dict()
        keep = ("model_version", "run_id", "ranking_id", "feature_snapshot_id")
        facts = {"lake_snapshot_id": source.lake_snapshot_id}
        facts |= {k: lineage[k] for k in keep if k in lineage}
        return build_report(
            source.tables,
            region,
            source.as_of,
            get_settings().report,
            ranked=ranked_from_ranking(current.ranking),
            excluded_orgs=source.excluded_orgs | frozenset(current.ranking.opt_outs.org_ids),
            lineage=facts,
        )

    def checked(request: Request) -> tuple[str, str] | Response:
        if served() is None:
            return JSONResponse({"error": NOT_READY}, status_code=503)
        region = request.query_params.get("region", "")
        if region not in FRENCH_REGIONS:
            message = (
                f"unknown region {region!r}: use one of the 18 official French region names "
                f"({', '.join(FRENCH_REGIONS)})"
            )
            return JSONResponse({"error": message}, status_code=400)
        lang = request.query_params.get("lang", DEFAULT_LANGUAGE)
        if lang not in LANGUAGES:
            return JSONResponse(
                {"error": f"unknown language {lang!r}: use one of {', '.join(LANGUAGES)}"},
                status_code=400,
            )
        return region, lang

    async def computed(region: str) -> dict[str, Any] | Response:
        # Imported here: it brings Feast (seconds), which the service's start does not need.
        from talentmap.serving.inputs import InputsUnavailableError

        try:
            return await run_in_threadpool(compute, region)
        except (InputsUnavailableError, StorageError, OSError) as exc:
            # The lake behind the ranking cannot be read: a 503 with the reason, not a 500.
            return JSONResponse({"error": f"the report's data cannot be read: {exc}"}, 503)

    async def report_json(request: Request) -> Response:
        ok = checked(request)
        if isinstance(ok, Response):
            return ok
        report = await computed(ok[0])
        return report if isinstance(report, Response) else JSONResponse(report)

    async def report_file(request: Request) -> Response:
        ok = checked(request)
        if isinstance(ok, Response):
            return ok
        region, lang = ok
        report = await computed(region)
        if isinstance(report, Response):
            return report
        as_html = request.url.path.endswith(".html")
        if as_html:
            from talentmap.serving.report.render import read_chart_library, render_html

            body = render_html(
                report, lang, chart_library=read_chart_library(), produced_on=date.today()
            )
            media = "text/html; charset=utf-8"
        else:
            from talentmap.serving.report.render import render_csv

            body = render_csv(report, lang)
            media = "text/csv; charset=utf-8"
        name = _filename(region, report["as_of"], "html" if as_html else "csv")
        return Response(
            body,
            media_type=media,
            headers={
                "content-disposition": f'attachment; filename="{name}"',
                "cache-control": "no-store",
            },
        )

    return [
        Route("/report/region", report_json, methods=["GET"]),
        Route("/report/region.html", report_file, methods=["GET"]),
        Route("/report/region.csv", report_file, methods=["GET"]),
    ]
