"""Hyperparameters of the promise model and the chronology of its three slices.

``ModelConfig`` is a plain ``BaseModel`` so that ``TrainingConfig`` (and through it
``talentmap.settings.Settings``) can nest it and make every field env/TOML-overridable,
e.g. ``TALENTMAP_TRAINING__MODEL__LEARNING_RATE=0.03``. It imports neither LightGBM nor
scikit-learn, so reading the settings stays cheap.

Chronology of one fit (never a random split). The unique as-of dates of the training rows
are sorted; the last ``calib_fraction`` of them form the *calibration* slice, the
``valid_fraction`` before those the *validation* slice (early stopping), and everything
earlier the *training* slice (the trees)::

    train dates  <  [purge]  <  valid dates  <  [purge]  <  calib dates

so the model is always judged and calibrated on rows later than the ones it learnt from,
as it will be in production. ``purge_dates`` drops that many as-of dates at each border:
a training row at t carries a label looking up to t + H, which overlaps the next slice's
feature period; purging H / spacing dates removes that overlap entirely, at the price of
data (8 quarterly dates for H = 24 months), so the default keeps 0 and the backtest's
final test stays honest either way (all its windows end before the test date).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

EarlyStoppingMetric = Literal["average_precision", "auc", "binary_logloss"]
CalibrationMethod = Literal["sigmoid", "isotonic", "none"]


class ModelConfig(BaseModel):
    """LightGBM hyperparameters, class-imbalance handling, time slices and calibration."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    learning_rate: float = Field(0.05, gt=0, le=1, description="Shrinkage of each tree.")
    num_leaves: int = Field(
        31, ge=2, le=131072, description="Maximum leaves per tree (model capacity)."
    )
    min_child_samples: int = Field(
        20, ge=1, description="Minimum rows in a leaf (LightGBM min_data_in_leaf)."
    )
    feature_fraction: float = Field(
        0.9, gt=0, le=1, description="Share of features sampled for each tree."
    )
    bagging_fraction: float = Field(
        0.8, gt=0, le=1, description="Share of rows sampled every bagging_freq iterations."
    )
    bagging_freq: int = Field(
        1, ge=0, description="Re-sample rows every this many iterations (0 = no bagging)."
    )
    lambda_l2: float = Field(1.0, ge=0, description="L2 regularisation of leaf values.")
    n_estimators: int = Field(
        2000, ge=1, description="Upper bound on boosting rounds; early stopping picks fewer."
    )
    early_stopping_rounds: int = Field(
        50,
        ge=1,
        description="Stop when the validation metric has not improved for this many rounds.",
    )
    early_stopping_metric: EarlyStoppingMetric = Field(
        "average_precision",
        description=(
            "Validation metric watched by early stopping. AUC-PR by default: the product "
            "is a ranking, and log-loss would react to the class weighting's shift of the "
            "raw scores rather than to the ranking quality."
        ),
    )
    seed: int = Field(42, description="Seed of every random choice LightGBM makes.")
    num_threads: int = Field(2, ge=1, description="LightGBM worker threads.")
    scale_pos_weight: float | Literal["auto"] = Field(
        "auto",
        description=(
            "Weight of positive rows. 'auto' = negatives / positives of the training "
            "slice, so the rare class is not drowned out; 1.0 turns weighting off. "
            "Calibration afterwards undoes the shift weighting puts on the raw scores."
        ),
    )
    max_cat_to_onehot: int = Field(
        4,
        ge=1,
        description="Categorical features with at most this many values are split one-vs-rest.",
    )
    cat_smooth: float = Field(
        10.0, ge=0, description="Smoothing of per-category statistics (rare categories)."
    )
    valid_fraction: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="Share of the as-of dates (the latest before calibration) for early stopping.",
    )
    calib_fraction: float = Field(
        0.2,
        ge=0,
        lt=1,
        description=(
            "Share of the as-of dates (the very latest) on which probabilities are "
            "calibrated. Must be > 0 unless calibration_method is 'none'."
        ),
    )
    purge_dates: int = Field(
        0,
        ge=0,
        description=(
            "As-of dates dropped at each border between slices, against label-window "
            "overlap (see the module docstring)."
        ),
    )
    calibration_method: CalibrationMethod = Field(
        "sigmoid",
        description=(
            "'sigmoid' (Platt scaling on the raw log-odds): keeps the ranking exactly and "
            "is stable on small slices. 'isotonic': more flexible but creates ties among "
            "scores. 'none': probabilities straight from the booster."
        ),
    )

    @model_validator(mode="after")
    def _slices_fit(self) -> ModelConfig:
        if self.valid_fraction + self.calib_fraction >= 1:
            raise ValueError("valid_fraction + calib_fraction must leave dates for training")
        if self.calibration_method != "none" and self.calib_fraction == 0:
            raise ValueError("calib_fraction must be > 0 when calibration_method is not 'none'")
        return self

    def lightgbm_params(self) -> dict[str, object]:
        """LightGBM ``params`` dict, without the class weight (it depends on the data)."""
        return {
            "objective": "binary",
            "metric": self.early_stopping_metric,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": self.bagging_freq,
            "lambda_l2": self.lambda_l2,
            "max_cat_to_onehot": self.max_cat_to_onehot,
            "cat_smooth": self.cat_smooth,
            "seed": self.seed,
            "num_threads": self.num_threads,
            # Same data + same seed must give the same model, on any run of the CI.
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
            # Keep bins valid for every min_data_in_leaf that a search may try later.
            "feature_pre_filter": False,
        }
