"""One training run for the registry: the backtest at the latest fully labelled window.

The registered model is exactly the backtest model whose metrics it carries. It learns
only from label windows that close on or before ``snapshot date - horizon``, and it is
judged on the candidates of that date. Any model registered later (trained on a later
snapshot) can then be compared with it on its own window without either having seen
those labels: the promotion gate stays honest. The price is that the served model does
not learn from the last horizon's partial labels, which could not be trusted anyway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from feast import FeatureStore

from talentmap.features.definitions.services import SERVICE_NAME
from talentmap.lake import Lake
from talentmap.settings import Settings
from talentmap.training.evaluation.fairness_audit import audit_groups
from talentmap.training.pipeline.backtest import (
    MODEL_NAME,
    BacktestError,
    BacktestResult,
    Snapshot,
    StepHook,
    categorical_names,
    feature_names,
    load_snapshot,
    run_backtest,
)
from talentmap.training.tracking.lineage import SnapshotLineage
from talentmap.training.tracking.run_inputs import LoggedRun, TrainingRunInputs

if TYPE_CHECKING:
    from talentmap.training.pipeline.retrain_tune import RetrainTuner, TuningDecision


@dataclass(frozen=True)
class TrainingRun:
    """A backtest logged to MLflow and registered as the ``challenger``."""

    backtest: BacktestResult
    logged: LoggedRun
    tuning: TuningDecision | None = None  # set when a budgeted search ran before the fit


def latest_covered_as_of(snapshot_date: date, horizon_months: int) -> date:
    """The latest as-of date whose whole label window the snapshot covers."""
    return (pd.Timestamp(snapshot_date) - pd.DateOffset(months=horizon_months)).date()


def log_backtest(
    settings: Settings, result: BacktestResult, tuning: TuningDecision | None = None
) -> LoggedRun:
    """Log a backtest's model, metrics, lineage and audit to MLflow; register it.

    ``tuning`` (retrain's budgeted search) adds its decision to the run's params, tags,
    metrics and model card.
    """
    from talentmap.training.tracking.run_logging import log_training_run
    from talentmap.training.tracking.target import resolve_target

    if not result.evaluated or result.labels is None:
        raise BacktestError(
            f"the backtest at {result.as_of.date()} has no labels to evaluate on: the "
            "snapshot does not cover its horizon, so it cannot be registered"
        )
    evaluation = result.features_at_as_of.assign(as_of=result.as_of, label=result.labels)
    inputs = TrainingRunInputs(
        model=result.model,
        rules=settings.training.rules,
        snapshot=SnapshotLineage.from_manifest(
            Lake(settings.lake_dir).manifest(result.snapshot_id)
        ),
        feature_service=SERVICE_NAME,
        training_as_of=result.metrics["training"]["as_of_dates"],
        training_labels=result.training_rows["label"],
        evaluation=evaluation,
        baseline_scores={k: v for k, v in result.scores.items() if k != MODEL_NAME},
        audit=audit_groups(result.tables, evaluation["org_id"], result.as_of),
        run_name=f"train-{result.snapshot_id}",
    )
    if tuning is not None:
        inputs.extra_params = tuning.mlflow_params()
        inputs.extra_tags = tuning.mlflow_tags()
        inputs.extra_metrics = tuning.mlflow_metrics()
        inputs.card_notes = (tuning.card_note(),)
    if result.sample is not None:
        # training.max_rows: the sample (or that there was none) on the run and the card.
        inputs.extra_params = {**inputs.extra_params, **result.sample.mlflow_params()}
        inputs.card_notes = (*inputs.card_notes, result.sample.card_note())
    return log_training_run(resolve_target(settings), inputs, fairness=settings.fairness)


def train(
    settings: Settings,
    data_dir: Path,
    out_dir: Path,
    on_step: StepHook | None = None,
    snapshot: Snapshot | None = None,
    store: FeatureStore | None = None,
    tune_budget_seconds: float = 0.0,
) -> TrainingRun:
    """Backtest at the latest covered window, log the run and register the challenger.

    With ``tune_budget_seconds > 0`` a budgeted search runs on the backtest's training
    frame before the fit (``retrain_tune``); its decision goes into ``metrics.json``
    (``training.tuning``) and the MLflow run.
    """
    snapshot = snapshot or load_snapshot(settings, data_dir)
    as_of = latest_covered_as_of(snapshot.snapshot_date, settings.training.rules.horizon_months)
    tuner = (
        _tuner(settings, snapshot, pd.Timestamp(as_of), tune_budget_seconds)
        if tune_budget_seconds > 0
        else None
    )
    result = run_backtest(
        settings,
        data_dir,
        as_of,
        None,
        out_dir,
        on_step,
        snapshot=snapshot,
        store=store,
        choose_model=tuner,
    )
    tuning = None if tuner is None else tuner.decision
    if tuning is not None:
        _record_tuning(result, tuning)
    return TrainingRun(
        backtest=result, logged=log_backtest(settings, result, tuning), tuning=tuning
    )


def _tuner(
    settings: Settings, snapshot: Snapshot, as_of: pd.Timestamp, budget_seconds: float
) -> RetrainTuner:
    from talentmap.training.pipeline.retrain_tune import RetrainTuner
    from talentmap.training.tracking.target import resolve_target

    features = feature_names()
    return RetrainTuner(
        base=settings.training.model,
        tune=settings.tune,
        budget_seconds=budget_seconds,
        target=resolve_target(settings),
        horizon_months=settings.training.rules.horizon_months,
        cutoff=as_of.normalize(),
        features=features,
        categorical_features=categorical_names(features),
        run_name=f"tune-retrain-{snapshot.snapshot_id}",
        tags={"lineage.snapshot_id": snapshot.snapshot_id},
    )


def _record_tuning(result: BacktestResult, tuning: TuningDecision) -> None:
    """Add the decision to the training block of ``metrics.json``, in memory and on disk."""
    result.metrics["training"]["tuning"] = tuning.to_dict()
    result.metrics_path.write_text(
        json.dumps(result.metrics, indent=2, allow_nan=False, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
