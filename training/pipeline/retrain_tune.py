"""The budgeted search a retrain may run before it fits: tuned values only if they win.

Off by default (``retrain.tune_budget_seconds = 0``). When on, ``RetrainTuner`` is handed
to ``run_backtest`` as its ``choose_model`` hook: it receives the training frame the
backtest has just retrieved (the rows of the backtest at the latest covered as-of date,
so never the candidates of its evaluation window, and no second feature retrieval) and
returns the ``ModelConfig`` the backtest then fits.

The search is ``tune.tune_on_rows`` with the ``[tune]`` settings (space, seed, inner
``eval_dates``; ``n_trials`` caps the trials), its timeout replaced by the budget: no
trial starts after the budget, the one running then finishes. Trial 0 is always the
configured ``[training.model]`` values. The decision (``decide``) keeps the configured
values unless the best trial scored a strictly higher AUC-PR than trial 0 on the search's
inner evaluation slice; a search that cannot run on these rows (``TuneError``) keeps them
too, with the reason. The promotion gate is untouched: a tuned challenger still has to
beat the champion on the same window.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from talentmap.settings.model import ModelConfig
from talentmap.settings.tune import TuneConfig
from talentmap.training.pipeline.tune import OBJECTIVE, TuneError, TuneResult, tune_on_rows

if TYPE_CHECKING:
    from talentmap.training.tracking.target import TrackingTarget

TUNED, CONFIGURED = "tuned", "configured"
TAG_CHOICE = "talentmap.tune.choice"
TAG_SEARCH_RUN = "talentmap.tune.search_run_id"


@dataclass(frozen=True)
class TuningDecision:
    """Which values a retrain fitted, and the evidence: two inner scores, trials, time."""

    choice: Literal["tuned", "configured"]
    reason: str
    budget_seconds: float
    seconds: float
    trials: int = 0
    configured_score: float | None = None  # inner AUC-PR of trial 0 (the configured values)
    best_score: float | None = None  # inner AUC-PR of the best trial
    best_trial: int | None = None
    search_run_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)  # the fitted searched values

    @property
    def tuned(self) -> bool:
        return self.choice == TUNED

    def to_dict(self) -> dict[str, Any]:
        """The ``training.tuning`` block of ``metrics.json`` (strict JSON)."""
        return {
            "choice": self.choice,
            "reason": self.reason,
            "objective": OBJECTIVE,
            "configured_score": _finite(self.configured_score),
            "best_score": _finite(self.best_score),
            "best_trial": self.best_trial,
            "trials": self.trials,
            "seconds": round(self.seconds, 3),
            "budget_seconds": self.budget_seconds,
            "search_run_id": self.search_run_id,
            "params": dict(self.params),
        }

    def mlflow_params(self) -> dict[str, str]:
        return {
            "tune.choice": self.choice,
            "tune.budget_seconds": f"{self.budget_seconds:g}",
            "tune.best_trial": str(self.best_trial),
        }

    def mlflow_tags(self) -> dict[str, str]:
        tags = {TAG_CHOICE: self.choice}
        if self.search_run_id is not None:
            tags[TAG_SEARCH_RUN] = self.search_run_id
        return tags

    def mlflow_metrics(self) -> dict[str, float]:
        metrics = {
            "tune.trials": float(self.trials),
            "tune.seconds": self.seconds,
            "tune.tuned": 1.0 if self.tuned else 0.0,
        }
        for name, value in (
            (f"tune.configured_{OBJECTIVE}", self.configured_score),
            (f"tune.best_{OBJECTIVE}", self.best_score),
        ):
            if value is not None and not math.isnan(value):
                metrics[name] = value
        return metrics

    def card_note(self) -> str:
        """One sentence for the model card."""
        scores = ""
        if self.configured_score is not None and self.best_score is not None:
            scores = (
                f" (inner AUC-PR: configured {self.configured_score:.4f}, best "
                f"{self.best_score:.4f})"
            )
        values = "searched hyperparameter values" if self.tuned else "configured hyperparameters"
        return (
            f"This model was fitted with the {values}: a {self.seconds:.0f} s search of "
            f"{self.trials} trial(s), budget {self.budget_seconds:g} s{scores}. {self.reason}"
        )


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def decide(result: TuneResult, budget_seconds: float, seconds: float) -> TuningDecision:
    """Tuned only if the best trial beat trial 0 (the configured values) strictly."""
    best, current = result.best, result.current
    common = {
        "budget_seconds": budget_seconds,
        "seconds": seconds,
        "trials": len(result.trials),
        "best_score": best.value,
        "best_trial": best.number,
        "search_run_id": result.parent_run_id,
    }
    if current is None:
        return TuningDecision(
            CONFIGURED,
            "The configured values lie outside the search space, so the search could not "
            "compare with them: kept.",
            **common,
        )
    if best.number == current.number or not best.value > current.value:
        return TuningDecision(
            CONFIGURED,
            "No trial beat the configured values on the inner evaluation: kept.",
            configured_score=current.value,
            params=dict(current.params),
            **common,
        )
    return TuningDecision(
        TUNED,
        f"Trial {best.number} beat the configured values on the inner evaluation by "
        f"{best.value - current.value:.4f} AUC-PR.",
        configured_score=current.value,
        params=dict(best.params),
        **common,
    )


def search_config(tune: TuneConfig, budget_seconds: float) -> TuneConfig:
    """The ``[tune]`` settings with the budget as timeout and trial 0 the configured values."""
    if budget_seconds <= 0:
        raise ValueError("the tuning budget must be positive")
    return tune.model_copy(update={"timeout_minutes": budget_seconds / 60, "include_current": True})


@dataclass
class RetrainTuner:
    """``run_backtest``'s ``choose_model`` hook: search, decide, return the values to fit."""

    base: ModelConfig
    tune: TuneConfig
    budget_seconds: float
    target: TrackingTarget
    horizon_months: int
    cutoff: pd.Timestamp
    features: list[str]
    categorical_features: list[str]
    run_name: str = "tune-retrain"
    tags: dict[str, str] = field(default_factory=dict)
    decision: TuningDecision | None = None

    def __call__(self, frame: pd.DataFrame, rows: pd.DataFrame) -> ModelConfig:
        started = time.perf_counter()
        try:
            result = tune_on_rows(
                frame,
                rows["label"].to_numpy(),
                rows["as_of"],
                search_config(self.tune, self.budget_seconds),
                self.target,
                base=self.base,
                horizon_months=self.horizon_months,
                features=self.features,
                categorical_features=self.categorical_features,
                cutoff=self.cutoff,
                run_name=self.run_name,
                tags={**self.tags, "talentmap.tune.as_of": self.cutoff.date().isoformat()},
            )
        except TuneError as refused:
            self.decision = TuningDecision(
                CONFIGURED,
                f"The search could not run on these rows ({refused}): configured values kept.",
                budget_seconds=self.budget_seconds,
                seconds=time.perf_counter() - started,
            )
            return self.base
        self.decision = decide(result, self.budget_seconds, time.perf_counter() - started)
        if not self.decision.tuned:
            return self.base
        return ModelConfig.model_validate({**self.base.model_dump(), **self.decision.params})
