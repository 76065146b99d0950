"""The promise estimator: LightGBM with time-based early stopping and a later calibration.

``PromiseModel`` knows nothing of Feast or MLflow: it takes a feature frame, 0/1 labels
and the as-of date of every row. Conventions that matter for serving:

- Categorical features (object / string / category columns, or the ones named) are
  handled natively by LightGBM. Their vocabulary is FIXED at fit time and re-applied at
  predict time, so a category never seen in training becomes NaN ("unknown") instead of
  silently taking another category's code.
- Missing values stay NaN: LightGBM learns where unknowns go. A missing signal is never
  filled with 0 (0 rounds and "funding unknown" are different facts).
- ``predict_raw`` is the booster's raw log-odds (the scale of ``pred_contrib``);
  ``predict_proba`` passes it through the calibrator, which is always fitted on scores
  of the calib slice by trees that never saw it (``ModelConfig.refit`` explains the
  three steps of a fit and why the final trees learn from every row).
- ``save``/``load`` write the booster's own text format plus one JSON file (features,
  categories, calibrator numbers, split, config): no pickle, readable by any later
  version. The estimator itself also pickles (``lgb.Booster`` pickles as its text).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Self

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from talentmap.settings.model import ModelConfig
from talentmap.training.model.calibration import Calibrator, fit_calibrator
from talentmap.training.model.time_split import (
    CALIB,
    TRAIN,
    VALID,
    TimeSplit,
    as_of_days,
    time_split,
)

FORMAT_VERSION = 1
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
    ) -> None:
        self.config = config
        self.features = features
        self.categorical_features = categorical_features

    # ------------------------------------------------------------------ fit
    def fit(self, frame: pd.DataFrame, y: Any, as_of: pd.Series | pd.Index | np.ndarray) -> Self:
        """Stop early on the valid slice, refit as configured, calibrate out of time.

        ``y`` (0/1) and ``as_of`` (each row's as-of date) align with ``frame`` by position.
        The number of rounds is always chosen by trees that never saw the valid slice, and
        the calibration map always comes from scores of trees that never saw the calib
        slice (see ``ModelConfig.refit``).
        """
        config = self.config or ModelConfig()
        self._learn_schema(frame)
        labels = _labels(y, len(frame))
        if len(as_of) != len(frame):
            raise ValueError(f"as_of has {len(as_of)} rows, frame has {len(frame)}")
        split = time_split(as_of, config.valid_fraction, config.calib_fraction, config.purge_dates)
        slices = split.assign(as_of)
        rows = {name: slices == name for name in (TRAIN, VALID, CALIB)}
        for name in (TRAIN, VALID):
            if len(np.unique(labels[rows[name]])) < 2:
                raise ValueError(f"the {name} slice holds a single class; cannot fit")
        prepared = self.prepare(frame)
        self.config_ = config
        self.split_ = split
        self.rows_ = {name: int(mask.sum()) for name, mask in rows.items()}
        # None, not NaN, for an empty slice: the metadata must stay strict JSON.
        self.base_rates_ = {
            name: float(labels[mask].mean()) if mask.any() else None for name, mask in rows.items()
        }
        booster = self._early_stopped(
            config,
            (prepared[rows[TRAIN]], labels[rows[TRAIN]]),
            (prepared[rows[VALID]], labels[rows[VALID]]),
        )
        fitted_on = rows[TRAIN]
        rounds = max(1, round(self.best_iteration_ * config.refit_round_factor))
        # Calibration needs scores of the calib slice by trees that never saw it; without
        # a calibration map, "all" can skip straight to its final refit.
        scores_calib = config.calibration_method != "none"
        if config.refit == "before_calib" or (config.refit == "all" and scores_calib):
            # Everything up to the end of the valid slice (the train/valid purge gap
            # included): still strictly earlier than the calib slice and its purge gap.
            before_calib = as_of_days(as_of).to_numpy() <= np.datetime64(max(split.valid))
            booster = self._refit(config, prepared, labels, before_calib, rounds)
            fitted_on = before_calib
        raw_calib = self._raw_of(booster, prepared[rows[CALIB]])
        self.calibrator_ = fit_calibrator(config.calibration_method, raw_calib, labels[rows[CALIB]])
        if config.refit == "all":
            everything = np.ones(len(labels), dtype=bool)
            booster = self._refit(config, prepared, labels, everything, rounds)
            fitted_on = everything
        self.booster_ = booster
        self.trees_rows_ = int(fitted_on.sum())
        return self

    def _params(self, config: ModelConfig, y: np.ndarray) -> dict[str, Any]:
        n_pos = int(y.sum())
        weight = (
            (len(y) - n_pos) / max(n_pos, 1)
            if config.scale_pos_weight == "auto"
            else config.scale_pos_weight
        )
        self.scale_pos_weight_ = float(weight)
        return {**config.lightgbm_params(), "scale_pos_weight": float(weight)}

    def _dataset(self, x: pd.DataFrame, y: np.ndarray) -> lgb.Dataset:
        return lgb.Dataset(
            x, label=y, categorical_feature=self.categorical_features_ or "auto", free_raw_data=True
        )

    def _early_stopped(
        self,
        config: ModelConfig,
        train: tuple[pd.DataFrame, np.ndarray],
        valid: tuple[pd.DataFrame, np.ndarray],
    ) -> lgb.Booster:
        """Trees of the train slice, cut at the best round on the valid slice."""
        params = self._params(config, train[1])
        train_set = self._dataset(*train)
        # Log-loss must score the objective the trees optimise: with a class weight, an
        # unweighted valid log-loss only sees the weight's shift of the raw scores and
        # stops at the first round. Ranking metrics do not need (or want) the weight.
        weighted = config.early_stopping_metric == "binary_logloss" and self.scale_pos_weight_ != 1
        valid_set = lgb.Dataset(
            valid[0],
            label=valid[1],
            weight=np.where(valid[1] == 1, self.scale_pos_weight_, 1.0) if weighted else None,
            reference=train_set,
        )
        history: dict[str, dict[str, list[float]]] = {}
        booster = lgb.train(
            params,
            train_set,
            num_boost_round=config.n_estimators,
            valid_sets=[valid_set],
            valid_names=[VALID],
            callbacks=[
                lgb.early_stopping(
                    config.early_stopping_rounds, first_metric_only=True, verbose=False
                ),
                lgb.record_evaluation(history),
            ],
        )
        best = booster.best_iteration or booster.current_iteration()
        self.best_iteration_ = int(best)
        self.validation_curve_ = [float(v) for v in history[VALID][config.early_stopping_metric]]
        self.best_score_ = self.validation_curve_[best - 1]
        # Keep only the trees up to the best round: the saved model and every prediction
        # (and every contribution) then agree without passing num_iteration around.
        return lgb.Booster(model_str=booster.model_to_string(num_iteration=best))

    def _refit(
        self,
        config: ModelConfig,
        prepared: pd.DataFrame,
        labels: np.ndarray,
        mask: np.ndarray,
        rounds: int,
    ) -> lgb.Booster:
        """Trees of the ``mask`` rows, exactly ``rounds`` of them (no early stopping)."""
        params = self._params(config, labels[mask])
        return lgb.train(params, self._dataset(prepared[mask], labels[mask]), rounds)

    @staticmethod
    def _raw_of(booster: lgb.Booster, prepared: pd.DataFrame) -> np.ndarray:
        if prepared.empty:  # LightGBM refuses an empty frame; no rows, no scores
            return np.empty(0, dtype=np.float64)
        return np.asarray(booster.predict(prepared, raw_score=True), dtype=np.float64)

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
        return self._raw_of(self.booster_, prepared)

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
        if meta.get("format_version") != FORMAT_VERSION:
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
        return model
