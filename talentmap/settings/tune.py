"""Configuration of the optional hyperparameter search: what is searched, and how long.

Kept apart from ``talentmap.training.pipeline.tune`` so that ``talentmap.settings`` can nest
``TuneConfig`` (as ``tune``) without importing optuna, MLflow or scikit-learn.

A range is one value, ``[low, high]``, so it is overridden whole, in TOML
(``[tune.space]`` then ``num_leaves = [2, 127]``) or in the environment
(``TALENTMAP_TUNE__SPACE__NUM_LEAVES='[2, 127]'``). Whether a parameter is sampled on a
log scale is a property of the parameter, not a setting: capacity, leaf size, shrinkage
and regularisation act multiplicatively, a sampled share of features does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from talentmap.settings.model import ModelConfig

if TYPE_CHECKING:
    import optuna

# Searched field -> sampled on a log scale. Every key is a ``ModelConfig`` field.
LOG_SCALE: dict[str, bool] = {
    "num_leaves": True,
    "min_child_samples": True,
    "learning_rate": True,
    "feature_fraction": False,
    "lambda_l2": True,
}
INTEGER = frozenset({"num_leaves", "min_child_samples"})
CHOICES = "scale_pos_weight"


class SearchSpace(BaseModel):
    """The ``ModelConfig`` fields the search varies; every other field keeps its value.

    The default ranges reach from LightGBM's stock settings (31 leaves, 20 rows per leaf)
    down to the conservative configured defaults (3 leaves, 300 rows per leaf, 30% of the
    features, L2 = 10) and beyond, so trial 0 can be the configured values.
    ``n_estimators`` is not searched: early stopping on the model's own validation slice
    already picks the rounds.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    num_leaves: tuple[int, int] = Field(
        (2, 63), description="Maximum leaves per tree, [low, high], log scale."
    )
    min_child_samples: tuple[int, int] = Field(
        (20, 1000), description="Minimum rows in a leaf, [low, high], log scale."
    )
    learning_rate: tuple[float, float] = Field(
        (0.01, 0.2), description="Shrinkage of each tree, [low, high], log scale."
    )
    feature_fraction: tuple[float, float] = Field(
        (0.2, 1.0), description="Share of features sampled per tree, [low, high]."
    )
    lambda_l2: tuple[float, float] = Field(
        (1e-3, 50.0), description="L2 regularisation of leaf values, [low, high], log scale."
    )
    scale_pos_weight: tuple[float | Literal["auto"], ...] = Field(
        (1.0, "auto"),
        min_length=1,
        description="Positive-row weights to choose from ('auto' = negatives / positives).",
    )

    @model_validator(mode="after")
    def _ranges_make_sense(self) -> SearchSpace:
        for name, (low, high) in self.ranges().items():
            if low > high:
                raise ValueError(f"{name}: low {low} is above high {high}")
            if LOG_SCALE[name] and low <= 0:
                raise ValueError(f"{name}: a log-scale range needs low > 0")
        return self

    def ranges(self) -> dict[str, tuple[float, float]]:
        """``name -> (low, high)`` of every numeric searched field."""
        return {name: getattr(self, name) for name in LOG_SCALE}

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """One point of the space, drawn by the trial's sampler."""
        params: dict[str, Any] = {}
        for name, (low, high) in self.ranges().items():
            if name in INTEGER:
                params[name] = trial.suggest_int(name, int(low), int(high), log=LOG_SCALE[name])
            else:
                params[name] = trial.suggest_float(name, low, high, log=LOG_SCALE[name])
        params[CHOICES] = trial.suggest_categorical(CHOICES, list(self.scale_pos_weight))
        return params

    def current_values(self, base: ModelConfig) -> dict[str, Any] | None:
        """``base``'s values of the searched fields, or None if one lies outside the space."""
        values = {name: getattr(base, name) for name in self.describe()}
        inside = all(low <= values[name] <= high for name, (low, high) in self.ranges().items())
        return values if inside and values[CHOICES] in self.scale_pos_weight else None

    def describe(self) -> dict[str, str]:
        """Human-readable bounds, for the parent run's params."""
        out = {
            name: f"{'int' if name in INTEGER else 'float'} [{low:g}, {high:g}]"
            + (" log" if LOG_SCALE[name] else "")
            for name, (low, high) in self.ranges().items()
        }
        out[CHOICES] = "choice " + " | ".join(str(c) for c in self.scale_pos_weight)
        return out


class TuneConfig(BaseModel):
    """The optional hyperparameter search (``talentmap tune``); nested in Settings as ``tune``."""

    model_config = ConfigDict(extra="forbid")

    n_trials: int = Field(30, ge=1, description="Trials of the search.")
    timeout_minutes: float | None = Field(
        None,
        gt=0,
        description="Stop starting new trials after this many minutes (None = no limit). "
        "A timeout makes the number of trials, so the result, depend on the machine.",
    )
    seed: int = Field(42, description="Seed of the TPE sampler.")
    eval_dates: int = Field(
        2,
        ge=1,
        description="Latest as-of dates of the training rows that form the evaluation "
        "slice; each trial learns from dates whose label window closes before them.",
    )
    include_current: bool = Field(
        True,
        description="Make trial 0 the configured [training.model] values (when inside the "
        "space), so the search is compared with the current configuration.",
    )
    space: SearchSpace = Field(default_factory=SearchSpace, description="What is searched.")
