"""Watchlists and their Atom feeds, nested into ``ServingConfig`` as ``watchlists``.

Overridable from the environment, e.g. ``TALENTMAP_SERVING__WATCHLISTS__MOVE_THRESHOLD=25``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class WatchlistConfig(BaseModel):
    """Where watchlists live, and what makes an alert."""

    model_config = ConfigDict(extra="forbid")

    db: Path = Field(
        Path("data/serving/watchlists.sqlite"),
        description="SQLite database of the watchlists, their state and their events "
        "(relative to home; next to the workers' forget file). Shared by every worker.",
    )
    move_threshold: int = Field(
        10,
        ge=1,
        le=100_000,
        description="A watched company that moves by at least this many ranks between two "
        "served rankings makes a 'move' event.",
    )
    max_per_holder: int = Field(
        100, ge=1, le=10_000, description="Most watchlists one key holder may keep."
    )
    max_companies: int = Field(
        500, ge=1, le=10_000, description="Most companies one watchlist may follow."
    )
    feed_entries: int = Field(
        200, ge=1, le=5000, description="Most recent events an Atom feed lists."
    )
