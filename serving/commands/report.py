"""``talentmap report region``: the regional ecosystem report as a standalone HTML file
(charts and their library inlined, no external URL) with a CSV of every figure beside it.

It reads what the service serves: the lake snapshot behind the live features and the
ranking the retrain chain published (no running service needed, no API key).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from talentmap.errors import StorageError, reports_errors

LANG_HELP = "Language of the report and of the CSV headers: fr (default) or en."


class ReportUnavailableError(StorageError):
    """Nothing to report on: no lake snapshot behind the features."""


@reports_errors
def report_region_command(
    region: Annotated[
        str,
        typer.Option(
            "--region",
            help="One of the 18 official French region names, e.g. 'Occitanie'.",
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="The HTML file to write; the CSV goes beside it (same name, .csv).",
            dir_okay=False,
        ),
    ],
    lang: Annotated[str, typer.Option("--lang", help=LANG_HELP)] = "fr",
    min_group_size: Annotated[
        int | None,
        typer.Option(
            "--min-group-size",
            min=1,
            help="Suppress every figure over fewer companies or people than this "
            "(default: the setting report.min_group_size, 5).",
        ),
    ] = None,
    years: Annotated[
        int | None,
        typer.Option(
            "--years", min=1, max=50, help="Calendar years covered, up to the serving date."
        ),
    ] = None,
    top_k: Annotated[
        int | None,
        typer.Option("--top-k", min=1, help="The national top k whose regional share is given."),
    ] = None,
) -> None:
    """Write the regional ecosystem report for REGION (and the foreign hubs) as HTML + CSV."""
    from talentmap.serving.inputs import InputsUnavailableError
    from talentmap.serving.regions import FRENCH_REGIONS
    from talentmap.serving.report.aggregate import build_report
    from talentmap.serving.report.render import read_chart_library, render_csv, render_html
    from talentmap.serving.report.source import load_source, published_ranked
    from talentmap.serving.translations import LANGUAGES
    from talentmap.settings import get_settings

    if lang not in LANGUAGES:
        raise typer.BadParameter(f"use one of {', '.join(LANGUAGES)}", param_hint="--lang")
    if region not in FRENCH_REGIONS:
        raise typer.BadParameter(
            f"{region!r} is not one of the 18 official region names: {', '.join(FRENCH_REGIONS)}",
            param_hint="--region",
        )
    settings = get_settings()
    overrides = {
        k: v
        for k, v in {"min_group_size": min_group_size, "years": years, "top_k": top_k}.items()
        if v is not None
    }
    config = settings.report.model_copy(update=overrides)
    try:
        source = load_source(settings)
    except InputsUnavailableError as error:
        raise ReportUnavailableError(f"no report: {error}") from error
    ranked, meta = published_ranked(settings)
    lineage = {"lake_snapshot_id": source.lake_snapshot_id}
    lineage |= {k: meta[k] for k in ("model_version", "run_id", "ranking_id") if k in meta}
    report = build_report(
        source.tables,
        region,
        source.as_of,
        config,
        ranked=ranked,
        excluded_orgs=source.excluded_orgs,
        lineage=lineage,
    )
    library = read_chart_library()
    out.parent.mkdir(parents=True, exist_ok=True)
    csv_path = out.with_suffix(".csv")
    out.write_text(
        render_html(report, lang, chart_library=library, produced_on=date.today()),
        encoding="utf-8",
    )
    csv_path.write_text(render_csv(report, lang), encoding="utf-8")
    console = Console(stderr=False)
    console.print(f"report written: {out}", markup=False)
    console.print(f"figures (CSV): {csv_path}", markup=False)
    if library is None:
        console.print(
            "charts left out: the vendored Chart.js is missing (run `make install`)", markup=False
        )
    if ranked is None:
        console.print("top-k share not in the report: no published ranking", markup=False)
