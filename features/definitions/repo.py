"""Every Feast object of the repository, pointed at a feature-tables folder."""

from __future__ import annotations

from pathlib import Path

from feast import FeatureService, FeatureView
from feast.on_demand_feature_view import OnDemandFeatureView

from talentmap.features.definitions.entities import organization, person
from talentmap.features.definitions.founders import founders_view
from talentmap.features.definitions.funding import funding_view
from talentmap.features.definitions.profile import profile_view
from talentmap.features.definitions.programs import programs_view
from talentmap.features.definitions.research import person_research_view, research_view
from talentmap.features.definitions.services import promise_service
from talentmap.features.definitions.team import hiring_view, team_view
from talentmap.features.definitions.timing import timing_view

FeastObject = FeatureView | OnDemandFeatureView | FeatureService | object


def feature_views(tables_dir: Path) -> dict[str, FeatureView]:
    return {
        "profile": profile_view(tables_dir),
        "funding": funding_view(tables_dir),
        "team": team_view(tables_dir),
        "hiring": hiring_view(tables_dir),
        "programs": programs_view(tables_dir),
        "research": research_view(tables_dir),
        "founders": founders_view(tables_dir),
        "person_research": person_research_view(tables_dir),
    }


def repo_objects(tables_dir: Path) -> list[FeastObject]:
    """Entities, views, the on-demand view and the ``promise`` service, ready to apply."""
    views = feature_views(tables_dir)
    timing = timing_view(views["profile"], views["funding"], views["programs"])
    return [organization, person, *views.values(), timing, promise_service(views, timing)]
