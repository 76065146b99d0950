"""Every Feast object of the repository, generated from the catalogue.

One entity per catalogue entity, one feature view per family, one on-demand view per
on-demand family and the ``promise`` service over their model features; nothing here
names a family. Views are built by functions rather than at import time because their
sources point at the feature-tables folder, which is only known from the settings.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd
from feast import (
    Entity,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
    RequestSource,
)
from feast.data_source import DataSource
from feast.feature_view_projection import FeatureViewProjection
from feast.on_demand_feature_view import OnDemandFeatureView, on_demand_feature_view
from feast.types import FeastType, Float64, String, UnixTimestamp
from feast.value_type import ValueType

from talentmap.features.catalog import (
    ENTITIES,
    EVENT_TS,
    FAMILIES,
    ON_DEMAND_FAMILIES,
    SERVICE_DESCRIPTION,
    SERVICE_NAME,
    Dtype,
    Family,
    OnDemandFamily,
    table_path,
)

FeastObject = Entity | FeatureView | OnDemandFeatureView | FeatureService

FEAST_TYPES: dict[Dtype, FeastType] = {
    "string": String,
    "float64": Float64,
    "timestamp": UnixTimestamp,
}


def _schema(fields: tuple[tuple[str, Dtype], ...]) -> list[Field]:
    return [Field(name=name, dtype=FEAST_TYPES[dtype]) for name, dtype in fields]


def entities() -> dict[str, Entity]:
    """Feast entities by join key; keys are strings (the contract's ids)."""
    return {
        key: Entity(
            name=spec.name,
            join_keys=[key],
            value_type=ValueType.STRING,
            description=spec.description,
        )
        for key, spec in ENTITIES.items()
    }


def family_source(spec: Family, tables_dir: Path, engine: str = "duckdb") -> DataSource:
    """The family's Parquet table as a source of the configured offline store: a
    ``FileSource`` for DuckDB, a ``SparkSource`` over the same file for Spark."""
    path = str(table_path(tables_dir, spec.name))
    description = f"Event-driven table of the {spec.name} family."
    if engine == "spark":
        from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import (
            SparkSource,
        )

        return SparkSource(
            name=f"{spec.name}_source",
            path=path,
            file_format="parquet",
            timestamp_field=EVENT_TS,
            description=description,
        )
    return FileSource(
        name=f"{spec.name}_source", path=path, timestamp_field=EVENT_TS, description=description
    )


def family_view(
    spec: Family, tables_dir: Path, entity: Entity, engine: str = "duckdb"
) -> FeatureView:
    source = family_source(spec, tables_dir, engine)
    return FeatureView(
        name=spec.name,
        entities=[entity],
        ttl=spec.ttl,
        schema=_schema(spec.fields),
        source=source,
        online=True,
        description=spec.description,
        tags={"family": spec.name},
    )


def on_demand_view(spec: OnDemandFamily, views: Mapping[str, FeatureView]) -> OnDemandFeatureView:
    sources: list[FeatureViewProjection | RequestSource] = [
        views[family][list(columns)] for family, columns in spec.inputs
    ]
    if spec.request_fields:
        sources.append(
            RequestSource(
                name=spec.request_source,
                schema=_schema(spec.request_schema),
                description=spec.request_description,
            )
        )
    return on_demand_feature_view(
        name=spec.name,
        sources=sources,
        schema=_schema(spec.fields),
        mode="pandas",
        description=spec.description,
    )(_fresh_copy(spec.udf))


def _fresh_copy(function: Callable[[pd.DataFrame], pd.DataFrame]) -> types.FunctionType:
    """A new function object over the same code: Feast's decorator rewrites the
    ``__module__`` of what it wraps (to serialise it by value), which would break a second
    definition of the view in the same process."""
    if not isinstance(function, types.FunctionType):
        raise TypeError(f"on-demand udf {function!r} must be a plain function")
    copy = types.FunctionType(
        function.__code__, function.__globals__, function.__name__, function.__defaults__
    )
    copy.__doc__ = function.__doc__
    return copy


def promise_service(
    views: Mapping[str, FeatureView], on_demand: Mapping[str, OnDemandFeatureView]
) -> FeatureService:
    """Exactly the features the model reads, in catalogue order."""
    specs = [*FAMILIES.values(), *ON_DEMAND_FAMILIES.values()]
    all_views = {**views, **on_demand}
    projections = [
        all_views[spec.name][list(spec.model_features)] for spec in specs if spec.model_features
    ]
    return FeatureService(name=SERVICE_NAME, features=projections, description=SERVICE_DESCRIPTION)


def repo_objects(tables_dir: Path, engine: str = "duckdb") -> list[FeastObject]:
    """Entities, views, on-demand views and the ``promise`` service, ready to apply.

    ``engine`` (``features.engine``) chooses the sources' kind: the offline store reads
    the same tables either way.
    """
    by_key = entities()
    views = {
        name: family_view(spec, tables_dir, by_key[spec.key], engine)
        for name, spec in FAMILIES.items()
    }
    on_demand = {name: on_demand_view(spec, views) for name, spec in ON_DEMAND_FAMILIES.items()}
    return [
        *by_key.values(),
        *views.values(),
        *on_demand.values(),
        promise_service(views, on_demand),
    ]
