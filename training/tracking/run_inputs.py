"""What one training run logs, passed explicitly, and the evaluation-row schema.

The evaluation rows are what the promotion gate re-scores: ``org_id``, ``as_of``, the
model's features and the label, nothing else (no names reach MLflow).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from talentmap.settings.training import FairnessConfig, PromiseRules
from talentmap.training.tracking.lineage import SnapshotLineage
from talentmap.training.tracking.target import ID_COLUMNS, KS, LABEL

if TYPE_CHECKING:
    from talentmap.training.model.estimator import PromiseModel


@dataclass
class TrainingRunInputs:
    """Everything one training run logs, passed explicitly (no pipeline internals).

    ``evaluation`` is the latest backtest window: ``org_id``, ``as_of`` (one date), the
    model's feature columns and ``label`` (0/1); other columns are dropped before logging.
    ``baseline_scores`` are aligned with its rows, e.g. ``{"logistic_regression": ...,
    "total_raised": ...}``. ``audit`` holds ``org_id`` plus audit-only group columns
    (``region``, ``founder_gender``; see ``audit.audit_groups``), never model features.
    ``training_labels`` are the labels of the rows the model was fitted on.
    ``fairness`` sets the fairness audit (None: the settings' ``fairness`` group when
    logging with a Settings object, else the defaults: top 100, four-fifths, floor of 2).
    ``extra_metrics`` are logged beside the run's own and ``card_notes`` end the model
    card's limitations (retrain's tuning decision uses both).
    """

    model: PromiseModel
    rules: PromiseRules
    snapshot: SnapshotLineage
    feature_service: str
    training_as_of: Sequence[Any]
    training_labels: np.ndarray | pd.Series | Sequence[int]
    evaluation: pd.DataFrame
    baseline_scores: Mapping[str, np.ndarray] = field(default_factory=dict)
    audit: pd.DataFrame | None = None
    ks: tuple[int, ...] = KS
    group_k: int = 100
    run_name: str | None = None
    extra_params: Mapping[str, Any] = field(default_factory=dict)
    extra_tags: Mapping[str, str] = field(default_factory=dict)
    fairness: FairnessConfig | None = None
    extra_metrics: Mapping[str, float] = field(default_factory=dict)
    card_notes: Sequence[str] = ()


@dataclass(frozen=True)
class LoggedRun:
    run_id: str
    experiment_id: str
    model_uri: str
    model_version: str | None  # None when registration was not asked for


def evaluation_rows(frame: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """``[org_id, as_of, *features, label]`` of one window, validated; nothing else survives."""
    keep = [*ID_COLUMNS, *features, LABEL]
    missing = [c for c in keep if c not in frame.columns]
    if missing:
        raise KeyError(f"evaluation rows lack columns: {missing}")
    rows = frame.loc[:, keep].reset_index(drop=True)
    labels = rows[LABEL]
    if labels.isna().any() or not labels.isin([0, 1, True, False]).all():
        raise ValueError("evaluation labels must be 0/1 (uncovered windows are refused upstream)")
    rows[LABEL] = labels.astype(np.int64)
    rows["as_of"] = pd.to_datetime(rows["as_of"]).dt.normalize()
    if rows["as_of"].nunique() != 1:
        raise ValueError("evaluation rows must belong to one as-of date (one backtest window)")
    rows["org_id"] = rows["org_id"].astype(str)
    return rows
