"""One toy training run logged end to end into a real MLflow (SQLite) store in tmp.

The run is logged once per module; each test reads back one part of what an auditor
relies on: params, metrics next to the baselines, lineage, git and environment, plots,
the model card, the evaluation rows, the pyfunc model, and the absence of names.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.artifacts import download_artifacts
from mlflow.entities import Run
from mlflow.pyfunc import load_model
from mlflow_helpers import MANIFEST, PEOPLE_NAMES, ToyData, target_in

from talentmap.settings.tracking import TrackingConfig
from talentmap.training.tracking.pyfunc import RAW_PARAM, RAW_SCORE
from talentmap.training.tracking.run_inputs import LoggedRun
from talentmap.training.tracking.run_logging import log_training_run
from talentmap.training.tracking.target import (
    EVALUATION_ARTIFACT,
    TAG_MODEL_URI,
    TrackingTarget,
    activate,
    metric_key,
    resolve_target,
)

PLOTS = (
    "plots/pr_curve.png",
    "plots/calibration_curve.png",
    "plots/feature_importance.png",
    "plots/lift_chart.png",
    "plots/metrics_by_region.png",
    "plots/metrics_by_founder_gender.png",
)


@pytest.fixture(scope="module")
def toy() -> ToyData:
    return ToyData(seed=3)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> TrackingTarget:
    return target_in(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def logged(store: TrackingTarget, toy: ToyData) -> tuple[LoggedRun, object]:
    model = toy.fit()
    return log_training_run(store, toy.inputs(model, run_name="toy-run")), model


@pytest.fixture(scope="module")
def run(store: TrackingTarget, logged: tuple[LoggedRun, object]) -> Run:
    with activate(store) as client:
        return client.get_run(logged[0].run_id)


@pytest.fixture(scope="module")
def artifacts(
    store: TrackingTarget,
    logged: tuple[LoggedRun, object],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """Every artifact of the run and of its logged model, downloaded."""
    out = tmp_path_factory.mktemp("downloaded")
    with activate(store):
        download_artifacts(run_id=logged[0].run_id, dst_path=str(out / "run"))
        download_artifacts(logged[0].model_uri, dst_path=str(out / "model"))
    return out


def test_default_store_lives_under_home(tmp_path: Path) -> None:
    target = resolve_target(config=TrackingConfig(), home=tmp_path)
    assert target.tracking_uri == f"sqlite:///{tmp_path.resolve()}/mlflow/mlruns.db"
    assert target.artifact_root == (tmp_path / "mlflow" / "artifacts").resolve().as_uri()
    assert target.history_path == (tmp_path / "mlflow" / "champion_history.jsonl").resolve()
    remote = resolve_target(config=TrackingConfig(uri="http://127.0.0.1:5000"), home=tmp_path)
    assert remote.tracking_uri == "http://127.0.0.1:5000"
    assert remote.artifact_root is None  # the server decides where artifacts go


def test_metric_keys_are_mlflow_safe() -> None:
    assert metric_key("model", "precision@50") == "model.precision_at_50"
    assert metric_key("model", "region", "Provence-Alpes-Côte d'Azur", "auc_pr") == (
        "model.region.Provence-Alpes-Côte_d_Azur.auc_pr"
    )


def test_run_registers_a_challenger(
    logged: tuple[LoggedRun, object], store: TrackingTarget
) -> None:
    result, _ = logged
    assert result.model_version == "1"
    with activate(store) as client:
        version = client.get_model_version_by_alias(store.registered_model, "challenger")
        run = client.get_run(result.run_id)
    assert str(version.version) == "1"
    assert version.run_id == result.run_id
    assert run.data.tags[TAG_MODEL_URI] == result.model_uri
    assert run.info.status == "FINISHED"


def test_params_carry_hyperparameters_rules_and_lineage(run: Run, toy: ToyData) -> None:
    params = run.data.params
    assert params["model.num_threads"] == "1"
    assert params["model.learning_rate"] == "0.05"
    assert params["rules.horizon_months"] == "24"
    assert params["rules.milestone_round_types"] == "series_a,series_b,series_c_plus"
    assert params["lineage.snapshot_id"] == MANIFEST["snapshot_id"]
    assert params["lineage.feature_service"] == "promise"
    assert params["lineage.features"].split(",") == [
        "n_rounds",
        "days_since_last_round",
        "headcount_growth_12m",
        "n_founders_phd",
        "noise",
        "region",
    ]
    assert params["training.as_of_first"] == toy.train_dates[0].date().isoformat()
    assert params["training.as_of_last"] == toy.train_dates[-1].date().isoformat()
    assert params["training.rows"] == str(len(toy.train))
    assert float(params["training.base_rate"]) == pytest.approx(toy.train["label"].mean(), abs=1e-6)
    assert params["evaluation.as_of"] == "2020-12-31"
    tags = run.data.tags
    assert tags["lineage.table.organizations.content_hash"] == "a" * 64
    assert tags["lineage.table.funding_rounds.rows"] == "999"
    assert tags["mlflow.user"] == "talentmap"


def test_metrics_of_model_and_baselines(run: Run, toy: ToyData) -> None:
    metrics = run.data.metrics
    for scorer in ("model", "logistic_regression", "total_raised"):
        for key in (
            "auc_pr",
            "auc_roc",
            "precision_at_50",
            "recall_at_100",
            "lift_at_100",
            "ndcg_at_100",
        ):
            assert 0 <= metrics[f"{scorer}.{key}"] <= 100, (scorer, key)
    assert metrics["evaluation.base_rate"] == pytest.approx(toy.evaluation["label"].mean())
    assert "total_raised.brier" not in metrics  # undefined for a heuristic: not logged as NaN
    assert not any("@" in key for key in metrics)
    assert metrics["model.auc_pr"] > toy.evaluation["label"].mean()


def test_lineage_git_and_environment_artifacts(artifacts: Path, run: Run) -> None:
    lineage = json.loads((artifacts / "run" / "lineage.json").read_text())
    assert lineage["snapshot"]["snapshot_id"] == MANIFEST["snapshot_id"]
    assert lineage["snapshot"]["tables"]["organizations"] == {
        "rows": 7200,
        "content_hash": "a" * 64,
    }
    assert "source_dir" not in json.dumps(lineage)  # paths can hold user names
    assert lineage["training"]["rows"] == int(run.data.params["training.rows"])
    assert lineage["evaluation"]["label_window_end"] == "2022-12-31"
    assert len(lineage["training"]["as_of_dates"]) == 16
    tags = run.data.tags
    assert tags["git.commit"] == "unknown" or len(tags["git.commit"]) == 40
    assert tags["git.dirty"] in {"true", "false", "unknown"}
    assert tags["env.python"].startswith("3.")
    requirements = (artifacts / "run" / "environment" / "requirements.txt").read_text()
    assert "mlflow==" in requirements and "lightgbm==" in requirements


def test_plots_model_card_and_evaluation_rows(artifacts: Path, toy: ToyData) -> None:
    for plot in PLOTS:
        path = artifacts / "run" / plot
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", plot
    card = (artifacts / "run" / "model_card.md").read_text()
    assert "recruit" in card and "EU AI Act" in card and MANIFEST["snapshot_id"] in card
    rows = pd.read_parquet(artifacts / "run" / EVALUATION_ARTIFACT)
    assert list(rows.columns) == [
        "org_id",
        "as_of",
        "n_rounds",
        "days_since_last_round",
        "headcount_growth_12m",
        "n_founders_phd",
        "noise",
        "region",
        "label",
    ]
    assert rows["org_id"].tolist() == toy.evaluation["org_id"].tolist()
    assert rows["label"].tolist() == toy.evaluation["label"].tolist()


def test_pyfunc_from_the_registry_predicts_like_the_model(
    store: TrackingTarget, logged: tuple[LoggedRun, object], toy: ToyData
) -> None:
    _, model = logged
    frame = toy.evaluation
    with activate(store):
        loaded = load_model(f"models:/{store.registered_model}@challenger")
    out = loaded.predict(frame[list(model.feature_names_)])
    np.testing.assert_allclose(
        out["probability"], model.predict_proba(frame)[:, 1], rtol=0, atol=1e-12
    )
    with_raw = loaded.predict(frame[list(model.feature_names_)], params={RAW_PARAM: True})
    np.testing.assert_allclose(with_raw[RAW_SCORE], model.predict_raw(frame), rtol=0, atol=1e-12)
    assert loaded.metadata.signature.inputs.input_names() == list(model.feature_names_)


def _strings_in(path: Path) -> str:
    if path.suffix == ".parquet":
        return pd.read_parquet(path).astype(str).to_csv()
    if path.suffix == ".png":
        return ""  # rendered figures hold no free text beyond their titles and group labels
    return path.read_bytes().decode("utf-8", errors="replace")


def test_no_personal_names_anywhere_in_mlflow(
    store: TrackingTarget, logged: tuple[LoggedRun, object], artifacts: Path
) -> None:
    with activate(store) as client:
        run = client.get_run(logged[0].run_id)
        version = client.get_model_version(store.registered_model, logged[0].model_version)
    texts = [
        json.dumps(run.data.params),
        json.dumps(run.data.tags),
        json.dumps(list(run.data.metrics)),
        json.dumps(version.tags),
        version.description or "",
    ]
    files = [p for p in artifacts.rglob("*") if p.is_file()]
    assert len(files) > 15
    texts += [_strings_in(p) for p in files]
    corpus = "\n".join(texts).lower()
    found = sorted(name for name in PEOPLE_NAMES if name.lower() in corpus)
    found += sorted(
        part for name in PEOPLE_NAMES for part in name.split() if part.lower() in corpus
    )
    assert found == []
    assert "founder_name" not in corpus


def test_leaky_training_window_is_refused(store: TrackingTarget, toy: ToyData) -> None:
    model = toy.fit()
    inputs = toy.inputs(model)
    # A training date whose 24-month label window ends after the evaluation date.
    inputs.training_as_of = [*toy.train_dates, pd.Timestamp("2019-03-31")]
    with pytest.raises(ValueError, match="leaky"):
        log_training_run(store, inputs, register=False)
