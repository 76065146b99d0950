"""The research feature views: per organisation (company and founders' publications) and
per person (own publications, keyed on the person entity; not read by the model)."""

from __future__ import annotations

from pathlib import Path

from feast import FeatureView

from talentmap.features.definitions.common import family_view


def research_view(tables_dir: Path) -> FeatureView:
    return family_view("research", tables_dir)


def person_research_view(tables_dir: Path) -> FeatureView:
    return family_view("person_research", tables_dir)
