"""The optional hyperparameter search, on toy rows, into a real MLflow (SQLite) store in tmp.

One 3-trial search is run per module (plus a second one with the same seed for the
determinism test); each test reads back one promise: a parent run with the space and the
best values, one nested run per trial with its metrics, an evaluation slice strictly
later than every training date whose windows it cannot see, a pasteable snippet, and
nothing registered.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures.toy_rows import toy_training_rows
from mlflow import MlflowClient
from mlflow_helpers import target_in
from typer.testing import CliRunner

from talentmap.app.cli import app as talentmap_app
from talentmap.settings.model import ModelConfig
from talentmap.settings.tune import SearchSpace, TuneConfig
from talentmap.training.pipeline.labels import label_window_end
from talentmap.training.pipeline.tune import (
    BEST_JSON,
    BEST_TOML,
    EVALUATION,
    GAP,
    TAG_CURRENT,
    TAG_STAGE,
    TRAIN,
    TuneError,
    TuneResult,
    toml_snippet,
    tune_on_rows,
    tuning_split,
    write_recommendation,
)
from talentmap.training.tracking.target import TrackingTarget, metric_key

HORIZON = 24
# Explicit values inside the default space: trial 0 re-evaluates them, whatever the
# model's shipped defaults are.
BASE = ModelConfig(
    num_threads=1,
    n_estimators=300,
    num_leaves=7,
    min_child_samples=50,
    learning_rate=0.05,
    feature_fraction=0.8,
    lambda_l2=1.0,
    scale_pos_weight=1.0,
)
CONFIG = TuneConfig(n_trials=3, seed=11)
SEARCHED = tuple(SearchSpace().describe())


@pytest.fixture(scope="module")
def rows() -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    return toy_training_rows(seed=0)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> TrackingTarget:
    return target_in(tmp_path_factory.mktemp("home"))


def _search(rows: tuple[pd.DataFrame, pd.Series, pd.Series], store: TrackingTarget) -> TuneResult:
    frame, y, as_of = rows
    return tune_on_rows(
        frame,
        y,
        as_of,
        CONFIG,
        store,
        base=BASE,
        horizon_months=HORIZON,
        cutoff=label_window_end(as_of.max(), HORIZON),
        run_name="tune-toy",
    )


@pytest.fixture(scope="module")
def result(rows: tuple[pd.DataFrame, pd.Series, pd.Series], store: TrackingTarget) -> TuneResult:
    return _search(rows, store)


@pytest.fixture(scope="module")
def client(store: TrackingTarget, result: TuneResult) -> MlflowClient:
    return MlflowClient(store.tracking_uri)


def _children(client: MlflowClient, result: TuneResult) -> list:
    return client.search_runs(
        [result.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{result.parent_run_id}'",
        order_by=["attributes.start_time ASC"],
    )


def test_parent_run_holds_the_space_and_the_best_values(
    client: MlflowClient, result: TuneResult
) -> None:
    parent = client.get_run(result.parent_run_id)
    assert parent.info.run_name == "tune-toy"
    assert parent.info.status == "FINISHED"
    assert parent.data.tags[TAG_STAGE] == "tuning"
    params = parent.data.params
    for name in SEARCHED:
        assert params[f"space.{name}"]  # the bounds are on record
        assert f"best.{name}" in params
    assert params["space.num_leaves"] == "int [2, 63] log"
    assert params["best.num_leaves"] == str(result.best.params["num_leaves"])
    assert params["best.scale_pos_weight"] == str(result.best.params["scale_pos_weight"])
    assert params["best.trial"] == str(result.best.number)
    assert parent.data.metrics["best.auc_pr"] == pytest.approx(result.best.value)
    assert result.best.value == max(t.value for t in result.trials)
    assert "mlflow.parentRunId" not in parent.data.tags
    # The OS account name (often a person's) is replaced; the runs hold ids and numbers.
    assert parent.data.tags["mlflow.user"] == "talentmap"


def test_one_nested_child_run_per_trial_with_its_metrics(
    client: MlflowClient, result: TuneResult
) -> None:
    children = _children(client, result)
    assert len(children) == CONFIG.n_trials == len(result.trials)
    by_id = {t.run_id: t for t in result.trials}
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == result.parent_run_id
        trial = by_id[child.info.run_id]
        for name in ("auc_pr", "auc_roc", "precision@100"):
            logged = child.data.metrics[metric_key(name)]
            assert np.isfinite(logged)
            assert logged == pytest.approx(trial.metrics[name])
        assert child.data.params["num_leaves"] == str(trial.params["num_leaves"])
    # The trials are not all the same point: the sampler did search.
    assert len({t.params["num_leaves"] for t in result.trials} | {BASE.num_leaves}) > 1


def test_trial_zero_re_evaluates_the_configured_values(
    client: MlflowClient, result: TuneResult
) -> None:
    first = result.trials[0]
    assert first.is_current and result.current == first
    assert first.params == {name: getattr(BASE, name) for name in SEARCHED}
    assert client.get_run(first.run_id).data.tags[TAG_CURRENT] == "true"
    parent = client.get_run(result.parent_run_id)
    assert parent.data.metrics["gain_over_current.auc_pr"] == pytest.approx(
        result.best.value - first.value
    )
    assert result.best.value >= first.value


def test_evaluation_slice_is_later_than_every_training_date(
    result: TuneResult, rows: tuple[pd.DataFrame, pd.Series, pd.Series]
) -> None:
    split = result.split
    dates = sorted(pd.Timestamp(d) for d in rows[2].unique())
    assert split.evaluation == tuple(dates[-CONFIG.eval_dates :])
    assert min(split.evaluation) > max(split.train)
    # Stricter: every training label window has closed when the evaluation starts.
    assert all(label_window_end(d, HORIZON) <= min(split.evaluation) for d in split.train)
    assert split.gap and all(
        label_window_end(d, HORIZON) > min(split.evaluation) for d in split.gap
    )
    parts = split.assign(rows[2])
    assert result.rows["train_rows"] == int((parts == TRAIN).sum())
    assert result.rows["evaluation_rows"] == int((parts == EVALUATION).sum())
    assert result.rows["gap_rows"] == int((parts == GAP).sum())


def test_same_seed_gives_the_same_best_values(
    rows: tuple[pd.DataFrame, pd.Series, pd.Series], store: TrackingTarget, result: TuneResult
) -> None:
    again = _search(rows, store)
    assert again.parent_run_id != result.parent_run_id
    assert again.best.params == result.best.params
    assert again.best.value == result.best.value
    assert [t.params for t in again.trials] == [t.params for t in result.trials]


def test_snippet_pastes_into_the_settings(result: TuneResult, tmp_path: Path) -> None:
    parsed = tomllib.loads(result.toml)["training"]["model"]
    assert set(parsed) == set(SEARCHED)
    pasted = ModelConfig.model_validate({**BASE.model_dump(), **parsed})
    assert pasted.num_leaves == result.best_config.num_leaves
    assert pasted.scale_pos_weight == result.best_config.scale_pos_weight
    assert pasted.learning_rate == pytest.approx(result.best_config.learning_rate, rel=1e-5)
    toml_path, json_path = write_recommendation(result, tmp_path / "out")
    assert toml_path.name == BEST_TOML and json_path.name == BEST_JSON
    assert tomllib.loads(toml_path.read_text(encoding="utf-8")) == tomllib.loads(result.toml)


def test_snippet_artifact_is_logged_and_nothing_is_registered(
    client: MlflowClient, store: TrackingTarget, result: TuneResult
) -> None:
    text = client.download_artifacts(result.parent_run_id, BEST_TOML)
    assert tomllib.loads(Path(text).read_text(encoding="utf-8")) == tomllib.loads(result.toml)
    assert client.search_registered_models() == []


def test_snippet_values_round_trip() -> None:
    text = toml_snippet({"num_leaves": 5, "lambda_l2": 1e-05, "scale_pos_weight": "auto"})
    assert tomllib.loads(text) == {
        "training": {"model": {"num_leaves": 5, "lambda_l2": 1e-05, "scale_pos_weight": "auto"}}
    }


def test_split_refuses_rows_too_short_to_train_on() -> None:
    as_of = pd.Series(pd.date_range("2020-03-31", periods=6, freq="QE"))
    with pytest.raises(TuneError, match="label window"):
        tuning_split(as_of, HORIZON, eval_dates=1)
    split = tuning_split(as_of, 12, eval_dates=1)
    assert split.train == tuple(pd.Timestamp(d) for d in ("2020-03-31", "2020-06-30"))


def test_search_refuses_an_evaluation_slice_the_cutoff_does_not_cover(
    rows: tuple[pd.DataFrame, pd.Series, pd.Series], store: TrackingTarget
) -> None:
    frame, y, as_of = rows
    with pytest.raises(TuneError, match="cut-off"):
        tune_on_rows(
            frame, y, as_of, CONFIG, store, base=BASE, horizon_months=HORIZON,
            cutoff=label_window_end(as_of.max(), HORIZON) - pd.DateOffset(days=1),
        )  # fmt: skip


def test_config_bounds_are_validated_and_default_without_settings() -> None:
    with pytest.raises(ValueError, match="above high"):
        SearchSpace(num_leaves=(10, 5))
    with pytest.raises(ValueError, match="log-scale"):
        SearchSpace(lambda_l2=(0.0, 1.0))


def test_cli_options_have_help() -> None:
    app = talentmap_app
    out = CliRunner().invoke(app, ["tune", "--help"], env={"COLUMNS": "200"}).output
    for option in ("--data", "--trials", "--timeout-minutes", "--as-of", "--out"):
        assert option in out
    assert "nothing is registered" in out.lower()
