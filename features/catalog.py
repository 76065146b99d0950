"""The feature catalogue: every entity, family and on-demand view, and the ``promise`` list.

One catalogue drives the builders (which module builds a family, output column order and
dtypes), the table files and the Feast definitions (entities, views, the on-demand view and
the feature service), so a column or a family cannot exist in one and not the other.
Adding a family is one entry in ``FAMILIES`` and one builder module (see ``Family``).

Numeric features are float64 so that "unknown" (NaN) and 0 stay distinct: a family
whose source table is absent is NaN, never 0. ``*_day`` columns hold dates as days since
1970-01-01 (UTC); they are inputs of the time-relative on-demand view, not model features,
because an absolute date lets a model learn the calendar instead of the company.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

import pandas as pd

from talentmap import contract
from talentmap.features.relative_amount import relative_amount_udf
from talentmap.features.timing import timing_udf

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
# Market heat counts rounds over the last 365 days.
HEAT_WINDOW = timedelta(days=365)
# Views keyed by a shared entity (a market cell, a round pool) get a row on the first of
# every month, so within the data a row is never more than 31 days old, and expire 31 days
# after their last row. That is shorter than the heat window, so a count the data no
# longer backs (new rounds unknown after the snapshot) is never served for long. It is
# also what keeps retrieval cheap: Feast's point-in-time join reads every row of the key
# within the TTL before t, and a busy market has a change day every few days.
LINKED_TTL = timedelta(days=31)

# Keys of the entities an organisation links to (see ``EntitySpec.link``).
MARKET_KEY = "market_cell"
SECTOR_KEY = "sector_cell"
POOL_KEY = "round_pool"


# Column kinds, kept free of Feast types so that importing the catalogue stays light.
Dtype = Literal["string", "float64", "timestamp"]


@dataclass(frozen=True)
class EntitySpec:
    """A Feast entity: what a family's rows are about, and its join key.

    ``link`` marks an entity that organisations point to, such as the market cell a
    company belongs to: its key at (org, t) is the value of that ``(family, column)`` of
    the organisation at t. Values shared by many companies (the number of rounds in a
    cell) then live once per cell and day instead of once per company and day, which
    would grow with the square of the number of companies. Retrieval looks the keys up
    first, point in time, then joins the linked views on them (``store``).
    """

    name: str
    key: str
    description: str
    link: tuple[str, str] | None = None


ENTITIES: dict[str, EntitySpec] = {
    e.key: e
    for e in (
        EntitySpec(
            name="organization",
            key=ORG_KEY,
            description="A company, keyed by the contract's org_id.",
        ),
        EntitySpec(
            name="person",
            key=PERSON_KEY,
            description="A person (founder, executive, author), keyed by the contract's person_id.",
        ),
        EntitySpec(
            name="market",
            key=MARKET_KEY,
            description="A sector in a region of a country, keyed 'sector|country|region'.",
            link=("links", MARKET_KEY),
        ),
        EntitySpec(
            name="sector_market",
            key=SECTOR_KEY,
            description="A sector in a country, keyed 'sector|country'.",
            link=("links", SECTOR_KEY),
        ),
        EntitySpec(
            name="round_pool",
            key=POOL_KEY,
            description="Funding rounds of one type and calendar year, keyed 'type|year'.",
            link=("links", POOL_KEY),
        ),
    )
}


def linked_entities() -> list[EntitySpec]:
    """The entities organisations link to, in catalogue order."""
    return [spec for spec in ENTITIES.values() if spec.link is not None]


@dataclass(frozen=True)
class Family:
    """A feature family: one event-driven table and one Feast feature view.

    ``talentmap.features.family_<module>`` (``module`` defaults to the name) defines
    ``build_<name>(prepared) -> frame``; the view reads the table ``<name>.parquet``.
    """

    name: str
    key: str
    numeric: tuple[str, ...]
    strings: tuple[str, ...] = ()
    ttl: timedelta = LONG_TTL
    # Columns stored for the on-demand view or for lineage, left out of ``promise``.
    not_in_model: tuple[str, ...] = ()
    description: str = ""
    # For a family that shares its helpers with another one's builder module.
    module: str = ""

    @property
    def columns(self) -> tuple[str, ...]:
        return self.strings + self.numeric

    @property
    def fields(self) -> tuple[tuple[str, Dtype], ...]:
        """The view schema, in table column order."""
        return tuple((c, "string") for c in self.strings) + tuple(
            (c, "float64") for c in self.numeric
        )

    @property
    def model_features(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.not_in_model)

    @property
    def builder_module(self) -> str:
        return f"talentmap.features.family_{self.module or self.name}"

    @property
    def builder_name(self) -> str:
        return f"build_{self.name}"


def table_path(tables_dir: Path, family: str) -> Path:
    """Where a family's table lives: the one naming rule shared by writer and sources."""
    return Path(tables_dir).resolve() / f"{family}.parquet"


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            name="profile",
            key=ORG_KEY,
            strings=("sector", "region", "country"),
            numeric=("founded_day", "age_anchor_day", "is_closed"),
            not_in_model=("founded_day", "age_anchor_day", "is_closed"),
            description=(
                "Static attributes, the founding date once reached, the age anchor "
                "(founding date, else first dated event), closure."
            ),
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
                "headcount_growth_per_year",
                "job_postings_total",
                "job_postings_90d",
                "job_postings_365d",
            ),
            ttl=HIRING_TTL,
            description=(
                "Headcount, its growth over 12 months and per year since founding, and job "
                "postings; stale after 2 years."
            ),
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
            module="research",
        ),
        Family(
            name="momentum",
            key=ORG_KEY,
            numeric=("round_gap_months_mean", "amount_step_up", "last_round_amount_eur"),
            not_in_model=("last_round_amount_eur",),
            description="Mean time between round days and the step-up in amount between them.",
        ),
        Family(
            name="investors",
            key=ORG_KEY,
            numeric=(
                "investors_track_record_max",
                "investors_track_record_mean",
                "n_investors_with_track_record",
            ),
            description="Share of the investors' earlier companies that reached a milestone.",
        ),
        Family(
            name="coinvestors",
            key=ORG_KEY,
            numeric=("n_investors_coinvested_successful", "coinvestors_track_record_max"),
            description="Investors' co-investment with investors whose companies did well.",
            module="network",
        ),
        Family(
            name="founder_network",
            key=ORG_KEY,
            numeric=(
                "n_founders_prior_milestone",
                "founders_network_size",
                "founders_network_milestone_rate",
            ),
            description="Milestones of the founders' earlier companies and co-founders' others.",
            module="network",
        ),
        Family(
            name="program_cohort",
            key=ORG_KEY,
            numeric=("cohort_alumni_n_milestone", "cohort_alumni_milestone_rate"),
            description="Milestones of the other companies of its programme cohorts.",
            module="network",
        ),
        Family(
            name="cohort",
            key=ORG_KEY,
            strings=("founding_cohort",),
            numeric=("founding_year",),
            description="Founding year and five-year founding cohort, from the founding day on.",
        ),
        Family(
            name="links",
            key=ORG_KEY,
            strings=(MARKET_KEY, SECTOR_KEY, POOL_KEY),
            numeric=(),
            not_in_model=(MARKET_KEY, SECTOR_KEY, POOL_KEY),
            description="Keys of the market cells and of the last round's pool (retrieval keys).",
            module="market",
        ),
        Family(
            name="market",
            key=MARKET_KEY,
            numeric=("market_rounds_12m",),
            ttl=LINKED_TTL,
            description="Rounds raised in the sector and region over the last 365 days.",
            module="market",
        ),
        Family(
            name="sector_market",
            key=SECTOR_KEY,
            numeric=("sector_rounds_12m",),
            ttl=LINKED_TTL,
            description="Rounds raised in the sector, country-wide, over the last 365 days.",
            module="market",
        ),
        Family(
            name="round_pool",
            key=POOL_KEY,
            numeric=("pool_median_amount_eur",),
            not_in_model=("pool_median_amount_eur",),
            ttl=LINKED_TTL,
            description="Median known amount of the type and year's rounds dated so far.",
            module="market",
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


@dataclass(frozen=True)
class OnDemandFamily:
    """Features computed at request time (a Feast on-demand view, pandas mode), for values
    that change every day without any event, so cannot be stored on event rows.

    ``udf`` gets the ``inputs`` columns of the stored families and the request fields (UTC
    timestamps) and returns the ``numeric`` columns. Feast serialises it by value, so it
    must be self-contained.
    """

    name: str
    inputs: tuple[tuple[str, tuple[str, ...]], ...]
    numeric: tuple[str, ...]
    udf: Callable[[pd.DataFrame], pd.DataFrame]
    # Empty for a view computed from stored features alone.
    request_source: str = ""
    request_fields: tuple[str, ...] = ()
    request_description: str = ""
    description: str = ""

    @property
    def fields(self) -> tuple[tuple[str, Dtype], ...]:
        return tuple((c, "float64") for c in self.numeric)

    @property
    def request_schema(self) -> tuple[tuple[str, Dtype], ...]:
        return tuple((c, "timestamp") for c in self.request_fields)

    @property
    def model_features(self) -> tuple[str, ...]:
        return self.numeric


ON_DEMAND_FAMILIES: dict[str, OnDemandFamily] = {
    f.name: f
    for f in (
        OnDemandFamily(
            name="timing",
            inputs=(
                ("profile", ("age_anchor_day",)),
                ("funding", ("first_round_day", "last_round_day")),
                ("programs", ("first_program_day", "last_program_start_day")),
            ),
            numeric=TIMING_FEATURES,
            udf=timing_udf,
            request_source="as_of_request",
            request_fields=(AS_OF_FIELD,),
            request_description=(
                "The as-of instant (UTC): the entity frame's as_of, or now when serving."
            ),
            description="Company age and time since rounds and programmes, at the as-of date.",
        ),
        OnDemandFamily(
            name="relative_amount",
            inputs=(
                ("momentum", ("last_round_amount_eur",)),
                ("round_pool", ("pool_median_amount_eur",)),
            ),
            numeric=("amount_last_vs_type_year_median",),
            udf=relative_amount_udf,
            description="Last round amount over the median of its type and year so far.",
        ),
    )
}

# The feature service the model, training and serving read by name (MLflow logs it).
SERVICE_NAME = "promise"
SERVICE_DESCRIPTION = "Model inputs of the promise score; no raw dates, no gender."


def model_feature_refs() -> list[str]:
    """``view:feature`` references of everything the model reads (the ``promise`` service)."""
    specs: list[Family | OnDemandFamily] = [*FAMILIES.values(), *ON_DEMAND_FAMILIES.values()]
    return [f"{spec.name}:{c}" for spec in specs for c in spec.model_features]


# Features where more never means less promise, by what they count: money raised from
# others, backers with a record, founders' degrees and earlier exits, a larger team.
# ``binary_monotone`` trees are held to it; the selection keeps them only if they win on
# the inner validation. Timing and age are absent on purpose: their effect rises then
# falls (a round's "momentum" peaks about a year after it).
MONOTONE_INCREASING: tuple[str, ...] = (
    "amount_total_eur",
    "amount_max_eur",
    "n_distinct_vc_investors",
    "n_rounds_with_vc",
    "headcount_latest",
    "n_founders_phd",
    "n_founders_engineer",
    "n_founders_grande_ecole",
    "n_founders_prior_exit",
    "n_prior_exits",
    "investors_track_record_max",
    "n_investors_with_track_record",
)


def monotone_directions() -> dict[str, int]:
    """``{feature: 1}`` for the features whose direction is known (see above)."""
    return dict.fromkeys(MONOTONE_INCREASING, 1)
