"""Request and response bodies of the service: the OpenAPI schema is generated from these.

Requests forbid unknown fields: a misspelt filter (``"regoin"``) must be a 400, not a
silently unfiltered shortlist.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from talentmap.serving.regions import MAP_REGIONS

MapRegion = Literal[*MAP_REGIONS]  # type: ignore[valid-type]
_STRICT = ConfigDict(extra="forbid", frozen=True)


class ShortlistRequest(BaseModel):
    """Filters of ``POST /shortlist``; every field is optional."""

    model_config = _STRICT

    k: int | None = Field(
        None, ge=1, le=1000, description="How many candidates (1 to 1000; default 50)."
    )
    region: MapRegion | None = Field(
        None, description="One of the 18 official French regions, or 'International'."
    )
    sector: str | None = Field(
        None, min_length=1, max_length=100, description="Exact sector label, e.g. 'fintech'."
    )
    founded_after: date | None = Field(
        None, description="Only companies founded on or after this day (YYYY-MM-DD)."
    )
    min_score: float | None = Field(
        None, ge=0.0, le=1.0, description="Only candidates scoring at least this probability."
    )
    include_explanations: bool = Field(True, description="Add the top-3 reasons of each row.")
    region_floor: int | None = Field(
        None,
        ge=0,
        le=1000,
        description=(
            "Regional floor m (0 to k; needs an explicit k): at least m of the k rows from "
            "each official French region that has at least m matching candidates, applied "
            "after the other filters (the first French Tech 120's rule was 2). The best "
            "candidates of under-represented regions replace the lowest-ranked rows of the "
            "others; rows stay in score order and keep their overall rank."
        ),
    )

    @model_validator(mode="after")
    def _floor_within_k(self) -> ShortlistRequest:
        if self.region_floor:
            if self.k is None:
                raise ValueError("region_floor needs an explicit k")
            if self.region_floor > self.k:
                raise ValueError(f"region_floor ({self.region_floor}) must not exceed k ({self.k})")
        return self


class ScoreRequest(BaseModel):
    """Body of ``POST /score``."""

    model_config = _STRICT

    org_ids: list[str] = Field(
        min_length=1,
        max_length=1000,
        description="Organisation ids to score (at most 1000).",
    )


class ReloadRequest(BaseModel):
    """Body of ``POST /admin/reload`` (may be empty)."""

    model_config = _STRICT

    force: bool = Field(True, description="Recompute even if the champion version has not changed.")


class ForgetRequest(BaseModel):
    """Body of ``POST /admin/forget``: subjects to drop from the running ranking now."""

    model_config = _STRICT

    org_ids: list[str] = Field(default_factory=list, max_length=10_000)
    person_ids: list[str] = Field(default_factory=list, max_length=10_000)


class Founder(BaseModel):
    name: str
    role: str


class ReasonOut(BaseModel):
    feature: str
    value: float | str | None = Field(description="The value the model saw; null = unknown.")
    contribution: float = Field(description="Signed contribution, raw log-odds.")
    text: str = Field(description="In plain words, with its direction (English).")
    texts: dict[str, str] | None = Field(
        None,
        description="The same reason worded in each language of the page, by language code "
        '({"en": ..., "fr": ...}); built from feature, value and direction, not translated.',
    )


class Candidate(BaseModel):
    org_id: str
    name: str
    region: str | None = Field(description="Map region: official FR region or International.")
    city: str | None
    sector: str | None
    country: str | None
    founded_on: date | None
    founders: list[Founder]
    score: float = Field(description="Calibrated probability of promise.")
    rank: int = Field(description="1 = best among all current candidates.")
    percentile: float = Field(description="Share of candidates scoring lower, in percent.")
    reasons: list[ReasonOut] | None = None
    promoted: bool | None = Field(
        None,
        description="With region_floor: true when the row is in the list only by the floor.",
    )


class Lineage(BaseModel):
    model_name: str
    model_version: str
    run_id: str | None
    feature_snapshot_id: str | None
    as_of: date
    ranking_id: str = Field(description="Identifies the in-memory ranking that answered.")


class ShortlistResponse(BaseModel):
    lineage: Lineage
    filters: dict[str, object]
    total_candidates: int = Field(description="Candidates in the ranking, before filters.")
    matching: int = Field(description="Candidates matching the filters.")
    candidates: list[Candidate]


class ScoreItem(BaseModel):
    org_id: str
    status: Literal["scored", "unknown"]
    candidate: bool | None = Field(
        None, description="Whether it is a current candidate (in the ranking)."
    )
    score: float | None = None
    rank: int | None = None
    percentile: float | None = None
    reasons: list[ReasonOut] | None = None


class ScoreResponse(BaseModel):
    lineage: Lineage
    results: list[ScoreItem]


class ReloadResponse(BaseModel):
    reloaded: bool
    previous_version: str | None
    model_version: str
    ranking_id: str
    candidates: int
    seconds: float


class ForgetResponse(BaseModel):
    ranking_id: str
    removed_orgs: int
    founders_hidden: int
