"""Ranking and calibration metrics for a shortlist, as pure functions of numpy arrays.

Conventions shared by every function:

- ``y_true`` holds 0/1 (or booleans); ``score`` holds finite floats, higher = more
  promising. Both are 1-D and of equal length, otherwise ``ValueError``.
- The "top k" is the first k rows after a *stable* sort by score, descending: ties keep
  their input order, so the same inputs always give the same shortlist and the same
  @k metrics. (AUC-ROC and AUC-PR are threshold metrics and treat tied scores as one
  threshold, as scikit-learn does, so they do not depend on the order at all.)
- When k > n, the top k is the whole list: precision@k divides by n, not k.
- A metric that is undefined on the data returns NaN instead of raising: AUC-ROC with a
  single class, AUC-PR / recall@k / NDCG@k without positives, lift@k with a base rate of
  0, anything on an empty list. The Brier score and the calibration error are defined
  only for probabilities and return NaN when a score lies outside [0, 1] (a heuristic
  baseline such as "total raised so far" is a ranking, not a probability).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, roc_auc_score

NAN = float("nan")


def _check(y_true: ArrayLike, score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(score, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1 or len(y) != len(s):
        raise ValueError(f"y_true and score must be 1-D of equal length, got {y.shape}, {s.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must hold only 0 and 1")
    if not np.isfinite(s).all():
        raise ValueError("score must be finite (no NaN or inf)")
    return y.astype(np.int64), s


def top_k_order(score: ArrayLike, k: int | None = None) -> np.ndarray:
    """Row indices of the ``min(k, n)`` best scores: descending, ties in input order."""
    s = np.asarray(score, dtype=np.float64)
    order = np.argsort(-s, kind="stable")
    return order if k is None else order[: _k(k, len(s))]


def _k(k: int, n: int) -> int:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return min(k, n)


def auc_roc(y_true: ArrayLike, score: ArrayLike) -> float:
    """Area under the ROC curve; NaN unless both classes are present."""
    y, s = _check(y_true, score)
    if len(np.unique(y)) < 2:
        return NAN
    return float(roc_auc_score(y, s))


def auc_pr(y_true: ArrayLike, score: ArrayLike) -> float:
    """Average precision (scikit-learn's step-wise AUC-PR, no interpolation); NaN without positives."""
    y, s = _check(y_true, score)
    if y.sum() == 0:
        return NAN
    return float(average_precision_score(y, s))


def precision_at_k(y_true: ArrayLike, score: ArrayLike, k: int) -> float:
    """Share of positives among the top ``min(k, n)``; NaN on an empty list."""
    y, s = _check(y_true, score)
    if len(y) == 0:
        return NAN
    top = top_k_order(s, k)
    return float(y[top].mean())


def recall_at_k(y_true: ArrayLike, score: ArrayLike, k: int) -> float:
    """Share of all positives that make the top ``min(k, n)``; NaN without positives."""
    y, s = _check(y_true, score)
    total = y.sum()
    if total == 0:
        return NAN
    return float(y[top_k_order(s, k)].sum() / total)


def lift_at_k(y_true: ArrayLike, score: ArrayLike, k: int) -> float:
    """precision@k divided by the base rate: how many times better than a random pick."""
    y, s = _check(y_true, score)
    if len(y) == 0 or y.sum() == 0:
        return NAN
    return precision_at_k(y, s, k) / float(y.mean())


def ndcg_at_k(y_true: ArrayLike, score: ArrayLike, k: int) -> float:
    """Normalised DCG of the top ``min(k, n)`` with binary relevance and log2 discounts.

    DCG = sum over ranks r = 1..k of y_r / log2(r + 1); it is divided by the DCG of the
    ideal ordering (every positive first). NaN without positives.
    """
    y, s = _check(y_true, score)
    n_pos = int(y.sum())
    if n_pos == 0:
        return NAN
    k_eff = _k(k, len(y))
    discounts = 1.0 / np.log2(np.arange(2, k_eff + 2))
    dcg = float((y[top_k_order(s, k_eff)] * discounts).sum())
    ideal = float(discounts[: min(n_pos, k_eff)].sum())
    return dcg / ideal


def _is_probability(s: np.ndarray) -> bool:
    return bool(len(s)) and bool(((s >= 0.0) & (s <= 1.0)).all())


def brier(y_true: ArrayLike, score: ArrayLike) -> float:
    """Mean squared error of probabilities; NaN if a score lies outside [0, 1]."""
    y, s = _check(y_true, score)
    if not _is_probability(s):
        return NAN
    return float(np.mean((s - y) ** 2))


def expected_calibration_error(
    y_true: ArrayLike,
    score: ArrayLike,
    n_bins: int = 10,
    strategy: Literal["uniform", "quantile"] = "uniform",
) -> float:
    """ECE = sum over bins of (bin size / n) * |observed rate - mean predicted probability|.

    Default binning: 10 equal-width bins over [0, 1], ``[0, 0.1), [0.1, 0.2), ...,
    [0.9, 1.0]`` (the last one closed), the usual definition (Guo et al., 2017); empty
    bins weigh nothing. ``strategy="quantile"`` uses equal-frequency bins instead, more
    informative when almost every probability is small; rows with tied scores stay in the
    same bin, so bins may be unequal. NaN if a score lies outside [0, 1].
    """
    y, s = _check(y_true, score)
    if n_bins < 1:
        raise ValueError("n_bins must be at least 1")
    if not _is_probability(s):
        return NAN
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.quantile(s, np.linspace(0.0, 1.0, n_bins + 1))
    else:
        raise ValueError(f"unknown strategy {strategy!r}")
    # Inner edges only: bin b holds edges[b] <= s < edges[b + 1]; 1.0 falls in the last.
    bins = np.searchsorted(edges[1:-1], s, side="right")
    size = np.bincount(bins, minlength=n_bins).astype(np.float64)
    observed = np.bincount(bins, weights=y, minlength=n_bins)
    predicted = np.bincount(bins, weights=s, minlength=n_bins)
    filled = size > 0
    gaps = np.abs(observed[filled] - predicted[filled])  # = size * |rate - mean prob|
    return float(gaps.sum() / len(s))


def ranking_report(
    y_true: ArrayLike, score: ArrayLike, ks: Sequence[int] = (50, 100, 500)
) -> dict[str, float]:
    """Every metric of the training issue, under stable key names.

    Keys: ``n``, ``n_positive``, ``base_rate``, ``auc_roc``, ``auc_pr``, then for each k
    in ``ks``: ``precision@k``, ``recall@k``, ``lift@k``, ``ndcg@k``; then ``brier`` and
    ``ece`` (10 equal-width bins). ``n`` and ``n_positive`` are whole numbers.
    """
    y, s = _check(y_true, score)
    n, n_pos = len(y), int(y.sum())
    report: dict[str, float] = {
        "n": n,
        "n_positive": n_pos,
        "base_rate": n_pos / n if n else NAN,
        "auc_roc": auc_roc(y, s),
        "auc_pr": auc_pr(y, s),
    }
    for k in ks:
        report[f"precision@{k}"] = precision_at_k(y, s, k)
        report[f"recall@{k}"] = recall_at_k(y, s, k)
        report[f"lift@{k}"] = lift_at_k(y, s, k)
        report[f"ndcg@{k}"] = ndcg_at_k(y, s, k)
    report["brier"] = brier(y, s)
    report["ece"] = expected_calibration_error(y, s)
    return report


def to_jsonable(report: Mapping[str, float]) -> dict[str, float | None]:
    """NaN becomes None (JSON null): ``json.dumps`` would otherwise write invalid ``NaN``."""
    return {
        key: None if isinstance(value, float) and math.isnan(value) else value
        for key, value in report.items()
    }
