"""``talentmap features materialize``: load the online store up to a date."""

from __future__ import annotations

from typing import Annotated

import typer

from talentmap import logs
from talentmap.features.commands.shared import console, parse_day, spinner
from talentmap.settings import get_settings


def materialize(
    end: Annotated[
        str | None,
        typer.Option(help="Load rows dated up to this day, YYYY-MM-DD (default: now, UTC)."),
    ] = None,
) -> None:
    """Load each entity's latest feature values into the online store."""
    from talentmap.features import store as feature_store

    settings = get_settings()
    until = parse_day(end)
    # A line per view (JSON lines when redirected, text on a terminal or with
    # TALENTMAP_LOG_FORMAT=text): at a million organisations the load takes minutes.
    with logs.structured_output("features materialize") as structured:
        with logs.text_progress(not structured), spinner() as progress:
            progress.add_task(f"Materializing up to {until.date()}", total=None)
            feature_store.materialize(settings, until)
        console.print(f"Online store ready in {settings.feature_store_dir}")
