"""The promise estimator: LightGBM trees, a linear part, or a blend, chosen out of time.

``PromiseModel`` knows nothing of Feast or MLflow: it takes a feature frame, 0/1 labels
and the as-of date of every row. Conventions that matter for serving:

- Categorical features (object / string / category columns, or the ones named) are
  handled natively by LightGBM. Their vocabulary is FIXED at fit time and re-applied at
  predict time, so a category never seen in training becomes NaN ("unknown") instead of
  silently taking another category's code.
- Missing values stay NaN: LightGBM learns where unknowns go. A missing signal is never
  filled with 0 (0 rounds and "funding unknown" are different facts).
- The served score is ``tree_weight * trees + linear_weight * linear`` where the weights
  come from ``training.model.selection``: on the calib slice, scored by models that never
  saw it, the logistic regression, the trees of each configured objective and their
  blends compete, and the best serves. The trees alone are weights (1, 0), the linear
  part alone (0, 1).
- ``predict_raw`` is that raw score, in the trees' log-odds units, and ``contributions``
  splits it per feature (TreeSHAP for the trees, centred coefficient x value for the
  linear part); ``predict_proba`` passes it through the calibrator, which is always
  fitted on scores of the calib slice by models that never saw it
  (``ModelConfig.refit`` explains the steps of a fit and why the final models learn from
  every row).
- ``save``/``load`` write the booster's own text format plus one JSON file (features,
  categories, calibrator numbers, split, config, selection, linear coefficients): no pickle, readable by any later
  version. The estimator itself also pickles (``lgb.Booster`` pickles as its text).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, Self

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from talentmap.settings.model import ModelConfig
from talentmap.training.model import trees
from talentmap.training.model.calibration import Calibrator, fit_calibrator
from talentmap.training.model.linear import LinearPart
from talentmap.training.model.selection import (
    BLEND,
    LIGHTGBM,
    LOGISTIC,
    Selection,
    blend_grid,
    select_scorer,
    trees_only,
)
from talentmap.training.model.time_split import (
    CALIB,
    TRAIN,
    VALID,
    TimeSplit,
    as_of_days,
    time_split,
)
from talentmap.training.model.tree_engine import LOCAL, TreeEngine

# 2: the selected scorer (weights, linear part); version 1 folders load as trees only.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
SELECTION_KINDS = (LOGISTIC, LIGHTGBM, BLEND)
BIAS = "bias"
BOOSTER_FILE = "booster.txt"
META_FILE = "promise_model.json"
# Gender may only audit fairness (team notes, GDPR); a column that looks like it is refused.
FORBIDDEN_FEATURE = re.compile(r"(^|_)(gender|sex|ethnic\w*)(_|$)", re.IGNORECASE)


def _is_categorical(column: pd.Series) -> bool:
    return bool(
        isinstance(column.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(column.dtype)
        or pd.api.types.is_string_dtype(column.dtype)
    )


def _vocabulary(column: pd.Series) -> list[str]:
    if isinstance(column.dtype, pd.CategoricalDtype):
        return [str(c) for c in column.cat.categories]
    return sorted(column.dropna().astype(str).unique().tolist())


def _labels(y: Any, n: int) -> np.ndarray:
    values = pd.Series(np.asarray(y))
    if len(values) != n:
        raise ValueError(f"y has {len(values)} rows, frame has {n}")
    if values.isna().any() or not values.isin([0, 1, True, False]).all():
        raise ValueError("y must hold only 0 and 1 (refuse uncovered windows before fitting)")
    return values.astype(np.int64).to_numpy()


def _weights(sample_weight: Any, n: int) -> np.ndarray | None:
    """Positive, finite float weights of ``n`` rows, or None (every row weighs 1)."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"sample_weight has shape {w.shape}, frame has {n} rows")
    if not np.isfinite(w).all() or (w <= 0).any():
        raise ValueError("sample_weight must be finite and > 0")
    return None if np.all(w == 1.0) else w


