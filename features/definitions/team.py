"""The team and hiring feature views: founders and executives in post (long TTL), and
headcount and job postings (two-year TTL, so a stale hiring signal becomes missing)."""

from __future__ import annotations

from pathlib import Path

from feast import FeatureView

from talentmap.features.definitions.common import family_view


def team_view(tables_dir: Path) -> FeatureView:
    return family_view("team", tables_dir)


def hiring_view(tables_dir: Path) -> FeatureView:
    return family_view("hiring", tables_dir)
