"""``talentmap features show``: one organisation's online features."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from talentmap.features.commands.shared import console, parse_day
from talentmap.settings import get_settings


def show(
    org_id: Annotated[str, typer.Argument(help="Organisation id (org_id) to look up.")],
    as_of: Annotated[
        str | None,
        typer.Option(help="As-of day for time-relative features, YYYY-MM-DD (default: now)."),
    ] = None,
) -> None:
    """Print one organisation's online `promise` features."""
    from talentmap.features import store as feature_store

    settings = get_settings()
    frame = feature_store.get_online_features(settings, [org_id], parse_day(as_of))
    table = Table("feature", "value", title=f"{org_id} as of {frame['as_of'].iloc[0]}")
    for column, value in frame.iloc[0].items():
        table.add_row(str(column), str(value))
    console.print(table)
