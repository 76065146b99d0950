"""``talentmap retrain --tune-budget`` end to end on the small world: the decision is on record.

One budgeted retrain through the command line (real Feast, MLflow on SQLite, the lock),
with the trial cap at 3 so the search is short and its trial count known. The MLflow
training run, its model card and ``metrics.json`` must all carry the same decision, and
the fitted hyperparameters must be the ones the decision names.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from talentmap.app.cli import app as talentmap_app
from talentmap.settings import Settings
from talentmap.settings.model import ModelConfig
from talentmap.settings.training import TrainingConfig
from talentmap.settings.tune import SearchSpace, TuneConfig
from talentmap.training.pipeline.retrain_tune import TAG_CHOICE, TAG_SEARCH_RUN
from talentmap.training.tracking.target import activate, resolve_target

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TRIALS = 3
BUDGET = 600  # generous: the trial cap, not the clock, ends this search
SEARCHED = tuple(SearchSpace().describe())


@pytest.fixture(scope="module")
def retrained(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str]:
    settings = Settings(
        home=tmp_path_factory.mktemp("retrain-tune-home"),
        training=TrainingConfig(model=ModelConfig(num_threads=1)),
        tune=TuneConfig(n_trials=TRIALS),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("talentmap.training.commands.retrain.get_settings", lambda: settings)
        done = CliRunner().invoke(
            talentmap_app,
            ["retrain", "--data", str(small_world), "--tune-budget", str(BUDGET)],
            # The human lines: under CliRunner the output is no terminal, so JSON by default.
            env={"COLUMNS": "250", "TALENTMAP_LOG_FORMAT": "text"},
        )
    assert done.exit_code == 0, done.output
    assert "Tuning:" in done.output
    return settings, done.output


def test_training_run_carries_the_tuning_decision(retrained: tuple[Settings, str]) -> None:
    settings, _ = retrained
    target = resolve_target(settings)
    with activate(target) as client:
        version = client.get_model_version_by_alias(target.registered_model, "champion")
        run = client.get_run(version.run_id)
    tags, params, metrics = run.data.tags, run.data.params, run.data.metrics
    choice = tags[TAG_CHOICE]
    assert choice in ("tuned", "configured")
    assert params["tune.choice"] == choice
    assert params["tune.budget_seconds"] == str(BUDGET)
    assert metrics["tune.trials"] == TRIALS
    assert 0 < metrics["tune.seconds"] < BUDGET
    configured, best = metrics["tune.configured_auc_pr"], metrics["tune.best_auc_pr"]
    assert metrics["tune.tuned"] == (1.0 if choice == "tuned" else 0.0)
    assert (best > configured) == (choice == "tuned")

    # The fitted values are the decision's: the searched ones, or the configured ones.
    block = json.loads(_metrics_json(settings).read_text(encoding="utf-8"))["training"]["tuning"]
    assert block["choice"] == choice and block["trials"] == TRIALS
    assert block["configured_score"] == pytest.approx(configured)
    assert block["best_score"] == pytest.approx(best)
    configured_values = {name: getattr(settings.training.model, name) for name in SEARCHED}
    if choice == "tuned":
        assert block["params"] != configured_values
    else:
        assert block["params"] == configured_values
    for name in SEARCHED:
        assert params[f"model.{name}"] == str(block["params"][name]), name

    # The search itself is its own MLflow run, linked from the training run.
    search = MlflowClient(target.tracking_uri).get_run(tags[TAG_SEARCH_RUN])
    assert search.data.tags["talentmap.stage"] == "tuning"
    assert block["search_run_id"] == search.info.run_id

    card = Path(
        MlflowClient(target.tracking_uri).download_artifacts(run.info.run_id, "model_card.md")
    )
    assert f"search of {TRIALS} trial(s)" in card.read_text(encoding="utf-8")


def _metrics_json(settings: Settings) -> Path:
    (path,) = settings.path(settings.retrain.runs_dir).glob("*/metrics.json")
    return path
