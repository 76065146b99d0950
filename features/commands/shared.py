"""What the feature commands share: the console, a spinner and the date option parser."""

from __future__ import annotations

from datetime import UTC, date, datetime

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

console = Console()


def spinner() -> Progress:
    """A spinner with elapsed time: these steps have no countable progress."""
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    )


def parse_day(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    day = date.fromisoformat(value)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
