"""The founders feature view (columns and semantics: `talentmap.features.catalog`)."""

from __future__ import annotations

from pathlib import Path

from feast import FeatureView

from talentmap.features.definitions.common import family_view


def founders_view(tables_dir: Path) -> FeatureView:
    return family_view("founders", tables_dir)
