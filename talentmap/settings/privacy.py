"""Opt-out register and retention, nested into ``Settings`` as ``privacy``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

KEEP_FOREVER_WORDS = frozenset({"", "none", "null", "forever"})


class RetentionConfig(BaseModel):
    """How long each store keeps data; ``None`` (or "forever" in TOML / env) keeps it forever.

    Nothing is deleted until ``talentmap retention apply`` runs (schedule it next to the
    retrain); see docs/PRIVACY.md.
    """

    model_config = ConfigDict(extra="forbid")

    lake_keep_snapshots: int | None = Field(
        3,
        ge=1,
        description="Lake: always keep this many most recent snapshots (None: no count rule).",
    )
    lake_max_age_days: int | None = Field(
        180,
        ge=0,
        description=(
            "Lake: snapshots ingested more than this many days ago may be deleted, unless "
            "kept by the count rule, the latest, or one the champion or live features use "
            "(None: no age rule)."
        ),
    )
    audit_max_age_days: int | None = Field(
        365,
        ge=1,
        description="Audit log: lines older than this many days are dropped (None: forever).",
    )
    mlflow_run_max_age_days: int | None = Field(
        365,
        ge=1,
        description=(
            "MLflow: runs started more than this many days ago are deleted with their "
            "artifacts, unless a model version with an alias comes from them (None: forever)."
        ),
    )

    @field_validator("*", mode="before")
    @classmethod
    def _forever(cls, value: Any) -> Any:
        # Environment variables and TOML have no null: these words mean "keep forever".
        if isinstance(value, str) and value.strip().lower() in KEEP_FOREVER_WORDS:
            return None
        return value


class PrivacyConfig(BaseModel):
    """Opt-out register and retention; nested into Settings as ``privacy``
    (env ``TALENTMAP_PRIVACY__REGISTER_FILE``, ``TALENTMAP_PRIVACY__RETENTION__AUDIT_MAX_AGE_DAYS``)."""

    model_config = ConfigDict(extra="forbid")

    register_file: Path = Field(
        Path("data/optouts/register.jsonl"),
        description="Append-only JSON-lines register of `talentmap forget` (relative to home).",
    )
    retention: RetentionConfig = Field(
        default_factory=RetentionConfig, description="Retention of lake, audit log, MLflow."
    )
