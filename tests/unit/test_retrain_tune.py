"""Retrain's budgeted search: the tuned values are fitted only when they win, within budget.

The decision is checked on hand-made trial outcomes (pure), then ``RetrainTuner`` runs
real searches on toy rows into a real MLflow (SQLite) store in tmp: a trial cap, a budget
too small for more than trial 0, a deliberately weak configuration the search beats, and
rows too short to search. The setting, its environment override, the fingerprint and the
command-line options are checked last.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fixtures.toy_rows import toy_training_rows
from mlflow import MlflowClient
from mlflow_helpers import target_in
from typer.testing import CliRunner

from talentmap.app.cli import app as talentmap_app
from talentmap.settings import Settings
from talentmap.settings.model import ModelConfig
from talentmap.settings.training import RetrainConfig
from talentmap.settings.tune import SearchSpace, TuneConfig
from talentmap.training.pipeline.labels import label_window_end
from talentmap.training.pipeline.retrain import config_fingerprint
from talentmap.training.pipeline.retrain_tune import (
    CONFIGURED,
    TUNED,
    RetrainTuner,
    TuningDecision,
    decide,
    search_config,
)
from talentmap.training.pipeline.tune import TrialOutcome, TuneResult, TuneSplit
from talentmap.training.tracking.target import TrackingTarget

HORIZON = 24
SEARCHED = tuple(SearchSpace().describe())
# Inside the default space, so trial 0 re-evaluates it.
BASE = ModelConfig(
    num_threads=1,
    n_estimators=200,
    num_leaves=7,
    min_child_samples=50,
    learning_rate=0.05,
    feature_fraction=0.8,
    lambda_l2=1.0,
    scale_pos_weight=1.0,
)
# Inside the space too, but starved: stumps on 20% of the features, 1000 rows per leaf,
# a tiny learning rate and 30 rounds. The toy label hangs on two features; this barely
# finds them, so a search with a few trials beats it.
WEAK = BASE.model_copy(
    update={
        "n_estimators": 30,
        "num_leaves": 2,
        "min_child_samples": 1000,
        "learning_rate": 0.01,
        "feature_fraction": 0.2,
        "lambda_l2": 50.0,
    }
)


# ------------------------------------------------------------------ the decision (pure)


def _outcome(number: int, value: float, *, current: bool = False) -> TrialOutcome:
    params: dict[str, Any] = {name: getattr(BASE, name) for name in SEARCHED}
    params["num_leaves"] = 7 + number
    return TrialOutcome(number, params, {"auc_pr": value}, f"run-{number}", current)


def _result(values: list[float], *, with_current: bool = True) -> TuneResult:
    trials = tuple(_outcome(i, v, current=with_current and i == 0) for i, v in enumerate(values))
    best = max(trials, key=lambda t: (t.value, -t.number))  # optuna keeps the first best
    split = TuneSplit((pd.Timestamp("2015-03-31"),), (pd.Timestamp("2018-03-31"),), (), HORIZON)
    return TuneResult(
        parent_run_id="parent",
        experiment_id="0",
        split=split,
        trials=trials,
        best=best,
        current=trials[0] if with_current else None,
        best_config=BASE,
        toml="",
        rows={},
    )


def test_tuned_values_are_chosen_only_when_they_beat_the_configured_ones() -> None:
    won = decide(_result([0.20, 0.25, 0.22]), budget_seconds=60, seconds=12.5)
    assert won.choice == TUNED and won.tuned
    assert won.best_trial == 1 and won.params["num_leaves"] == 8
    assert (won.configured_score, won.best_score) == (0.20, 0.25)
    assert (won.trials, won.seconds, won.budget_seconds) == (3, 12.5, 60)

    lost = decide(_result([0.30, 0.25, 0.22]), budget_seconds=60, seconds=3.0)
    assert lost.choice == CONFIGURED and not lost.tuned
    assert lost.params["num_leaves"] == BASE.num_leaves
    assert (lost.configured_score, lost.best_score) == (0.30, 0.30)

    # A tie is not a win: the configured values stay.
    tie = decide(_result([0.25, 0.25]), budget_seconds=60, seconds=3.0)
    assert tie.choice == CONFIGURED and tie.best_trial == 0


def test_configured_values_outside_the_space_are_kept() -> None:
    kept = decide(_result([0.20, 0.30], with_current=False), budget_seconds=60, seconds=1.0)
    assert kept.choice == CONFIGURED and kept.configured_score is None
    assert "outside the search space" in kept.reason


def test_the_decision_is_recorded_for_metrics_json_and_mlflow() -> None:
    won = decide(_result([0.20, 0.25]), budget_seconds=60, seconds=12.5)
    block = won.to_dict()
    assert block["choice"] == "tuned" and block["trials"] == 2
    assert block["configured_score"] == 0.20 and block["best_score"] == 0.25
    assert block["search_run_id"] == "parent" and block["params"]["num_leaves"] == 8
    assert won.mlflow_tags()["talentmap.tune.choice"] == "tuned"
    assert won.mlflow_params()["tune.choice"] == "tuned"
    metrics = won.mlflow_metrics()
    assert metrics["tune.configured_auc_pr"] == 0.20 and metrics["tune.best_auc_pr"] == 0.25
    assert metrics["tune.trials"] == 2 and metrics["tune.tuned"] == 1.0
    assert "searched hyperparameter values" in won.card_note()
    refused = TuningDecision(CONFIGURED, "refused", budget_seconds=5, seconds=0.1)
    assert "tune.configured_auc_pr" not in refused.mlflow_metrics()  # no NaN, no None


def test_search_config_makes_the_budget_the_timeout_and_trial_zero_the_configuration() -> None:
    config = search_config(TuneConfig(n_trials=7, include_current=False), 90)
    assert config.timeout_minutes == pytest.approx(1.5)
    assert config.include_current and config.n_trials == 7
    with pytest.raises(ValueError, match="positive"):
        search_config(TuneConfig(), 0)


# ------------------------------------------------------------------ real searches


@pytest.fixture(scope="module")
def rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame, y, as_of = toy_training_rows(seed=0, n_dates=16, per_date=250)
    return frame, pd.DataFrame({"as_of": as_of, "label": y})


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> TrackingTarget:
    return target_in(tmp_path_factory.mktemp("home"))


def _tuner(
    store: TrackingTarget, rows: pd.DataFrame, base: ModelConfig, n_trials: int, budget: float
) -> RetrainTuner:
    frame = rows[0]
    return RetrainTuner(
        base=base,
        tune=TuneConfig(n_trials=n_trials, seed=3),
        budget_seconds=budget,
        target=store,
        horizon_months=HORIZON,
        cutoff=label_window_end(rows[1]["as_of"].max(), HORIZON),
        features=list(frame.columns),
        categorical_features=["region"],
    )


def test_trial_cap_bounds_the_search_and_the_returned_values_follow_the_decision(
    store: TrackingTarget, rows: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    tuner = _tuner(store, rows, BASE, n_trials=3, budget=600)
    fitted = tuner(*rows)
    decision = tuner.decision
    assert decision is not None and decision.trials == 3
    assert decision.configured_score is not None and decision.best_score is not None
    assert decision.best_score >= decision.configured_score
    expected = decision.params if decision.tuned else {n: getattr(BASE, n) for n in SEARCHED}
    assert {n: getattr(fitted, n) for n in SEARCHED} == expected
    assert fitted.n_estimators == BASE.n_estimators  # unsearched fields keep their values
    parent = MlflowClient(store.tracking_uri).get_run(decision.search_run_id)
    assert parent.data.metrics["n_trials_completed"] == 3


def test_budget_stops_the_search_after_trial_zero(
    store: TrackingTarget, rows: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    # 30 trials allowed, but a budget no trial fits in: only trial 0 (the configured
    # values) runs, so nothing can beat them.
    tuner = _tuner(store, rows, WEAK, n_trials=30, budget=0.001)
    fitted = tuner(*rows)
    decision = tuner.decision
    assert decision is not None and decision.trials == 1
    assert decision.choice == CONFIGURED and fitted == WEAK
    assert decision.configured_score == decision.best_score


def test_a_search_that_beats_a_weak_configuration_is_fitted(
    store: TrackingTarget, rows: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    tuner = _tuner(store, rows, WEAK, n_trials=4, budget=600)
    fitted = tuner(*rows)
    decision = tuner.decision
    assert decision is not None and decision.trials == 4
    assert decision.choice == TUNED, decision.reason
    assert decision.best_score > decision.configured_score  # type: ignore[operator]
    assert {n: getattr(fitted, n) for n in SEARCHED} == decision.params
    assert fitted != WEAK and fitted.n_estimators == WEAK.n_estimators


def test_rows_too_short_to_search_keep_the_configured_values(store: TrackingTarget) -> None:
    frame, y, as_of = toy_training_rows(seed=1, n_dates=6, per_date=100)
    short = (frame, pd.DataFrame({"as_of": as_of, "label": y}))
    tuner = _tuner(store, short, BASE, n_trials=3, budget=600)
    assert tuner(*short) == BASE
    assert tuner.decision is not None and tuner.decision.choice == CONFIGURED
    assert "could not run" in tuner.decision.reason and tuner.decision.trials == 0


# ------------------------------------------------------------------ settings and commands


def test_budget_setting_is_off_by_default_and_overridable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert RetrainConfig().tune_budget_seconds == 0
    monkeypatch.setenv("TALENTMAP_RETRAIN__TUNE_BUDGET_SECONDS", "45")
    assert Settings(home=tmp_path).retrain.tune_budget_seconds == 45
    with pytest.raises(ValueError, match="greater than or equal"):
        RetrainConfig(tune_budget_seconds=-1)


def test_fingerprint_changes_with_a_budget_only(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    plain = config_fingerprint(settings)
    assert config_fingerprint(settings, 0.0) == plain  # champions trained without search
    assert config_fingerprint(settings, 30.0) != plain
    assert config_fingerprint(settings, 30.0) != config_fingerprint(settings, 60.0)
    other = settings.model_copy(update={"tune": TuneConfig(n_trials=5)})
    assert config_fingerprint(other, 30.0) != config_fingerprint(settings, 30.0)


@pytest.mark.parametrize("command", ["retrain", "schedule"])
def test_tune_budget_option_has_help(command: str) -> None:
    out = CliRunner().invoke(talentmap_app, [command, "--help"], env={"COLUMNS": "200"}).output
    assert "--tune-budget" in out and "retrain.tune_budget_seconds" in out


def test_schedule_passes_the_budget_to_retrain(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from talentmap.training.pipeline import retrain as retrain_module

    seen: list[float | None] = []

    def fake_retrain(settings: Settings, data_dir: Path, **kwargs: Any) -> Any:
        seen.append(kwargs.get("tune_budget_seconds"))
        raise retrain_module.RetrainBusyError("stop here")

    configured = Settings(home=tmp_path, retrain=RetrainConfig(tune_budget_seconds=25))
    monkeypatch.setattr("talentmap.training.commands.schedule.get_settings", lambda: configured)
    monkeypatch.setattr(retrain_module, "retrain", fake_retrain)
    monkeypatch.setattr("talentmap.training.commands.schedule.time.sleep", lambda _: None)
    base = ["schedule", "--cron", "* * * * *", "--max-runs", "1", "--data", str(tmp_path)]
    for extra in ([], ["--tune-budget", "7"]):
        done = CliRunner().invoke(talentmap_app, [*base, *extra], env={"COLUMNS": "200"})
        assert done.exit_code == 0, done.output
    assert seen == [25, 7]
