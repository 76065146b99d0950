"""The root of the one typed place for configuration: ``Settings`` nests every group.

Values come, highest priority first, from: keyword arguments, environment variables
(prefix ``TALENTMAP_``, nested groups joined by ``__``, e.g.
``TALENTMAP_FEATURES__ONLINE_PATH``), a TOML config file (``TALENTMAP_CONFIG`` or
``talentmap.toml`` in the working directory), then the defaults below.

Relative paths are resolved against ``home`` (default: the working directory), so the
embedded defaults live inside the project checkout and nothing is hard-coded absolutely.
Secrets (API keys, remote store credentials) are never read from the config file: they
come from the environment only, through the stores' own variables.
"""

from __future__ import annotations

import os
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from talentmap.policy import DEFAULT_POLICY, Policy
from talentmap.settings.privacy import PrivacyConfig
from talentmap.settings.report import ReportConfig
from talentmap.settings.serving import ServingConfig
from talentmap.settings.spark import SparkSettings
from talentmap.settings.tracking import TrackingConfig
from talentmap.settings.training import FairnessConfig, RetrainConfig, TrainingConfig
from talentmap.settings.tune import TuneConfig

# Secrets of the shared feature stores: read from the environment only, never from a file.
FEAST_REGISTRY_URL_VAR = "TALENTMAP_FEAST_REGISTRY_URL"
FEAST_REDIS_URL_VAR = "TALENTMAP_FEAST_REDIS_URL"


class LakeSettings(BaseModel):
    """Where validated snapshots are stored immutably, and what ingest does with bad data."""

    dir: Path = Field(Path("data/lake"), description="Root folder of the data lake.")
    policy: Policy = Field(
        DEFAULT_POLICY,
        description=(
            "What ingest does with data that breaks the contract (TALENTMAP_LAKE__POLICY): "
            "strict refuses it; repair blanks bad optional values and drops only rows with "
            "a broken key or required value (and their dependants); quarantine drops every "
            "failing row and its dependants. See data/CONTRACT.md."
        ),
    )


class GeneratorSettings(BaseModel):
    """Embedded defaults of the synthetic French ecosystem."""

    orgs: int = Field(3000, ge=10, description="Organisations in the demo world.")
    seed: int = Field(42, description="Random seed of the demo world.")
    start: date = Field(date(2012, 1, 1), description="First founding date.")
    end: date = Field(date(2025, 12, 31), description="Snapshot date of the world.")
    oracle_every_months: int = Field(
        1, ge=1, le=12, description="Spacing of the oracle's as-of dates, in months."
    )


