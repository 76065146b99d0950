"""The ``timing`` on-demand view: time-relative features from ``as_of`` (request field)."""

from __future__ import annotations

import types

from feast import FeatureView, Field, RequestSource
from feast.on_demand_feature_view import OnDemandFeatureView, on_demand_feature_view
from feast.types import Float64, UnixTimestamp

from talentmap.features.catalog import AS_OF_FIELD, TIMING_FEATURES
from talentmap.features.timing import timing_udf

as_of_request = RequestSource(
    name="as_of_request",
    schema=[Field(name=AS_OF_FIELD, dtype=UnixTimestamp)],
    description="The as-of instant (UTC): the entity frame's as_of, or now when serving.",
)


def timing_view(
    profile: FeatureView, funding: FeatureView, programs: FeatureView
) -> OnDemandFeatureView:
    sources = [
        profile[["founded_day"]],
        funding[["first_round_day", "last_round_day"]],
        programs[["first_program_day", "last_program_start_day"]],
        as_of_request,
    ]
    return on_demand_feature_view(
        name="timing",
        sources=sources,
        schema=[Field(name=c, dtype=Float64) for c in TIMING_FEATURES],
        mode="pandas",
        description="Company age and time since rounds and programmes, at the as-of date.",
    )(_fresh_copy(timing_udf))


def _fresh_copy(function: types.FunctionType) -> types.FunctionType:
    """A new function object over the same code: Feast's decorator rewrites the
    ``__module__`` of what it wraps (to serialise it by value), which would break a second
    definition of the view in the same process."""
    copy = types.FunctionType(
        function.__code__, function.__globals__, function.__name__, function.__defaults__
    )
    copy.__doc__ = function.__doc__
    return copy