class PromiseModel(BaseEstimator):
    """Calibrated LightGBM classifier of "promise", fitted on rows ordered by as-of date.

    ``features``: the columns to use (default: every column of the fitted frame — pass the
    list when the frame carries ids or dates). ``categorical_features``: default = the
    object, string and category columns among them.
    """

    def __init__(
        self,
        config: ModelConfig | None = None,
        features: Sequence[str] | None = None,
        categorical_features: Sequence[str] | None = None,
        monotone: Mapping[str, int] | None = None,
        label_horizon_months: int | None = None,
        tree_engine: TreeEngine | None = None,
    ) -> None:
        self.config = config
        self.features = features
        self.categorical_features = categorical_features
        self.monotone = monotone
        self.label_horizon_months = label_horizon_months
        # Where the trees are trained (``training.engine``); None = this process. Only a
        # fit uses it: nothing of it is saved with the model.
        self.tree_engine = tree_engine

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        frame: pd.DataFrame,
        y: Any,
        as_of: pd.Series | pd.Index | np.ndarray,
        sample_weight: np.ndarray | None = None,
    ) -> Self:
        """Stop early on the valid slice, choose the scorer and calibrate out of time, refit.

        ``y`` (0/1) and ``as_of`` (each row's as-of date) align with ``frame`` by position.
        The number of rounds is always chosen by trees that never saw the valid slice; the
        scorer (trees, linear part or a blend, ``training.model.selection``) and the
        calibration map always come from scores of models that never saw the calib slice
        (see ``ModelConfig.refit``).

        ``sample_weight``: the rows each row stands for (``training.max_rows`` sampled the
        rows); the trees, the linear part, the selection and the calibration all use it.
        """
        config = self.config or ModelConfig()
        engine = self.tree_engine or LOCAL
        self._learn_schema(frame)
        labels = _labels(y, len(frame))
        if len(as_of) != len(frame):
            raise ValueError(f"as_of has {len(as_of)} rows, frame has {len(frame)}")
        weights = _weights(sample_weight, len(frame))
        if weights is not None and engine.name != LOCAL.name:
            raise ValueError(
                f"training.engine = {engine.name!r} does not take sample weights: raise "
                "training.max_rows above the training rows, or train locally"
            )
        split = time_split(as_of, config.valid_fraction, config.calib_fraction, config.purge_dates)
        slices = split.assign(as_of)
        rows = {name: slices == name for name in (TRAIN, VALID, CALIB)}
        for name in (TRAIN, VALID):
            if len(np.unique(labels[rows[name]])) < 2:
                raise ValueError(f"the {name} slice holds a single class; cannot fit")
        prepared = self.prepare(frame)
        days = as_of_days(as_of).to_numpy()
        every = trees.TreeRows(prepared, labels, days, weights)
        self.config_ = config
        self.split_ = split
        self.rows_ = {name: int(mask.sum()) for name, mask in rows.items()}
        # None, not NaN, for an empty slice: the metadata must stay strict JSON.
        w_all = np.ones(len(labels)) if weights is None else weights
        self.base_rates_ = {
            name: float(np.average(labels[mask], weights=w_all[mask])) if mask.any() else None
            for name, mask in rows.items()
        }
        self.scale_pos_weight_ = trees.positive_weight(
            config, labels[rows[TRAIN]], None if weights is None else weights[rows[TRAIN]]
        )
        # Models that score the calib slice must never have seen it: the train slice only
        # ("none"), or everything up to the end of the valid slice (its purge gap included).
        before_calib = days <= np.datetime64(max(split.valid))
        unseen_fit = rows[TRAIN] if config.refit == "none" else before_calib
        # ... nor any label that looks into it: a row at t carries the outcome of
        # (t, t + H], so with H known only rows whose window closes by the first calib
        # date may teach the models that are judged there (as the backtest's own test).
        unseen_fit, windows_closed = self._closed_windows(unseen_fit, days, labels, split)
        stops, calib_trees, calib_raw = {}, {}, {}
        for objective in config.tree_variants:
            stop = engine.early_stopped(
                config,
                objective,
                every.subset(rows[TRAIN]),
                every.subset(rows[VALID]),
                self.categorical_features_,
                self.scale_pos_weight_,
                self.monotone_,
            )
            stops[objective] = stop
            booster = stop.booster
            if config.refit != "none":
                rounds = self._rounds(config, stop)
                booster = engine.refit(
                    config,
                    objective,
                    every.subset(unseen_fit),
                    self.categorical_features_,
                    rounds,
                    self.monotone_,
                )
            calib_trees[objective] = booster
            calib_raw[objective] = trees.raw_scores(booster, prepared[rows[CALIB]])
        calib_w = None if weights is None else weights[rows[CALIB]]
        linear = self._fit_linear(
            prepared[unseen_fit],
            labels[unseen_fit],
            config,
            None if weights is None else weights[unseen_fit],
        )
        linear_calib = linear.raw(prepared[rows[CALIB]])
        selection = self._select(
            config, calib_raw, linear_calib, labels[rows[CALIB]], days[rows[CALIB]], calib_w
        )
        selection = replace(
            selection, models_rows=int(unseen_fit.sum()), windows_closed=windows_closed
        )
        chosen = stops[selection.tree_objective]
        self.selection_ = selection
        self.tree_fits_ = {name: stop.best_iteration for name, stop in stops.items()}
        self.best_iteration_ = chosen.best_iteration
        self.validation_curve_ = chosen.curve
        self.best_score_ = chosen.curve[chosen.best_iteration - 1]
        served_calib = self._combine(selection, calib_raw[selection.tree_objective], linear_calib)
        self.calibrator_ = fit_calibrator(
            config.calibration_method, served_calib, labels[rows[CALIB]], calib_w
        )
        booster, fitted_on = calib_trees[selection.tree_objective], unseen_fit
        if config.refit == "all":
            everything = np.ones(len(labels), dtype=bool)
            # A part the selection gave no weight keeps its out-of-time fit: refitting it
            # would cost time and change no score.
            if selection.tree_weight != 0:
                booster = engine.refit(
                    config,
                    selection.tree_objective,
                    every,
                    self.categorical_features_,
                    self._rounds(config, chosen),
                    self.monotone_,
                )
                fitted_on = everything
            if selection.linear_weight != 0:
                linear = self._fit_linear(prepared, labels, config, weights)
                fitted_on = everything
        self.booster_ = booster
        self.linear_ = linear
        self.trees_rows_ = int(fitted_on.sum())
        return self

    def _closed_windows(
        self, unseen: np.ndarray, days: np.ndarray, labels: np.ndarray, split: TimeSplit
    ) -> tuple[np.ndarray, bool]:
        """``unseen`` rows whose label window closes by the first calib date, if usable.

        Without a horizon (``label_horizon_months`` None), or when too few such rows are
        left (a single class, or under a quarter of ``unseen``), the rows stay as they
        are and the selection records that their windows were not closed.
        """
        if self.label_horizon_months is None or not split.calib:
            return unseen, False
        first_calib = pd.Timestamp(min(split.calib))
        ends = pd.DatetimeIndex(days) + pd.DateOffset(months=self.label_horizon_months)
        closed = unseen & np.asarray(ends <= first_calib)
        enough = closed.sum() >= max(1, unseen.sum() // 4)
        if enough and len(np.unique(labels[closed])) == 2:
            return closed, True
        return unseen, False

    @staticmethod
    def _rounds(config: ModelConfig, stop: trees.EarlyStop) -> int:
        return max(1, round(stop.best_iteration * config.refit_round_factor))

    def _fit_linear(
        self,
        prepared: pd.DataFrame,
        labels: np.ndarray,
        config: ModelConfig,
        weights: np.ndarray | None = None,
    ) -> LinearPart:
        numeric = [c for c in self.feature_names_ if c not in self.categories_]
        part = LinearPart(
            numeric=numeric, categorical=list(self.categorical_features_), c=config.linear_c
        )
        return part.fit(prepared, labels, seed=config.seed, sample_weight=weights)

    @staticmethod
    def _select(
        config: ModelConfig,
        calib_raw: dict[str, np.ndarray],
        linear_calib: np.ndarray,
        labels: np.ndarray,
        days: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> Selection:
        first = config.tree_variants[0]
        if len(labels) == 0:
            return trees_only(first, "no validation slice (calib_fraction is 0)")
        allowed = SELECTION_KINDS if config.scorer == "auto" else (config.scorer,)
        return select_scorer(
            calib_raw,
            linear_calib,
            labels,
            days,
            blend_grid(config.blend_step),
            allowed,
            weights=weights,
        )

    @staticmethod
    def _combine(selection: Selection, tree_raw: np.ndarray, linear_raw: np.ndarray) -> np.ndarray:
        return selection.tree_weight * tree_raw + selection.linear_weight * linear_raw

    def _learn_schema(self, frame: pd.DataFrame) -> None:
        names = list(self.features) if self.features is not None else list(frame.columns)
        missing = [c for c in names if c not in frame.columns]
        if missing:
            raise KeyError(f"features not in frame: {missing}")
        forbidden = [c for c in names if FORBIDDEN_FEATURE.search(c)]
        if forbidden:
            raise ValueError(f"protected attributes cannot be model features: {forbidden}")
        dated = [c for c in names if pd.api.types.is_datetime64_any_dtype(frame[c].dtype)]
        if dated:
            raise ValueError(f"absolute dates are not features (use days-since): {dated}")
        if self.categorical_features is None:
            categorical = [c for c in names if _is_categorical(frame[c])]
        else:
            categorical = [c for c in names if c in set(self.categorical_features)]
            unknown = set(self.categorical_features) - set(names)
            if unknown:
                raise KeyError(f"categorical features not among the features: {sorted(unknown)}")
        self.feature_names_ = names
        self.categorical_features_ = categorical
        self.categories_ = {c: _vocabulary(frame[c]) for c in categorical}
        directions = dict(self.monotone or {})
        bad = {k: v for k, v in directions.items() if v not in (-1, 0, 1)}
        if bad:
            raise ValueError(f"monotone directions must be -1, 0 or 1: {bad}")
        # Text features are never constrained (a category has no order).
        self.monotone_ = [0 if c in categorical else int(directions.get(c, 0)) for c in names]

    # -------------------------------------------------------------- predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "booster_"):
            raise NotFittedError("PromiseModel is not fitted yet; call fit or load")

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "booster_")

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame the booster reads: fitted feature order, fixed categories, NaN kept."""
        absent = [c for c in self.feature_names_ if c not in frame.columns]
        if absent:
            raise KeyError(f"features missing from frame: {absent}")
        out: dict[str, Any] = {}
        for name in self.feature_names_:
            column = frame[name]
            if name in self.categories_:
                # Unseen values get code -1, which LightGBM reads as missing.
                as_text = column.astype("string")
                out[name] = pd.Categorical(as_text, categories=self.categories_[name])
            else:
                out[name] = pd.to_numeric(column, errors="raise").to_numpy(
                    dtype=np.float64, na_value=np.nan
                )
        return pd.DataFrame(out, index=frame.index)

    def _raw(self, prepared: pd.DataFrame) -> np.ndarray:
        selection = self.selection_
        raw = np.zeros(len(prepared), dtype=np.float64)
        if selection.tree_weight != 0:
            raw += selection.tree_weight * trees.raw_scores(self.booster_, prepared)
        if selection.linear_weight != 0 and len(prepared):
            raw += selection.linear_weight * self.linear_.raw(prepared)
        return raw

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per-row feature contributions and ``bias`` on the raw scale; rows sum to predict_raw.

        The trees' part is LightGBM's ``pred_contrib`` (TreeSHAP), the linear part's its
        centred coefficients times values, each multiplied by its weight in the blend.
        """
        self._check_fitted()
        if BIAS in self.feature_names_:
            raise ValueError(f"a feature is named {BIAS!r}, which clashes with the bias column")
        prepared = self.prepare(frame)
        columns = [*self.feature_names_, BIAS]
        total = np.zeros((len(prepared), len(columns)), dtype=np.float64)
        selection = self.selection_
        if selection.tree_weight != 0 and len(prepared):
            tree_part = np.asarray(
                self.booster_.predict(prepared, pred_contrib=True), dtype=np.float64
            )
            total += selection.tree_weight * tree_part
        if selection.linear_weight != 0 and len(prepared):
            per_feature, bias = self.linear_.contributions(prepared)
            where = {name: i for i, name in enumerate(columns)}
            order = [where[name] for name in [*self.linear_.numeric, *self.linear_.categorical]]
            total[:, order] += selection.linear_weight * per_feature
            total[:, where[BIAS]] += selection.linear_weight * bias
        return pd.DataFrame(total, index=frame.index, columns=columns)

    def predict_raw(self, frame: pd.DataFrame) -> np.ndarray:
        """Uncalibrated log-odds, shape (n,); equals the row sums of ``pred_contrib``."""
        self._check_fitted()
        return self._raw(self.prepare(frame))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities, shape (n, 2): columns P(y=0), P(y=1)."""
        positive = np.clip(self.calibrator_.transform(self.predict_raw(frame)), 0.0, 1.0)
        return np.column_stack([1.0 - positive, positive])

    def predict(self, frame: pd.DataFrame, threshold: float = 0.5) -> np.ndarray:
        """0/1 decisions at ``threshold`` on the calibrated probability."""
        return (self.predict_proba(frame)[:, 1] >= threshold).astype(np.int64)

    @property
    def classes_(self) -> np.ndarray:
        return np.array([0, 1])

    def feature_importance(self, kind: Literal["gain", "split"] = "gain") -> pd.Series:
        """Importance per feature, descending (for the MLflow importance plot)."""
        self._check_fitted()
        values = self.booster_.feature_importance(importance_type=kind)
        return pd.Series(values, index=self.feature_names_, name=kind).sort_values(
            ascending=False, kind="stable"
        )

    # ---------------------------------------------------------- persistence
    def metadata(self) -> dict[str, Any]:
        """Everything but the trees, JSON-ready (also useful as run lineage)."""
        self._check_fitted()
        return {
            "format_version": FORMAT_VERSION,
            "config": self.config_.model_dump(mode="json"),
            "feature_names": self.feature_names_,
            "categorical_features": self.categorical_features_,
            "categories": self.categories_,
            "calibrator": self.calibrator_.to_dict(),
            "best_iteration": self.best_iteration_,
            "best_score": self.best_score_,
            "validation_curve": self.validation_curve_,
            "scale_pos_weight": self.scale_pos_weight_,
            "split": self.split_.summary(),
            "rows": self.rows_,
            "base_rates": self.base_rates_,
            "trees_rows": self.trees_rows_,
            "selection": self.selection_.to_dict(),
            "tree_fits": self.tree_fits_,
            "linear": self.linear_.to_dict() if self.linear_ is not None else None,
            "monotone": self.monotone_,
        }

    def save(self, path: str | Path) -> Path:
        """Write ``booster.txt`` and ``promise_model.json`` into the folder ``path``."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / BOOSTER_FILE).write_text(self.booster_.model_to_string(), encoding="utf-8")
        (folder / META_FILE).write_text(
            json.dumps(self.metadata(), indent=2, allow_nan=False), encoding="utf-8"
        )
        return folder

    @classmethod
    def load(cls, path: str | Path) -> PromiseModel:
        """Read a folder written by ``save``; predictions are identical to the saved model's."""
        folder = Path(path)
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        if meta.get("format_version") not in READABLE_VERSIONS:
            raise ValueError(f"unsupported model format {meta.get('format_version')!r}")
        config = ModelConfig.model_validate(meta["config"])
        model = cls(
            config=config,
            features=meta["feature_names"],
            categorical_features=meta["categorical_features"],
        )
        model.booster_ = lgb.Booster(model_str=(folder / BOOSTER_FILE).read_text(encoding="utf-8"))
        model.config_ = config
        model.feature_names_ = list(meta["feature_names"])
        model.categorical_features_ = list(meta["categorical_features"])
        model.categories_ = {k: list(v) for k, v in meta["categories"].items()}
        model.calibrator_ = Calibrator.from_dict(meta["calibrator"])
        model.best_iteration_ = int(meta["best_iteration"])
        model.best_score_ = float(meta["best_score"])
        model.validation_curve_ = list(meta["validation_curve"])
        model.scale_pos_weight_ = float(meta["scale_pos_weight"])
        model.split_ = TimeSplit.from_summary(meta["split"])
        model.rows_ = dict(meta["rows"])
        model.base_rates_ = dict(meta["base_rates"])
        # Saved before the refit existed: the trees had seen the train slice only.
        model.trees_rows_ = int(meta.get("trees_rows", model.rows_.get(TRAIN, 0)))
        # Version 1 served the trees alone, with the binary objective.
        objective = config.tree_variants[0]
        model.selection_ = (
            Selection.from_dict(meta["selection"])
            if meta.get("selection")
            else trees_only(objective, "saved before scorer selection existed")
        )
        model.tree_fits_ = dict(meta.get("tree_fits") or {objective: model.best_iteration_})
        model.linear_ = LinearPart.from_dict(meta["linear"]) if meta.get("linear") else None
        model.monotone_ = list(meta.get("monotone") or [0] * len(model.feature_names_))
        return model
