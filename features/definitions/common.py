"""One Feast feature view per catalogue family, backed by that family's Parquet table.

Views are built by functions rather than at import time because their sources point at
the configured feature-tables folder, which is only known from the settings at apply time.
"""

from __future__ import annotations

from pathlib import Path

from feast import FeatureView, Field, FileSource
from feast.types import Float64, String

from talentmap.features.catalog import EVENT_TS, FAMILIES
from talentmap.features.definitions.entities import ENTITIES


def table_path(tables_dir: Path, family: str) -> Path:
    """Where a family's table lives: the one naming rule shared by writer and sources."""
    return Path(tables_dir).resolve() / f"{family}.parquet"


def family_view(family: str, tables_dir: Path) -> FeatureView:
    spec = FAMILIES[family]
    source = FileSource(
        name=f"{family}_source",
        path=str(table_path(tables_dir, family)),
        timestamp_field=EVENT_TS,
        description=f"Event-driven table of the {family} family.",
    )
    schema = [Field(name=c, dtype=String) for c in spec.strings]
    schema += [Field(name=c, dtype=Float64) for c in spec.numeric]
    return FeatureView(
        name=family,
        entities=[ENTITIES[spec.key]],
        ttl=spec.ttl,
        schema=schema,
        source=source,
        online=True,
        description=spec.description,
        tags={"family": family},
    )
