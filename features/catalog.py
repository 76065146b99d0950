"""The feature catalogue: every family, its entity, its columns and their kinds.

One list drives both the builders (output column order and dtypes) and the Feast
definitions (view schemas), so a column cannot exist in one and not the other.

Numeric features are float64 so that "unknown" (NaN) and 0 stay distinct: a family
whose source table is absent is NaN, never 0. ``*_day`` columns hold dates as days since
1970-01-01 (UTC); they are inputs of the time-relative on-demand view, not model features,
because an absolute date lets a model learn the calendar instead of the company.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from talentmap import contract

ORG_KEY = "org_id"
PERSON_KEY = "person_id"
EVENT_TS = "event_timestamp"

ROUND_TYPES: tuple[str, ...] = contract.ROUND_TYPES
# Stage reached: only equity rounds that mark a step in the usual progression count.
STAGE_ORDINAL: dict[str, int] = {
    "pre_seed": 1,
    "angel": 1,
    "seed": 2,
    "series_a": 3,
    "series_b": 4,
    "series_c_plus": 5,
}
PROGRAM_KINDS: tuple[str, ...] = ("incubator", "accelerator", "public_program", "competition")

LONG_TTL = timedelta(days=20 * 365)
# Headcount and hiring go stale: after two years without news the signal is unknown.
HIRING_TTL = timedelta(days=730)


@dataclass(frozen=True)
class Family:
    """A feature family: one event-driven table and one Feast feature view."""

    name: str
    key: str
    numeric: tuple[str, ...]
    strings: tuple[str, ...] = ()
    ttl: timedelta = LONG_TTL
    # Columns stored for the on-demand view or for lineage, left out of ``promise``.
    not_in_model: tuple[str, ...] = ()
    description: str = ""

    @property
    def columns(self) -> tuple[str, ...]:
        return self.strings + self.numeric

    @property
    def model_features(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.not_in_model)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            name="profile",
            key=ORG_KEY,
            strings=("sector", "region", "country"),
            numeric=("founded_day", "is_closed"),
            not_in_model=("founded_day", "is_closed"),
            description="Static attributes, the founding date once reached, closure.",
        ),
        Family(
            name="funding",
            key=ORG_KEY,
            numeric=(
                "n_rounds",
                *(f"n_rounds_{t}" for t in ROUND_TYPES),
                "amount_total_eur",
                "amount_max_eur",
                "amount_last_eur",
                "stage_ordinal",
                "round_gap_days",
                "first_round_day",
                "last_round_day",
                "n_distinct_investors",
                "n_distinct_vc_investors",
                "n_rounds_with_vc",
                "n_rounds_with_lead",
            ),
            not_in_model=("first_round_day", "last_round_day"),
            description="Rounds so far by type, amounts, stage, momentum and investors.",
        ),
        Family(
            name="team",
            key=ORG_KEY,
            numeric=("n_founders", "n_founders_total", "n_executives"),
            description="Founders and executives in post (from roles).",
        ),
        Family(
            name="hiring",
            key=ORG_KEY,
            numeric=(
                "headcount_latest",
                "headcount_12m_ago",
                "headcount_growth_12m",
                "job_postings_total",
                "job_postings_90d",
                "job_postings_365d",
            ),
            ttl=HIRING_TTL,
            description="Headcount, its 12-month growth and job postings; stale after 2 years.",
        ),
        Family(
            name="programs",
            key=ORG_KEY,
            numeric=(
                "n_programs",
                *(f"n_programs_{k}" for k in PROGRAM_KINDS),
                "n_programs_active",
                "first_program_day",
                "last_program_start_day",
            ),
            not_in_model=("first_program_day", "last_program_start_day"),
            description="Incubator, accelerator, public programme and competition membership.",
        ),
        Family(
            name="research",
            key=ORG_KEY,
            numeric=(
                "org_n_papers",
                "org_n_patents",
                "org_n_software",
                "founders_n_papers",
                "founders_n_patents",
                "founders_n_software",
            ),
            description="Publications of the company and of its founders (from joining on).",
        ),
        Family(
            name="founders",
            key=ORG_KEY,
            numeric=(
                "n_founders_phd",
                "n_founders_engineer",
                "n_founders_mba",
                "n_founders_grande_ecole",
                "n_founders_prior_venture",
                "n_prior_ventures",
                "n_founders_prior_exit",
                "n_prior_exits",
            ),
            description="Founders' education, prior ventures and prior exits, per company.",
        ),
        Family(
            name="person_research",
            key=PERSON_KEY,
            numeric=("person_n_papers", "person_n_patents", "person_n_software"),
            not_in_model=("person_n_papers", "person_n_patents", "person_n_software"),
            description="A person's own publications (person entity; not read by the model).",
        ),
    )
}

# The time-relative features computed at request time from ``as_of`` (on-demand view).
TIMING_FEATURES: tuple[str, ...] = (
    "company_age_days",
    "days_since_first_round",
    "days_since_last_round",
    "days_since_first_program",
    "days_since_last_program_start",
)
AS_OF_FIELD = "as_of"


def model_feature_refs() -> list[str]:
    """``view:feature`` references of everything the model reads (the ``promise`` service)."""
    refs = [f"{f.name}:{c}" for f in FAMILIES.values() for c in f.model_features]
    refs += [f"timing:{c}" for c in TIMING_FEATURES]
    return refs
