"""One training run for the registry: the backtest at the latest fully labelled window.

The registered model is exactly the backtest model whose metrics it carries. It learns
only from label windows that close on or before ``snapshot date - horizon``, and it is
judged on the candidates of that date. Any model registered later (trained on a later
snapshot) can then be compared with it on its own window without either having seen
those labels: the promotion gate stays honest. The price is that the served model does
not learn from the last horizon's partial labels, which could not be trusted anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

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
    load_snapshot,
    run_backtest,
)
from talentmap.training.tracking.lineage import SnapshotLineage
from talentmap.training.tracking.run_inputs import LoggedRun, TrainingRunInputs


@dataclass(frozen=True)
class TrainingRun:
    """A backtest logged to MLflow and registered as the ``challenger``."""

    backtest: BacktestResult
    logged: LoggedRun


def latest_covered_as_of(snapshot_date: date, horizon_months: int) -> date:
    """The latest as-of date whose whole label window the snapshot covers."""
    return (pd.Timestamp(snapshot_date) - pd.DateOffset(months=horizon_months)).date()


def log_backtest(settings: Settings, result: BacktestResult) -> LoggedRun:
    """Log a backtest's model, metrics, lineage and audit to MLflow; register it."""
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
    return log_training_run(resolve_target(settings), inputs, fairness=settings.fairness)


def train(
    settings: Settings,
    data_dir: Path,
    out_dir: Path,
    on_step: StepHook | None = None,
    snapshot: Snapshot | None = None,
    store: FeatureStore | None = None,
) -> TrainingRun:
    """Backtest at the latest covered window, log the run and register the challenger."""
    snapshot = snapshot or load_snapshot(settings, data_dir)
    as_of = latest_covered_as_of(snapshot.snapshot_date, settings.training.rules.horizon_months)
    result = run_backtest(
        settings, data_dir, as_of, None, out_dir, on_step, snapshot=snapshot, store=store
    )
    return TrainingRun(backtest=result, logged=log_backtest(settings, result))
