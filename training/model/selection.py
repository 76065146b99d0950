"""Choose the served scorer on the inner, out-of-time validation slice, never on the test.

``PromiseModel.fit`` scores its calibration slice (the latest as-of dates of the training
rows) with trees and a linear part that never saw it, then asks ``select_scorer`` which
of these wins there:

- ``logistic``: the linear part alone (the backtest's logistic-regression baseline);
- ``lightgbm[<objective>]``: the trees alone, one candidate per tree objective tried
  (``binary`` log-loss, or a ranking objective grouped by as-of date);
- ``blend[<objective>]``: ``w * z(trees) + (1 - w) * z(linear)`` for ``w`` on a grid
  strictly between 0 and 1, ``z`` standardising each score on the slice (a blend fitted on
  out-of-time predictions: its one weight is what is learnt).

The criterion is the mean, over the slice's as-of dates with at least one positive, of
the average precision of that date's ranking: a shortlist is one date's ranking, so
pooling dates would reward separating dates rather than companies. Candidates are tried
in the order above and a later one must be strictly better to replace an earlier one,
so a tie keeps the simpler scorer. Because the logistic regression is a candidate, the
chosen scorer is never worse than it on this slice (the tests check exactly that).

The chosen blend is stored as two multipliers on the raw scores, ``tree_weight`` and
``linear_weight``, in the trees' log-odds units (``linear_weight`` absorbs the ratio of
the two standard deviations), so the served raw score is
``tree_weight * trees + linear_weight * linear`` and each feature's contribution is the
same combination of its two contributions: explanations stay additive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

LOGISTIC = "logistic"
LIGHTGBM = "lightgbm"
BLEND = "blend"
METRIC = "mean_date_average_precision"


@dataclass(frozen=True)
class Selection:
    """The chosen scorer, its weights, and every candidate's score on the slice."""

    chosen: str  # "logistic" | "lightgbm" | "blend"
    tree_objective: str
    tree_weight: float  # multiplier of the trees' raw score
    linear_weight: float  # multiplier of the linear part's raw score
    blend_w: float  # the grid weight w of the trees (1 = trees only, 0 = linear only)
    metric: str = METRIC
    scores: dict[str, float] = field(default_factory=dict)
    rows: int = 0
    positives: int = 0
    dates: int = 0
    reason: str = ""
    # Rows the judged models learnt from, and whether all their label windows had closed
    # by the first date of the slice (no label looked into it).
    models_rows: int = 0
    windows_closed: bool = False

    @property
    def name(self) -> str:
        """``logistic``, ``lightgbm[binary]`` or ``blend[binary] w=0.6``."""
        if self.chosen == LOGISTIC:
            return LOGISTIC
        if self.chosen == LIGHTGBM:
            return f"{LIGHTGBM}[{self.tree_objective}]"
        return f"{BLEND}[{self.tree_objective}] w={self.blend_w:.2f}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "name": self.name}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Selection:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def trees_only(objective: str, reason: str) -> Selection:
    """The trees alone, when nothing could be compared (no slice, or no positive in it)."""
    return Selection(LIGHTGBM, objective, 1.0, 0.0, 1.0, reason=reason)


def mean_date_average_precision(
    y: np.ndarray, score: np.ndarray, dates: np.ndarray, weights: np.ndarray | None = None
) -> float:
    """Mean over the dates holding a positive of the average precision of that date.

    ``weights``: the rows each row stands for, when the rows were sampled
    (``training.max_rows``); each date's average precision is then the full date's, in
    expectation.
    """
    w = np.ones(len(np.asarray(y))) if weights is None else np.asarray(weights, np.float64)
    frame = pd.DataFrame(
        {"y": np.asarray(y), "s": np.asarray(score), "d": np.asarray(dates), "w": w}
    )
    values = [
        average_precision_score(
            group["y"], group["s"], sample_weight=None if weights is None else group["w"]
        )
        for _, group in frame.groupby("d", sort=True)
        if group["y"].any()
    ]
    return float(np.mean(values)) if values else float("nan")


def _standardise(values: np.ndarray) -> tuple[np.ndarray, float]:
    sd = float(np.std(values))
    sd = sd if sd > 0 else 1.0
    return (values - float(np.mean(values))) / sd, sd


def blend_grid(step: float) -> list[float]:
    """Tree weights strictly between 0 and 1, every ``step``."""
    count = round(1.0 / step)
    return [round(i * step, 6) for i in range(1, count) if 0 < i * step < 1]


def select_scorer(
    tree_raw: Mapping[str, np.ndarray],
    linear_raw: np.ndarray,
    y: np.ndarray,
    dates: np.ndarray,
    grid: Sequence[float],
    allowed: Sequence[str] = (LOGISTIC, LIGHTGBM, BLEND),
    weights: np.ndarray | None = None,
) -> Selection:
    """The best of the ``allowed`` kinds on the slice (``y``, ``dates``), see the module.

    ``tree_raw`` maps each tree objective to its raw scores of the slice; ``linear_raw``
    is the linear part's. ``grid`` holds the blend weights to try. ``weights``: sampled
    rows' weights; every candidate is judged with the same ones, so the logistic
    regression stays a candidate on equal terms and the guarantee holds.
    """
    labels = np.asarray(y, dtype=np.int64)
    first_objective = next(iter(tree_raw))
    if not labels.any():
        return trees_only(first_objective, "no positive in the validation slice")
    linear_z, linear_sd = _standardise(np.asarray(linear_raw, dtype=np.float64))
    candidates: list[tuple[str, str, float, np.ndarray, float]] = []
    if LOGISTIC in allowed:
        candidates.append((LOGISTIC, first_objective, 0.0, linear_z, 1.0))
    for objective, raw in tree_raw.items():
        tree_z, tree_sd = _standardise(np.asarray(raw, dtype=np.float64))
        if LIGHTGBM in allowed:
            candidates.append((LIGHTGBM, objective, 1.0, tree_z, tree_sd))
        if BLEND in allowed:
            for w in grid:
                candidates.append((BLEND, objective, w, w * tree_z + (1 - w) * linear_z, tree_sd))
    if not candidates:
        raise ValueError(f"no scorer kind allowed among {list(allowed)}")
    scores: dict[str, float] = {}
    best: tuple[str, str, float, float] | None = None
    best_score = -np.inf
    for kind, objective, w, score, tree_sd in candidates:
        value = mean_date_average_precision(labels, score, dates, weights)
        label = Selection(kind, objective, 0.0, 0.0, w).name
        scores[label] = round(value, 6)
        if value > best_score:
            best, best_score = (kind, objective, w, tree_sd), value
    assert best is not None
    kind, objective, w, tree_sd = best
    # In the trees' units: the linear z-score times the trees' standard deviation.
    weights = (0.0, 1.0) if kind == LOGISTIC else (w, (1 - w) * tree_sd / linear_sd)
    return Selection(
        chosen=kind,
        tree_objective=objective,
        tree_weight=float(weights[0]),
        linear_weight=float(weights[1]),
        blend_w=float(w),
        scores=scores,
        rows=len(labels),
        positives=int(labels.sum()),
        dates=int(pd.Series(dates).nunique()),
    )
