"""The ``promise`` feature service: exactly the features the model reads."""

from __future__ import annotations

from feast import FeatureService, FeatureView
from feast.on_demand_feature_view import OnDemandFeatureView

from talentmap.features.catalog import FAMILIES, TIMING_FEATURES

SERVICE_NAME = "promise"


def promise_service(views: dict[str, FeatureView], timing: OnDemandFeatureView) -> FeatureService:
    projections = [
        views[name][list(spec.model_features)]
        for name, spec in FAMILIES.items()
        if spec.model_features
    ]
    return FeatureService(
        name=SERVICE_NAME,
        features=[*projections, timing[list(TIMING_FEATURES)]],
        description="Model inputs of the promise score; no raw dates, no gender.",
    )
