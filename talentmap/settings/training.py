"""What counts as a candidate and what counts as "promise": configured in one place.

The candidate rule and the label share one definition of a *milestone* (a series A or
later, or any round of at least ``large_round_eur``) on purpose: a candidate at t is an
organisation whose label would not already be positive at t, so the two can never drift
apart. ``TrainingConfig`` is a plain ``BaseModel`` so that ``talentmap.settings.Settings``
can nest it (``training: TrainingConfig``) and make every field env/TOML-overridable,
e.g. ``TALENTMAP_TRAINING__RULES__HORIZON_MONTHS=12``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from talentmap import contract_vocab as contract  # not contract: no pandas at start
from talentmap.settings.engine import DaskConfig, TrainingEngine
from talentmap.settings.model import ModelConfig

# Built from the contract, so pydantic rejects unknown kinds and the lists cannot drift.
RoundType = Literal[*contract.ROUND_TYPES]  # type: ignore[valid-type]
ExitKind = Literal[*contract.EXIT_KINDS]  # type: ignore[valid-type]


class PromiseRules(BaseModel):
    """The candidate rule and the label of the training issue (§1) and issue 6."""

    # Frozen: the rules are part of a run's lineage and must not change under its feet.
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_age_years: int = Field(
        5,
        ge=1,
        le=50,
        description=(
            "A candidate at t is younger than this: t - max_age_years < its age anchor "
            "<= t. The anchor is the founding date when it is on or before t, else (with "
            "age_fallback) the first dated event on or before t."
        ),
    )
    age_fallback: bool = Field(
        True,
        description=(
            "Without a founding date known at t (missing, or after t while the company "
            "already has dated events on or before t), count its age from its first dated "
            "event: a round, programme, headcount observation, job posting, founder role "
            "start, own publication or exit. Applies to the candidate rule and to the "
            "company_age_days feature alike. Off: such a company's age is unknown and it "
            "is never a candidate."
        ),
    )
    horizon_months: int = Field(
        24,
        ge=1,
        le=240,
        description=(
            "Label horizon H: the label at t looks at events in the window (t, t + H], "
            "strictly after t and up to and including t + H."
        ),
    )
    milestone_round_types: tuple[RoundType, ...] = Field(
        ("series_a", "series_b", "series_c_plus"),
        min_length=1,
        description=(
            "Round types that are a milestone: raising one inside the window makes the "
            "label 1, and having raised one on or before t excludes the candidate."
        ),
    )
    large_round_eur: float = Field(
        5_000_000.0,
        gt=0,
        description=(
            "Any round of at least this amount (EUR) is a milestone too, whatever its "
            "type. Rounds with an unknown amount never qualify by amount."
        ),
    )
    exit_kinds: tuple[ExitKind, ...] = Field(
        ("acquired", "ipo"),
        description=(
            "Exit kinds that make the label 1. Candidates exclude every exited "
            "organisation, whatever the kind: an exited company is no longer early."
        ),
    )
    require_visibility: bool = Field(
        True,
        description=(
            "Issue 6: a candidate at t must be visible at t (first_seen_on <= t, or one "
            "of its dated events on or before t). Turn off only for a source known to "
            "list companies from birth."
        ),
    )


class TrainingConfig(BaseModel):
    """Configuration of the training stage; later sessions add the tracking group."""

    model_config = ConfigDict(extra="forbid")

    rules: PromiseRules = Field(
        default_factory=PromiseRules,
        description="Candidate selection and label definition.",
    )
    model: ModelConfig = Field(
        default_factory=ModelConfig,
        description="Promise model hyperparameters, time slices and calibration.",
    )
    engine: TrainingEngine = Field(
        "local",
        description="Where the LightGBM trees are trained: 'local' (this process) or "
        "'dask' (lightgbm.dask on the cluster of training.dask; docs/SCALE.md).",
    )
    dask: DaskConfig = Field(
        default_factory=DaskConfig,
        description="The Dask cluster of training.engine = 'dask'.",
    )
    as_of_every_months: int = Field(
        3,
        ge=1,
        le=24,
        description="Spacing of the training as-of dates, in months (3 = quarterly).",
    )
    history_years: int = Field(
        8,
        ge=1,
        le=100,
        description=(
            "History window: the training as-of dates span at most this many years, "
            "ending at the latest date whose label window closes by --as-of "
            "(as_of - horizon). Older dates are never used, however far back the data go."
        ),
    )
    min_candidates_per_date: int = Field(
        30,
        ge=1,
        description=(
            "A training as-of date with fewer candidates (covered label windows) is "
            "dropped, and counted in metrics.json: a handful of rows at one date says "
            "little and would skew the time split."
        ),
    )
    min_positives_per_date: int = Field(
        1,
        ge=0,
        description=(
            "A training as-of date with fewer positive labels is dropped, and counted in "
            "metrics.json (0 keeps dates without any positive)."
        ),
    )
    min_positives_per_slice: int = Field(
        5,
        ge=1,
        description=(
            "Each slice of the model's time split (train, valid and, when calibrating, "
            "calib) needs at least this many positives; otherwise training stops with a "
            "one-line message and exit code 65 (unusable data)."
        ),
    )
    max_rows: int = Field(
        400_000,
        ge=1_000,
        description=(
            "Cap on the training rows a fit retrieves and learns from (issue 10). Above it, "
            "the rows are sampled reproducibly per as-of date: every positive is kept while "
            "they fill at most half the cap, negatives are drawn at one rate, and each kept "
            "row carries the weight that restores its date's counts (a row standing for 5 "
            "weighs 5). The sample is stated in metrics.json, the MLflow params "
            "(training.sample.*) and the model card. 10,000 organisations give ~54,000 rows "
            "(no sampling); one million ~5.4 million."
        ),
    )


class RetrainConfig(BaseModel):
    """Where retraining keeps its lock and versions, and when it runs."""

    data_dir: Path = Field(
        Path("data/inbox"), description="Data directory that scheduled retrains read."
    )
    cron: str = Field("0 3 * * 1", description="Cron expression of `talentmap schedule` (UTC).")
    lock_file: Path = Field(Path("data/retrain.lock"), description="Lock held during a run.")
    versions_dir: Path = Field(
        Path("data/feature-versions"), description="One folder per built feature-store version."
    )
    keep_versions: int = Field(3, ge=1, description="Feature-store versions kept on disk.")
    runs_dir: Path = Field(
        Path("data/runs"), description="Backtest outputs (predictions, metrics) per run."
    )
    tune_budget_seconds: float = Field(
        0.0,
        ge=0,
        description=(
            "Seconds a retrain may spend on a hyperparameter search (the [tune] space, seed, "
            "eval_dates, and n_trials as a cap) on the rows it is about to fit; 0 = off. No "
            "trial starts after the budget. The search's best values are fitted only if they "
            "beat the configured [training.model] on the search's inner evaluation."
        ),
    )


class FairnessConfig(BaseModel):
    """How the shortlist is audited on every training run (``Settings.fairness``)."""

    model_config = ConfigDict(extra="forbid")

    k: int = Field(100, ge=1, description="Size of the audited shortlist (top k).")
    four_fifths: float = Field(
        0.8,
        gt=0,
        le=1,
        description="A group whose selection rate is under this share of the reference "
        "group's is flagged (the four-fifths rule).",
    )
    min_group_size: int = Field(
        30,
        ge=1,
        description="Groups with fewer candidates are marked small (noisy) and never serve "
        "as the reference group.",
    )
    min_expected_selected: float = Field(
        5.0,
        ge=0,
        description="Groups that would place fewer candidates than this in the top k at the "
        "overall selection rate (size x k / candidates) are marked small too.",
    )
    floor_m: int = Field(
        2,
        ge=0,
        description="Regional floor whose precision@k cost every backtest reports: at least "
        "m candidates per French region in the top k (0 = do not report).",
    )
