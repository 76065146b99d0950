"""Options and parsers every training command shares, declared once."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

# The --data option that every training command shares.
DataDir = Annotated[
    Path,
    typer.Option(
        "--data",
        help="Data directory following the contract (ingested into the lake first; "
        "a no-op when that content is already there).",
        exists=True,
        file_okay=False,
        dir_okay=True,
        readable=True,
    ),
]


def parse_day(value: str) -> date:
    """A YYYY-MM-DD option value, or a usage error naming it."""
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"expected a date YYYY-MM-DD, got {value!r}") from exc
