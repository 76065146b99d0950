"""The Feast definitions and the family builders are pinned: what ``feast apply`` registers
and which function builds each table must not drift.

The model, the training rows and the service read features by view and feature name, and
MLflow lineage logs those names, so the entities, views, on-demand view and ``promise``
service are compared here with a literal captured from the hand-written definitions that
issue 14 replaced with ones generated from the catalogue. Changing a name, a dtype, a TTL
or a projection must be a deliberate edit of this file.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from feast import Entity, FeatureService, FeatureView, Field
from feast.on_demand_feature_view import OnDemandFeatureView

from talentmap.features.build import BUILDERS
from talentmap.features.definitions.repo import repo_objects
from talentmap.features.relative_amount import relative_amount_udf
from talentmap.features.timing import timing_udf

# Captured from the hand-written features/definitions/ modules at 84332af, then extended
# deliberately with the signals of issue 13 §4 (momentum, investors, cohort, the links to
# market cells and round pools, market heat, the round pool's median and the on-demand
# relative amount), then with the network signals of issue 9 part 2 (co-investors,
# founders' networks, programme cohorts). The order is the order `feast apply` registers
# them in.
EXPECTED_ORDER = [
    "Entity:organization",
    "Entity:person",
    "Entity:market",
    "Entity:sector_market",
    "Entity:round_pool",
    "FeatureView:profile",
    "FeatureView:funding",
    "FeatureView:team",
    "FeatureView:hiring",
    "FeatureView:programs",
    "FeatureView:research",
    "FeatureView:founders",
    "FeatureView:person_research",
    "FeatureView:momentum",
    "FeatureView:investors",
    "FeatureView:coinvestors",
    "FeatureView:founder_network",
    "FeatureView:program_cohort",
    "FeatureView:cohort",
    "FeatureView:links",
    "FeatureView:market",
    "FeatureView:sector_market",
    "FeatureView:round_pool",
    "OnDemandFeatureView:timing",
    "OnDemandFeatureView:relative_amount",
    "FeatureService:promise",
]
EXPECTED_ENTITIES = {
    "organization": {
        "join_key": "org_id",
        "value_type": "STRING",
        "description": "A company, keyed by the contract's org_id.",
    },
    "person": {
        "join_key": "person_id",
        "value_type": "STRING",
        "description": "A person (founder, executive, author), keyed by the contract's person_id.",
    },
    "market": {
        "join_key": "market_cell",
        "value_type": "STRING",
        "description": "A sector in a region of a country, keyed 'sector|country|region'.",
    },
    "sector_market": {
        "join_key": "sector_cell",
        "value_type": "STRING",
        "description": "A sector in a country, keyed 'sector|country'.",
    },
    "round_pool": {
        "join_key": "round_pool",
        "value_type": "STRING",
        "description": "Funding rounds of one type and calendar year, keyed 'type|year'.",
    },
}
EXPECTED_VIEWS = {
    "profile": {
        "entities": ["organization"],
        "ttl": timedelta(days=7300),
        "schema": [
            "sector: STRING",
            "region: STRING",
            "country: STRING",
            "founded_day: FLOAT64",
            "age_anchor_day: FLOAT64",
            "is_closed: FLOAT64",
        ],
        "source": {
            "type": "FileSource",
            "name": "profile_source",
            "path": "profile.parquet",
            "timestamp_field": "event_timestamp",
            "description": "Event-driven table of the profile family.",
        },
        "online": True,
        "description": (
            "Static attributes, the founding date once reached, the age anchor "
            "(founding date, else first dated event), closure."
        ),
        "tags": {"family": "profile"},
    },
    "funding": {
        "entities": ["organization"],
        "ttl": timedelta(days=7300),
        "schema": [
            "n_rounds: FLOAT64",
            "n_rounds_pre_seed: FLOAT64",
            "n_rounds_seed: FLOAT64",
            "n_rounds_angel: FLOAT64",
            "n_rounds_series_a: FLOAT64",
            "n_rounds_series_b: FLOAT64",
            "n_rounds_series_c_plus: FLOAT64",
            "n_rounds_venture_unknown: FLOAT64",
            "n_rounds_grant: FLOAT64",
            "n_rounds_debt: FLOAT64",
            "n_rounds_crowdfunding: FLOAT64",
            "n_rounds_other: FLOAT64",
            "amount_total_eur: FLOAT64",
            "amount_max_eur: FLOAT64",
            "amount_last_eur: FLOAT64",
            "stage_ordinal: FLOAT64",
            "round_gap_days: FLOAT64",
            "first_round_day: FLOAT64",
            "last_round_day: FLOAT64",
            "n_distinct_investors: FLOAT64",
            "n_distinct_vc_investors: FLOAT64",
            "n_rounds_with_vc: FLOAT64",
            "n_rounds_with_lead: FLOAT64",
        ],
        "source": {
            "type": "FileSource",
            "name": "funding_source",
            "path": "funding.parquet",
            "timestamp_field": "event_timestamp",
            "description": "Event-driven table of the funding family.",
        },
        "online": True,
        "description": "Rounds so far by type, amounts, stage, momentum and investors.",
        "tags": {"family": "funding"},
    },
    "team": {
        "entities": ["organization"],
        "ttl": timedelta(days=7300),
        "schema": ["n_founders: FLOAT64", "n_founders_total: FLOAT64", "n_executives: FLOAT64"],
        "source": {
            "type": "FileSource",
            "name": "team_source",
            "path": "team.parquet",
            "timestamp_field": "event_timestamp",
            "description": "Event-driven table of the team family.",
        },
        "online": True,
        "description": "Founders and executives in post (from roles).",
        "tags": {"family": "team"},
    },
    "hiring": {
        "entities": ["organization"],
        "ttl": timedelta(days=730),
        "schema": [
            "headcount_latest: FLOAT64",
            "headcount_12m_ago: FLOAT64",
            "headcount_growth_12m: FLOAT64",
            "headcount_growth_per_year: FLOAT64",
            "job_postings_total: FLOAT64",
            "job_postings_90d: FLOAT64",
            "job_postings_365d: FLOAT64",
        ],
        "source": {
            "type": "FileSource",
            "name": "hiring_source",
            "path": "hiring.parquet",
            "timestamp_field": "event_timestamp",
            "description": "Event-driven table of the hiring family.",
        },
        "online": True,
        "description": (
            "Headcount, its growth over 12 months and per year since founding, and job "
            "postings; stale after 2 years."
        ),
        "tags": {"family": "hiring"},
    },
    "programs": {
        "entities": ["organization"],
        "ttl": timedelta(days=7300),
        "schema": [
            "n_programs: FLOAT64",
            "n_programs_incubator: FLOAT64",
            "n_programs_accelerator: FLOAT64",
            "n_programs_public_program: FLOAT64",
            "n_programs_competition: FLOAT64",
            "n_programs_active: FLOAT64",
            "first_program_day: FLOAT64",
            "last_program_start_day: FLOAT64",
        ],
        "source": {
            "type": "FileSource",
            "name": "programs_source",
            "path": "programs.parquet",
            "timestamp_field": "event_timestamp",
            "description": "Event-driven table of the programs family.",
        },
        "online": True,
        "description": "Incubator, accelerator, public programme and competition membership.",
        "tags": {"family": "programs"},
    },
    "research": {
        "entities": ["organization"],
        "ttl": timedelta(days=7300),
        "schema": [
            "org_n_papers: FLOAT64",
            "org_n_patents: FLOAT64",
            "org_n_software: FLOAT64",
            "founders_n_papers: FLOAT64",
            "founders_n_patents: FLOAT64",
            "founders_n_software: FLOAT64",
        ],
        "source": {
            "type": "FileSource",
            "name": "research_source",
            "path": "research.parquet",
            "timestamp_field": "event_timestamp",
            "description": "Event-driven table of the research family.",
        },
        "online": True,
        "description": "Publications of the company and of its founders (from joining on).",
        "tags": {"family": "research"},
    },
    "founders": {
        "entities": ["organization"],
        "ttl": timedelta(days=7300),
        "schema": [
            "n_founders_phd: FLOAT64",
            "n_founders_engineer: FLOAT64",
            "n_founders_mba: FLOAT64",
            "n_founders_grande_ecole: FLOAT64",
            "n_founders_prior_venture: FLOAT64",
            "n_prior_ventures: FLOAT64",
            "n_founders_prior_exit: FLOAT64",
            "n_prior_exits: FLOAT64",
        ],
        "source": {
            "type": "FileSource",
            "name": "founders_source",
            "path": "founders.parquet",
            "timestamp_field": "event_timestamp",
            "description": "Event-driven table of the founders family.",
        },
        "online": True,
        "description": "Founders' education, prior ventures and prior exits, per company.",
        "tags": {"family": "founders"},
    },
    "person_research": {
        "entities": ["person"],
        "ttl": timedelta(days=7300),
        "schema": [
            "person_n_papers: FLOAT64",
            "person_n_patents: FLOAT64",
            "person_n_software: FLOAT64",
        ],
        "source": {
            "type": "FileSource",
            "name": "person_research_source",
            "path": "person_research.parquet",
            "timestamp_field": "event_timestamp",
            "description": "Event-driven table of the person_research family.",
        },
        "online": True,
        "description": "A person's own publications (person entity; not read by the model).",
        "tags": {"family": "person_research"},
    },
    "momentum": {
        "entities": ["organization"],
        "ttl": timedelta(days=7300),
        "schema": [
            "round_gap_months_mean: FLOAT64",
            "amount_step_up: FLOAT64",
            "last_round_amount_eur: FLOAT64",
        ],
        "source": {
            "type": "FileSource",
            "name": "momentum_source",
            "path": "momentum.parquet",
            "timestamp_field": "event_timestamp",
            "description": "Event-driven table of the momentum family.",
        },
        "online": True,
        "description": "Mean time between round days and the step-up in amount between them.",
        "tags": {"family": "momentum"},
    },
    "investors": {
        "entities": ["organization"],
        "ttl": timedelta(days=7300),
        "schema": [
            "investors_track_record_max: FLOAT64",
            "investors_track_record_mean: FLOAT64",
            "n_investors_with_track_record: FLOAT64",
        ],
        "source": {
            "type": "FileSource",
            "name": "investors_source",
            "path": "investors.parquet",
            "timestamp_field": "event_timestamp",
            "description": "Event-driven table of the investors family.",
        },
        "online": True,
        "description": "Share of the investors' earlier companies that reached a milestone.",
        "tags": {"family": "investors"},
    },
    "coinvestors": {
        "entities": ["organization"],
        "ttl": timedelta(days=7300),
        "schema": [
            "n_investors_coinvested_successful: FLOAT64",
            "coinvestors_track_record_max: FLOAT64",
        ],
        "source": {
            "type": "FileSource",
            "name": "coinvestors_source",
            "path": "coinvestors.parquet",
            "timestamp_field": "event_timestamp",
            "description": "Event-driven table of the coinvestors family.",
        },
        "online": True,
        "description": "Investors' co-investment with investors whose companies did well.",
        "tags": {"family": "coinvestors"},
    },
    "founder_network": {
        "entities": ["organization"],
        "ttl": timedelta(days=7300),
        "schema": [
            "n_founders_prior_milestone: FLOAT64",
            "founders_network_size: FLOAT64",
            "founders_network_milestone_rate: FLOAT64",
        ],
        "source": {
            "type": "FileSource",
            "name": "founder_network_source",
            "path": "founder_network.parquet",
            "timestamp_field": "event_timestamp",
            "description": "Event-driven table of the founder_network family.",
        },
        "online": True,
        "description": "Milestones of the founders' earlier companies and co-founders' others.",
        "tags": {"family": "founder_network"},
    },
    "program_cohort": {
        "entities": ["organization"],
        "ttl": timedelta(days=7300),
        "schema": [
            "cohort_alumni_n_milestone: FLOAT64",
            "cohort_alumni_milestone_rate: FLOAT64",
        ],
        "source": {
            "type": "FileSource",
            "name": "program_cohort_source",
            "path": "program_cohort.parquet",
            "timestamp_field": "event_timestamp",
            "description": "Event-driven table of the program_cohort family.",
        },
        "online": True,
        "description": "Milestones of the other companies of its programme cohorts.",
        "tags": {"family": "program_cohort"},
    },
    "cohort": {
        "entities": ["organization"],
        "ttl": timedelta(days=7300),
        "schema": [
            "founding_cohort: STRING",
            "founding_year: FLOAT64",
        ],
        "source": {
            "type": "FileSource",
            "name": "cohort_source",
            "path": "cohort.parquet",
            "timestamp_field": "event_timestamp",
            "description": "Event-driven table of the cohort family.",
        },
        "online": True,
        "description": "Founding year and five-year founding cohort, from the founding day on.",
        "tags": {"family": "cohort"},
    },
    "links": {
        "entities": ["organization"],
        "ttl": timedelta(days=7300),
        "schema": [
            "market_cell: STRING",
            "sector_cell: STRING",
            "round_pool: STRING",
        ],
        "source": {
            "type": "FileSource",
            "name": "links_source",
            "path": "links.parquet",
            "timestamp_field": "event_timestamp",
            "description": "Event-driven table of the links family.",
        },
        "online": True,
        "description": "Keys of the market cells and of the last round's pool (retrieval keys).",
        "tags": {"family": "links"},
    },
    "market": {
        "entities": ["market"],
        "ttl": timedelta(days=31),
        "schema": [
            "market_rounds_12m: FLOAT64",
        ],
        "source": {
            "type": "FileSource",
            "name": "market_source",
            "path": "market.parquet",
            "timestamp_field": "event_timestamp",
            "description": "Event-driven table of the market family.",
        },
        "online": True,
        "description": "Rounds raised in the sector and region over the last 365 days.",
        "tags": {"family": "market"},
    },
    "sector_market": {
        "entities": ["sector_market"],
        "ttl": timedelta(days=31),
        "schema": [
            "sector_rounds_12m: FLOAT64",
        ],
        "source": {
            "type": "FileSource",
            "name": "sector_market_source",
            "path": "sector_market.parquet",
            "timestamp_field": "event_timestamp",
            "description": "Event-driven table of the sector_market family.",
        },
        "online": True,
        "description": "Rounds raised in the sector, country-wide, over the last 365 days.",
        "tags": {"family": "sector_market"},
    },
    "round_pool": {
        "entities": ["round_pool"],
        "ttl": timedelta(days=31),
        "schema": [
            "pool_median_amount_eur: FLOAT64",
        ],
        "source": {
            "type": "FileSource",
            "name": "round_pool_source",
            "path": "round_pool.parquet",
            "timestamp_field": "event_timestamp",
            "description": "Event-driven table of the round_pool family.",
        },
        "online": True,
        "description": "Median known amount of the type and year's rounds dated so far.",
        "tags": {"family": "round_pool"},
    },
}
EXPECTED_ON_DEMAND = {
    "timing": {
        "sources": {
            "profile": ["age_anchor_day: FLOAT64"],
            "funding": ["first_round_day: FLOAT64", "last_round_day: FLOAT64"],
            "programs": ["first_program_day: FLOAT64", "last_program_start_day: FLOAT64"],
            "as_of_request": {
                "request": ["as_of: UNIX_TIMESTAMP"],
                "description": "The as-of instant (UTC): the entity frame's as_of, or now when serving.",
            },
        },
        "schema": [
            "company_age_days: FLOAT64",
            "days_since_first_round: FLOAT64",
            "days_since_last_round: FLOAT64",
            "days_since_first_program: FLOAT64",
            "days_since_last_program_start: FLOAT64",
        ],
        "mode": "pandas",
        "udf": "timing_udf",
        "description": "Company age and time since rounds and programmes, at the as-of date.",
    },
    "relative_amount": {
        "sources": {
            "momentum": ["last_round_amount_eur: FLOAT64"],
            "round_pool": ["pool_median_amount_eur: FLOAT64"],
        },
        "schema": ["amount_last_vs_type_year_median: FLOAT64"],
        "mode": "pandas",
        "udf": "relative_amount_udf",
        "description": "Last round amount over the median of its type and year so far.",
    },
}
EXPECTED_SERVICES = {
    "promise": {
        "projections": [
            ("profile", ["sector", "region", "country"]),
            (
                "funding",
                [
                    "n_rounds",
                    "n_rounds_pre_seed",
                    "n_rounds_seed",
                    "n_rounds_angel",
                    "n_rounds_series_a",
                    "n_rounds_series_b",
                    "n_rounds_series_c_plus",
                    "n_rounds_venture_unknown",
                    "n_rounds_grant",
                    "n_rounds_debt",
                    "n_rounds_crowdfunding",
                    "n_rounds_other",
                    "amount_total_eur",
                    "amount_max_eur",
                    "amount_last_eur",
                    "stage_ordinal",
                    "round_gap_days",
                    "n_distinct_investors",
                    "n_distinct_vc_investors",
                    "n_rounds_with_vc",
                    "n_rounds_with_lead",
                ],
            ),
            ("team", ["n_founders", "n_founders_total", "n_executives"]),
            (
                "hiring",
                [
                    "headcount_latest",
                    "headcount_12m_ago",
                    "headcount_growth_12m",
                    "headcount_growth_per_year",
                    "job_postings_total",
                    "job_postings_90d",
                    "job_postings_365d",
                ],
            ),
            (
                "programs",
                [
                    "n_programs",
                    "n_programs_incubator",
                    "n_programs_accelerator",
                    "n_programs_public_program",
                    "n_programs_competition",
                    "n_programs_active",
                ],
            ),
            (
                "research",
                [
                    "org_n_papers",
                    "org_n_patents",
                    "org_n_software",
                    "founders_n_papers",
                    "founders_n_patents",
                    "founders_n_software",
                ],
            ),
            (
                "founders",
                [
                    "n_founders_phd",
                    "n_founders_engineer",
                    "n_founders_mba",
                    "n_founders_grande_ecole",
                    "n_founders_prior_venture",
                    "n_prior_ventures",
                    "n_founders_prior_exit",
                    "n_prior_exits",
                ],
            ),
            ("momentum", ["round_gap_months_mean", "amount_step_up"]),
            (
                "investors",
                [
                    "investors_track_record_max",
                    "investors_track_record_mean",
                    "n_investors_with_track_record",
                ],
            ),
            (
                "coinvestors",
                ["n_investors_coinvested_successful", "coinvestors_track_record_max"],
            ),
            (
                "founder_network",
                [
                    "n_founders_prior_milestone",
                    "founders_network_size",
                    "founders_network_milestone_rate",
                ],
            ),
            ("program_cohort", ["cohort_alumni_n_milestone", "cohort_alumni_milestone_rate"]),
            ("cohort", ["founding_cohort", "founding_year"]),
            ("market", ["market_rounds_12m"]),
            ("sector_market", ["sector_rounds_12m"]),
            (
                "timing",
                [
                    "company_age_days",
                    "days_since_first_round",
                    "days_since_last_round",
                    "days_since_first_program",
                    "days_since_last_program_start",
                ],
            ),
            ("relative_amount", ["amount_last_vs_type_year_median"]),
        ],
        "description": "Model inputs of the promise score; no raw dates, no gender.",
    }
}


def _fields(fields: list[Field]) -> list[str]:
    return [f"{field.name}: {field.dtype.name}" for field in fields]


def describe(objects: list[Any], tables_dir: Path) -> dict[str, Any]:
    """What the registry stores of each object, with source paths relative to the tables."""
    out: dict[str, Any] = {
        "order": [f"{type(obj).__name__}:{obj.name}" for obj in objects],
        "entities": {},
        "views": {},
        "on_demand": {},
        "services": {},
    }
    for obj in objects:
        if isinstance(obj, Entity):
            out["entities"][obj.name] = {
                "join_key": obj.join_key,
                "value_type": obj.value_type.name,
                "description": obj.description,
            }
        elif isinstance(obj, FeatureView):
            source = obj.batch_source
            out["views"][obj.name] = {
                "entities": obj.entities,
                "ttl": obj.ttl,
                "schema": _fields(obj.features),
                "source": {
                    "type": type(source).__name__,
                    "name": source.name,
                    "path": str(Path(source.path).relative_to(tables_dir)),
                    "timestamp_field": source.timestamp_field,
                    "description": source.description,
                },
                "online": obj.online,
                "description": obj.description,
                "tags": obj.tags,
            }
        elif isinstance(obj, OnDemandFeatureView):
            sources: dict[str, Any] = {
                name: _fields(projection.features)
                for name, projection in obj.source_feature_view_projections.items()
            }
            for name, request in obj.source_request_sources.items():
                sources[name] = {
                    "request": _fields(request.schema),
                    "description": request.description,
                }
            out["on_demand"][obj.name] = {
                "sources": sources,
                "schema": _fields(obj.features),
                "mode": obj.mode,
                "udf": obj.feature_transformation.udf.__name__,
                "description": obj.description,
            }
        elif isinstance(obj, FeatureService):
            out["services"][obj.name] = {
                "projections": [
                    (projection.name, [field.name for field in projection.features])
                    for projection in obj.feature_view_projections
                ],
                "description": obj.description,
            }
    return out


def test_definitions_match_the_pinned_registry(tmp_path: Path) -> None:
    tables_dir = tmp_path.resolve()
    got = describe(repo_objects(tables_dir), tables_dir)
    assert got["order"] == EXPECTED_ORDER
    assert got["entities"] == EXPECTED_ENTITIES
    assert got["views"] == EXPECTED_VIEWS
    assert got["on_demand"] == EXPECTED_ON_DEMAND
    assert got["services"] == EXPECTED_SERVICES


def test_on_demand_views_run_their_udfs(tmp_path: Path) -> None:
    # Feast serialises a copy of the function by value; it must be the same code.
    views = {
        obj.name: obj for obj in repo_objects(tmp_path) if isinstance(obj, OnDemandFeatureView)
    }
    assert views["timing"].feature_transformation.udf.__code__ is timing_udf.__code__
    relative = views["relative_amount"].feature_transformation.udf
    assert relative.__code__ is relative_amount_udf.__code__


def test_definitions_can_be_built_twice_in_one_process(tmp_path: Path) -> None:
    # Retraining and backtests apply the store more than once per process.
    first = describe(repo_objects(tmp_path / "a"), (tmp_path / "a").resolve())
    second = describe(repo_objects(tmp_path / "b"), (tmp_path / "b").resolve())
    assert first == second


def test_build_finds_each_family_builder_from_the_catalogue() -> None:
    found = {name: f"{fn.__module__}.{fn.__name__}" for name, fn in BUILDERS.items()}
    assert list(found.items()) == [
        ("profile", "talentmap.features.family_profile.build_profile"),
        ("funding", "talentmap.features.family_funding.build_funding"),
        ("team", "talentmap.features.family_team.build_team"),
        ("hiring", "talentmap.features.family_hiring.build_hiring"),
        ("programs", "talentmap.features.family_programs.build_programs"),
        ("research", "talentmap.features.family_research.build_research"),
        ("founders", "talentmap.features.family_founders.build_founders"),
        ("person_research", "talentmap.features.family_research.build_person_research"),
        ("momentum", "talentmap.features.family_momentum.build_momentum"),
        ("investors", "talentmap.features.family_investors.build_investors"),
        ("coinvestors", "talentmap.features.family_network.build_coinvestors"),
        ("founder_network", "talentmap.features.family_network.build_founder_network"),
        ("program_cohort", "talentmap.features.family_network.build_program_cohort"),
        ("cohort", "talentmap.features.family_cohort.build_cohort"),
        ("links", "talentmap.features.family_market.build_links"),
        ("market", "talentmap.features.family_market.build_market"),
        ("sector_market", "talentmap.features.family_market.build_sector_market"),
        ("round_pool", "talentmap.features.family_market.build_round_pool"),
    ]
