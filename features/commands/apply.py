"""``talentmap features apply``: register the Feast definitions generated from the catalogue."""

from __future__ import annotations

from talentmap.features.commands.shared import console, spinner
from talentmap.settings import get_settings


def apply() -> None:
    """Register the entities, feature views and the `promise` service with Feast."""
    from talentmap.features import store as feature_store

    settings = get_settings()
    with spinner() as progress:
        progress.add_task("Applying Feast definitions", total=None)
        feature_store.apply(settings)
    console.print(f"Registry updated in {settings.feature_store_dir}")