class FeatureSettings(BaseModel):
    """The Feast feature store: one YAML file plus the folders it points at."""

    repo_dir: Path = Field(
        Path("features/feature_repo"), description="Folder holding feature_store.yaml."
    )
    tables_dir: Path = Field(
        Path("data/features"), description="Parquet feature tables (the offline store)."
    )
    store_dir: Path = Field(
        Path("data/feast"),
        description=(
            "Feast's file registry and SQLite online store; with shared stores (sql, redis) "
            "its resolved path names the Feast project, so each published version has its own."
        ),
    )
    registry: Literal["file", "sql"] = Field(
        "file",
        description=(
            "Feast registry: file (registry.db under store_dir) or sql (a PostgreSQL database "
            f"whose SQLAlchemy URL, password included, is read from {FEAST_REGISTRY_URL_VAR} "
            "in the environment only)."
        ),
    )
    online_store: Literal["sqlite", "redis"] = Field(
        "sqlite",
        description=(
            "Feast online store: sqlite (online.db under store_dir) or redis (connection "
            f"string such as 127.0.0.1:6379,password=..., read from {FEAST_REDIS_URL_VAR} in "
            "the environment only)."
        ),
    )
    engine: Literal["duckdb", "spark"] = Field(
        "duckdb",
        description=(
            "Engine of the feature build and of Feast's offline store "
            "(TALENTMAP_FEATURES__ENGINE): duckdb (one process: pandas builders, DuckDB "
            "offline store) or spark (the same builders run on Spark, Feast's Spark offline "
            "store); see docs/SCALE.md."
        ),
    )
    spark: SparkSettings = SparkSettings()
    build_chunk_orgs: int = Field(
        25_000,
        ge=1,
        description=(
            "The default engine builds the feature tables in chunks of this many "
            "organisations (features/chunked.py), so the builders' memory follows a chunk; "
            "the tables are the same whatever the chunk."
        ),
    )
    materialize_batch_rows: int = Field(
        50_000,
        ge=1,
        description=(
            "Materialization writes each view's latest rows (computed by DuckDB over the "
            "feature tables) to the online store through Feast in chunks of at most this "
            "many entities, so its memory follows the chunk, not the history."
        ),
    )
    retrieval_batch_rows: int | None = Field(
        None,
        ge=1,
        description=(
            "Historical retrieval (training rows, the batch ranking) runs through Feast in "
            "batches of at most this many entity rows, grouped by as-of date, so that the "
            "part of the point-in-time join's memory that follows the entity rows is bounded "
            "by the batch (Feast's DuckDB store still reads the views' rows in the time "
            "range). None (the default): sized from retrieval_batch_cells and the number of "
            "feature columns."
        ),
    )
    retrieval_batch_cells: int = Field(
        2_000_000,
        ge=1,
        description=(
            "When retrieval_batch_rows is None, a batch holds this many entity rows × "
            "feature columns (26,315 rows for the 76 promise features). Why: the join's "
            "memory grows with rows × columns, 0.4-0.7 kB per cell measured at one "
            "million organisations (Feast builds a frame per feature view and merges them), "
            "so 200,000 rows took the retrain from 5.3 to over 12 GB and 50,000 rows to "
            "8 GB; 2 million cells keep a batch near 1.5 GB whatever the feature count. "
            "More batches cost time only (each call reads its dates' view rows again)."
        ),
    )


class Settings(BaseSettings):
    """All TalentMap configuration."""

    model_config = SettingsConfigDict(
        env_prefix="TALENTMAP_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    home: Path = Field(Path("."), description="Base for every relative path below.")
    data_dir: Path = Field(Path("data"), description="Default folder for generated worlds.")
    lake: LakeSettings = LakeSettings()
    generator: GeneratorSettings = GeneratorSettings()
    features: FeatureSettings = FeatureSettings()
    training: TrainingConfig = TrainingConfig()
    tracking: TrackingConfig = TrackingConfig()
    retrain: RetrainConfig = RetrainConfig()
    serving: ServingConfig = ServingConfig()
    tune: TuneConfig = TuneConfig()
    fairness: FairnessConfig = FairnessConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    report: ReportConfig = ReportConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = Path(os.environ.get("TALENTMAP_CONFIG", "talentmap.toml"))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config_file),
        )

    def path(self, relative: Path) -> Path:
        """Resolve a configured path against ``home``.

        Symlinks are kept, not followed: retraining publishes a feature store by switching
        the link at its configured path, and that path must keep naming the link.
        """
        return Path(os.path.normpath(self.home.absolute() / relative))

    @property
    def lake_dir(self) -> Path:
        return self.path(self.lake.dir)

    def with_policy(self, policy: Policy | None) -> Settings:
        """These settings with ``lake.policy`` replaced; unchanged when ``policy`` is None.

        For commands whose ``--policy`` overrides the configured one for a single run.
        """
        if policy is None or policy == self.lake.policy:
            return self
        return self.model_copy(update={"lake": self.lake.model_copy(update={"policy": policy})})

    @property
    def feature_tables_dir(self) -> Path:
        return self.path(self.features.tables_dir)

    @property
    def feature_store_dir(self) -> Path:
        return self.path(self.features.store_dir)

    @property
    def feature_repo_dir(self) -> Path:
        return self.path(self.features.repo_dir)


@lru_cache(maxsize=1)
def get_settings(**overrides: Any) -> Settings:
    """The process-wide settings; tests build their own ``Settings`` instead."""
    return Settings(**overrides)
