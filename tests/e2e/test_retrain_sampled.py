"""``training.max_rows`` end to end: a retrain on sampled rows says so everywhere (issue 10).

One retrain through the command line on the small world (real Feast, MLflow on SQLite)
with the cap well under its training rows. ``metrics.json``, the MLflow training run's
params and the model card must all state the sample; every positive is kept; the
registered model still serves and the run stays whole.
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
from talentmap.training.tracking.target import activate, resolve_target

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CAP = 1_500


@pytest.fixture(scope="module")
def retrained(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(
        home=tmp_path_factory.mktemp("retrain-sampled-home"),
        training=TrainingConfig(model=ModelConfig(num_threads=1), max_rows=CAP),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("talentmap.training.commands.retrain.get_settings", lambda: settings)
        done = CliRunner().invoke(
            talentmap_app,
            ["retrain", "--data", str(small_world)],
            env={"COLUMNS": "250", "TALENTMAP_LOG_FORMAT": "text"},
        )
    assert done.exit_code == 0, done.output
    return settings


def test_the_sample_is_on_record(retrained: Settings) -> None:
    (path,) = retrained.path(retrained.retrain.runs_dir).glob("*/metrics.json")
    training = json.loads(path.read_text(encoding="utf-8"))["training"]
    sample = training["sample"]
    assert sample["sampled"] is True
    assert sample["rows"] == training["rows"] > CAP
    assert sample["positives"] == training["positives"] == sample["kept_positives"]
    # The cap, up to one row per (date, class) stratum from rounding up.
    assert CAP <= sample["kept_rows"] <= CAP + 2 * training["n_as_of_dates"]
    assert 0 < sample["negative_rate"] < 1 and sample["positive_rate"] == 1.0
    # The slices' base rates are the weighted ones: close to the full rows', not the
    # sample's (which has every positive and a fraction of the negatives).
    raw_rate = sample["kept_positives"] / sample["kept_rows"]
    weighted = training["model"]["base_rate_per_slice"]["train"]
    assert abs(weighted - training["base_rate"]) < abs(raw_rate - training["base_rate"]) / 2

    target = resolve_target(retrained)
    with activate(target) as client:
        version = client.get_model_version_by_alias(target.registered_model, "champion")
        run = client.get_run(version.run_id)
    params = run.data.params
    assert params["training.sample.sampled"] == "True"
    assert params["training.sample.max_rows"] == str(CAP)
    assert params["training.sample.kept_rows"] == str(sample["kept_rows"])
    card = Path(
        MlflowClient(target.tracking_uri).download_artifacts(run.info.run_id, "model_card.md")
    ).read_text(encoding="utf-8")
    assert f"weighted sample of {sample['kept_rows']:,}" in card
