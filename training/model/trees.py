"""LightGBM boosters of the promise model: early-stopped on a later slice, or refitted.

A tree variant is ``binary`` (log-loss: scores close to log-odds), ``binary_monotone``
(the same, with LightGBM's monotone constraints on the features whose direction is known:
more of a good thing never lowers the score), or a ranking objective (``rank_xendcg``,
``lambdarank``) whose query groups are the as-of dates: a shortlist is one date's
ranking, so the trees learn to order the companies of one date, not to separate dates.
Ranking objectives early-stop on mean average precision over the whole of each date's
list (LightGBM's ``map`` at a depth no list reaches).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from talentmap.settings.model import ModelConfig

BINARY = "binary"
MONOTONE = "binary_monotone"
# map@k with k beyond any list: the average precision of each date's whole ranking.
FULL_LIST = 10**7


@dataclass(frozen=True)
class TreeRows:
    """Rows for one booster: prepared features, 0/1 labels and as-of days (numpy).

    ``w``: each row's sample weight (``training.max_rows``: the rows it stands for), or
    None when every row weighs 1.
    """

    x: pd.DataFrame
    y: np.ndarray
    days: np.ndarray
    w: np.ndarray | None = None

    def subset(self, mask: np.ndarray) -> TreeRows:
        w = None if self.w is None else self.w[mask]
        return TreeRows(self.x[mask], self.y[mask], self.days[mask], w)


@dataclass(frozen=True)
class EarlyStop:
    """The booster cut at its best round, with the validation curve that chose it."""

    booster: lgb.Booster
    best_iteration: int
    curve: list[float]
    metric: str


def is_ranking(variant: str) -> bool:
    return variant not in (BINARY, MONOTONE)


def params(
    config: ModelConfig, variant: str, pos_weight: float, monotone: Sequence[int] = ()
) -> dict[str, Any]:
    """LightGBM params for ``variant``; the class weight applies to log-loss only.

    ``monotone``: one direction per feature (1 up, -1 down, 0 free), used by
    ``binary_monotone`` only.
    """
    if is_ranking(variant):
        return {
            **config.lightgbm_params(),
            "objective": variant,
            "metric": "map",
            "eval_at": [FULL_LIST],
        }
    base = {**config.lightgbm_params(), "objective": BINARY, "scale_pos_weight": float(pos_weight)}
    if variant == MONOTONE and any(monotone):
        # "advanced" keeps more splits legal than "basic" at the same guarantee.
        return {
            **base,
            "monotone_constraints": list(monotone),
            "monotone_constraints_method": "advanced",
        }
    return base


def positive_weight(config: ModelConfig, y: np.ndarray, w: np.ndarray | None = None) -> float:
    """``scale_pos_weight``: configured, or negatives / positives when 'auto' (weighted)."""
    if config.scale_pos_weight == "auto":
        weights = np.ones(len(y)) if w is None else np.asarray(w, dtype=np.float64)
        n_pos = float(weights[np.asarray(y) == 1].sum())
        return (float(weights.sum()) - n_pos) / max(n_pos, 1.0)
    return float(config.scale_pos_weight)


def _times(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return b
    return a if b is None else a * b


def dataset(
    rows: TreeRows,
    objective: str,
    categorical: Sequence[str],
    weight: np.ndarray | None = None,
    reference: lgb.Dataset | None = None,
) -> lgb.Dataset:
    """A Dataset; for a ranking objective, rows sorted by date and grouped by it.

    ``weight`` multiplies the rows' own sample weights (``rows.w``). Ranking objectives
    take no row weights (LightGBM weighs their query groups): their sampled rows count
    once each, which leaves every date's ordering to learn unchanged.
    """
    cats: Any = list(categorical) or "auto"
    if not is_ranking(objective):
        return lgb.Dataset(
            rows.x,
            label=rows.y,
            weight=_times(rows.w, weight),
            categorical_feature=cats,
            reference=reference,
            free_raw_data=True,
        )
    order = np.argsort(rows.days, kind="stable")
    _, sizes = np.unique(rows.days[order], return_counts=True)
    return lgb.Dataset(
        rows.x.iloc[order],
        label=rows.y[order],
        group=sizes,
        categorical_feature=cats,
        reference=reference,
        free_raw_data=True,
    )


def valid_weight(metric: str, pos_weight: float, y: np.ndarray) -> np.ndarray | None:
    """The validation rows' weights for early stopping (None: unweighted).

    Log-loss must score the objective the trees optimise: with a class weight, an
    unweighted valid log-loss only sees the weight's shift of the raw scores and stops at
    the first round. Ranking metrics do not need (or want) the weight. The local and the
    Dask engines both stop on this rule.
    """
    weighted = metric == "binary_logloss" and pos_weight != 1
    return np.where(y == 1, pos_weight, 1.0) if weighted else None


def early_stopped(
    config: ModelConfig,
    objective: str,
    train: TreeRows,
    valid: TreeRows,
    categorical: Sequence[str],
    pos_weight: float,
    monotone: Sequence[int] = (),
) -> EarlyStop:
    """Trees of the train rows, cut at the best round on the valid rows."""
    p = params(config, objective, pos_weight, monotone)
    metric = f"map@{FULL_LIST}" if is_ranking(objective) else config.early_stopping_metric
    train_set = dataset(train, objective, categorical)
    weight = valid_weight(metric, pos_weight, valid.y)
    valid_set = dataset(valid, objective, categorical, weight, reference=train_set)
    history: dict[str, dict[str, list[float]]] = {}
    booster = lgb.train(
        p,
        train_set,
        num_boost_round=config.n_estimators,
        valid_sets=[valid_set],
        valid_names=["valid"],
        callbacks=[
            lgb.early_stopping(config.early_stopping_rounds, first_metric_only=True, verbose=False),
            lgb.record_evaluation(history),
        ],
    )
    best = int(booster.best_iteration or booster.current_iteration())
    curve = [float(v) for v in history["valid"][metric]]
    # Keep only the trees up to the best round: the saved model and every prediction
    # (and every contribution) then agree without passing num_iteration around.
    cut = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    return EarlyStop(cut, best, curve, metric)


def refit(
    config: ModelConfig,
    objective: str,
    rows: TreeRows,
    categorical: Sequence[str],
    rounds: int,
    monotone: Sequence[int] = (),
) -> lgb.Booster:
    """Trees of ``rows``, exactly ``rounds`` of them (no early stopping)."""
    p = params(config, objective, positive_weight(config, rows.y, rows.w), monotone)
    return lgb.train(p, dataset(rows, objective, categorical), rounds)


def raw_scores(booster: lgb.Booster, prepared: pd.DataFrame) -> np.ndarray:
    """The booster's raw scores (log-odds for ``binary``); empty in, empty out."""
    if prepared.empty:  # LightGBM refuses an empty frame; no rows, no scores
        return np.empty(0, dtype=np.float64)
    return np.asarray(booster.predict(prepared, raw_score=True), dtype=np.float64)
