"""The linear scorer: a logistic regression whose every number is stored as plain JSON.

It is both the backtest's logistic-regression baseline and the linear part of the
served model (``PromiseModel`` blends it with the trees when that wins on the inner
validation), so a served model that chose "logistic" scores exactly as the baseline does.

Made as strong as a plain linear model reasonably gets, so that beating it means
something:

- numeric features: missing values are imputed with the training median *and* get a
  missing-indicator column (an unknown signal stays distinguishable from a typical one);
  heavy-tailed counts and amounts go through a signed ``log1p`` (euros span seven orders
  of magnitude), then every column is standardised;
- text features: one-hot, with an explicit "(missing)" level; levels seen fewer than
  ``min_frequency`` times, and levels never seen, contribute nothing.

Why not a pickled scikit-learn pipeline: the served model is stored without pickling
(``PromiseModel.save``), and an explanation needs each feature's part in the score.
Every design column is centred on its training mean when explaining, so a feature's
contribution is ``sum(coef * (x - mean))`` over its columns (the exact decomposition of a
linear score, as TreeSHAP's is for trees) and the intercept plus ``sum(coef * mean)`` is
the bias. Rows sum exactly to ``raw``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

MISSING_LEVEL = "(missing)"
MISSING_SUFFIX = "__missing"


def signed_log1p(values: np.ndarray) -> np.ndarray:
    """``sign(x) * log(1 + |x|)``: compresses amounts and counts, keeps their sign."""
    x = np.asarray(values, dtype=np.float64)
    return np.sign(x) * np.log1p(np.abs(x))


def _levels(column: pd.Series) -> np.ndarray:
    values = column.astype(object)
    return values.where(values.notna(), MISSING_LEVEL).astype(str).to_numpy(dtype=object)


@dataclass
class LinearPart:
    """A fitted (or to-be-fitted) linear scorer over named numeric and text features."""

    numeric: list[str]
    categorical: list[str]
    c: float = 1.0  # inverse L2 strength (scikit-learn's C)
    min_frequency: int = 5
    medians: dict[str, float] = field(default_factory=dict)
    indicators: list[str] = field(default_factory=list)
    means: dict[str, float] = field(default_factory=dict)  # of the logged, filled values
    scales: dict[str, float] = field(default_factory=dict)
    levels: dict[str, list[str]] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)  # design columns, in order
    owners: list[str] = field(default_factory=list)  # the feature each column belongs to
    centres: list[float] = field(default_factory=list)  # training mean of each column
    coef: list[float] = field(default_factory=list)
    intercept: float = 0.0

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        frame: pd.DataFrame,
        y: np.ndarray,
        seed: int = 0,
        sample_weight: np.ndarray | None = None,
    ) -> LinearPart:
        """Learn the imputation, scaling and levels from ``frame``, then the coefficients.

        ``sample_weight`` (sampled training rows) weighs the coefficients' loss; the
        imputation and scaling statistics stay those of the rows given.
        """
        self.medians, self.indicators, self.means, self.scales = {}, [], {}, {}
        for name in self.numeric:
            values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
            missing = np.isnan(values)
            median = float(np.median(values[~missing])) if (~missing).any() else 0.0
            logged = signed_log1p(np.where(missing, median, values))
            self.medians[name] = median
            self.means[name] = float(logged.mean()) if len(logged) else 0.0
            scale = float(logged.std()) if len(logged) else 0.0
            self.scales[name] = scale if scale > 0 else 1.0
            if missing.any():
                self.indicators.append(name)
        self.levels = {}
        for name in self.categorical:
            counts = pd.Series(_levels(frame[name])).value_counts()
            self.levels[name] = sorted(counts.index[counts >= self.min_frequency].tolist())
        design, self.columns, self.owners = self._design(frame)
        self.centres = design.mean(axis=0).tolist() if len(design) else [0.0] * len(self.columns)
        labels = np.asarray(y, dtype=np.int64)
        model = LogisticRegression(C=self.c, max_iter=2000, random_state=seed)
        # One BLAS thread: L-BFGS's products are memory-bound, and on a machine shared
        # with other jobs two spinning BLAS threads took twice as long as one (issue 10).
        with threadpool_limits(limits=1, user_api="blas"):
            model.fit(design, labels, sample_weight=sample_weight)
        self.coef = model.coef_[0].astype(float).tolist()
        self.intercept = float(model.intercept_[0])
        return self

    def _design(self, frame: pd.DataFrame) -> tuple[np.ndarray, list[str], list[str]]:
        blocks: list[np.ndarray] = []
        columns: list[str] = []
        owners: list[str] = []
        n = len(frame)
        for name in self.numeric:
            values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
            missing = np.isnan(values)
            logged = signed_log1p(np.where(missing, self.medians[name], values))
            blocks.append(((logged - self.means[name]) / self.scales[name])[:, None])
            columns.append(name)
            owners.append(name)
            if name in self.indicators:
                blocks.append(missing.astype(np.float64)[:, None])
                columns.append(f"{name}{MISSING_SUFFIX}")
                owners.append(name)
        for name in self.categorical:
            seen = _levels(frame[name])
            for level in self.levels[name]:
                blocks.append((seen == level).astype(np.float64)[:, None])
                columns.append(f"{name}={level}")
                owners.append(name)
        design = np.hstack(blocks) if blocks else np.empty((n, 0), dtype=np.float64)
        return design, columns, owners

    # -------------------------------------------------------------- predict
    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        """Log-odds of each row, shape (n,)."""
        design, _, _ = self._design(frame)
        return design @ np.asarray(self.coef, dtype=np.float64) + self.intercept

    def contributions(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(per-feature contributions (n, features), bias (n,))``; rows sum to ``raw``.

        Features come in ``numeric + categorical`` order.
        """
        design, _, _ = self._design(frame)
        coef = np.asarray(self.coef, dtype=np.float64)
        centres = np.asarray(self.centres, dtype=np.float64)
        parts = (design - centres) * coef
        features = [*self.numeric, *self.categorical]
        out = np.zeros((len(frame), len(features)), dtype=np.float64)
        where = {name: i for i, name in enumerate(features)}
        for column, owner in enumerate(self.owners):
            out[:, where[owner]] += parts[:, column]
        bias = np.full(len(frame), self.intercept + float(centres @ coef), dtype=np.float64)
        return out, bias

    # ---------------------------------------------------------- persistence
    def to_dict(self) -> dict[str, Any]:
        """Every fitted number, JSON-ready."""
        return {
            "numeric": self.numeric,
            "categorical": self.categorical,
            "c": self.c,
            "min_frequency": self.min_frequency,
            "medians": self.medians,
            "indicators": self.indicators,
            "means": self.means,
            "scales": self.scales,
            "levels": self.levels,
            "columns": self.columns,
            "owners": self.owners,
            "centres": self.centres,
            "coef": self.coef,
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinearPart:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__})


def fit_linear(
    frame: pd.DataFrame,
    y: np.ndarray,
    numeric: Sequence[str],
    categorical: Sequence[str],
    seed: int = 0,
) -> LinearPart:
    """A ``LinearPart`` fitted on ``frame`` (the features named, nothing else)."""
    return LinearPart(numeric=list(numeric), categorical=list(categorical)).fit(frame, y, seed)
