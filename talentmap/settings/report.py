"""The regional ecosystem report (issue 11), nested into ``Settings`` as ``report``
(env ``TALENTMAP_REPORT__MIN_GROUP_SIZE`` ...)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ReportConfig(BaseModel):
    """What the regional report shows, and the privacy floor under every figure."""

    model_config = ConfigDict(extra="forbid")

    min_group_size: int = Field(
        5,
        ge=1,
        description=(
            "Privacy floor: an aggregate over fewer organisations or people than this is "
            "shown as suppressed, never as its value."
        ),
    )
    years: int = Field(
        8, ge=1, le=50, description="How many calendar years the report covers, up to its date."
    )
    top_k: int = Field(
        100,
        ge=1,
        le=10_000,
        description="The national top k whose regional share the report gives.",
    )
    max_hubs: int = Field(
        6,
        ge=0,
        le=50,
        description="Foreign hubs compared (cities outside France, largest first).",
    )
