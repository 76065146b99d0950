"""``talentmap backtest`` end to end on generated worlds, each run in its own temporary home.

- leakage: deleting every event dated after --as-of leaves predictions.csv byte-identical;
- a directory with only organizations, funding_rounds, exits and programs still works;
- on a world whose snapshot covers the horizon, the model beats both baselines on AUC-PR
  (the oracle is read here, in the test, only to report how far the model is from it).
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from truncation import after, read_text_table, truncate_world
from typer.testing import CliRunner

from talentmap.app.cli import app as talentmap_app
from talentmap.generate.world import generate_world
from talentmap.lake import Lake
from talentmap.settings import Settings
from talentmap.settings.model import ModelConfig
from talentmap.settings.training import TrainingConfig
from talentmap.training.evaluation.metrics import precision_at_k
from talentmap.training.pipeline.backtest import PREDICTIONS_FILE, run_backtest
from talentmap.training.pipeline.candidates import candidate_status

pytestmark = pytest.mark.e2e

LEAK_ORGS, LEAK_SEED = 800, 5
LEAK_AS_OF = date(2021, 6, 30)
E2E_AS_OF = date(2023, 6, 30)  # + 24 months <= the worlds' 2025-12-31 snapshot
MINIMAL_TABLES = ("organizations", "funding_rounds", "exits", "programs")


def _settings(home: Path, model: ModelConfig | None = None) -> Settings:
    # One thread: faster on a busy 2-core machine for small data, and deterministic.
    return Settings(home=home, training=TrainingConfig(model=model or ModelConfig(num_threads=1)))


@pytest.fixture(scope="module")
def leak_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("leak") / "world"
    generate_world(out, LEAK_ORGS, LEAK_SEED)
    return out


def test_events_after_as_of_do_not_change_predictions(leak_world: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated"
    truncate_world(leak_world, truncated, LEAK_AS_OF)
    # The copy really lost the future: otherwise this test could not fail.
    full_rounds = read_text_table(leak_world / "funding_rounds.csv")
    cut_rounds = read_text_table(truncated / "funding_rounds.csv")
    assert after(full_rounds["announced_on"], LEAK_AS_OF.isoformat()).sum() > 100
    assert not after(cut_rounds["announced_on"], LEAK_AS_OF.isoformat()).any()

    full = run_backtest(_settings(tmp_path / "a"), leak_world, LEAK_AS_OF, None, tmp_path / "o1")
    cut = run_backtest(_settings(tmp_path / "b"), truncated, LEAK_AS_OF, None, tmp_path / "o2")

    assert full.snapshot_id != cut.snapshot_id
    assert len(full.predictions) > 50
    assert full.predictions_path.read_bytes() == cut.predictions_path.read_bytes()
    # Same training rows too, and only the full world can grade the ranking.
    assert full.metrics["training"]["rows"] == cut.metrics["training"]["rows"]
    assert full.evaluated and not cut.evaluated
    assert cut.metrics["evaluation"]["available"] is False
    assert "unknown" in cut.metrics["evaluation"]["reason"]


def test_backtest_through_the_command_is_deterministic(
    leak_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = talentmap_app
    app.command("noop")(lambda: None)  # a lone command would become the app itself
    monkeypatch.setenv("TALENTMAP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TALENTMAP_TRAINING__MODEL__NUM_THREADS", "1")
    monkeypatch.setenv("COLUMNS", "200")  # room for the metrics table on one line per scorer
    from talentmap.settings import get_settings

    get_settings.cache_clear()
    try:
        args = ["backtest", "--data", str(leak_world), "--as-of", LEAK_AS_OF.isoformat()]
        first = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "o1")])
        assert first.exit_code == 0, first.output
        assert "logistic regression" in first.output
        again = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "o2")])
        assert again.exit_code == 0, again.output
        refused = CliRunner().invoke(
            app,
            [
                "backtest",
                "--data",
                str(leak_world),
                "--as-of",
                "2031-01-01",
                "--out",
                str(tmp_path / "o3"),
            ],
        )
        assert refused.exit_code == 1 and "after the snapshot" in refused.output
    finally:
        get_settings.cache_clear()
    a = (tmp_path / "o1" / PREDICTIONS_FILE).read_bytes()
    assert a == (tmp_path / "o2" / PREDICTIONS_FILE).read_bytes()
    predictions = pd.read_csv(tmp_path / "o1" / PREDICTIONS_FILE)
    assert list(predictions.columns) == ["org_id", "as_of", "score", "rank"]
    assert predictions["rank"].tolist() == list(range(1, len(predictions) + 1))
    assert predictions["score"].is_monotonic_decreasing
    metrics = json.loads((tmp_path / "o1" / "metrics.json").read_text())
    assert set(metrics["evaluation"]["scorers"]) == {"model", "logistic_regression", "total_raised"}
    # On this small generated world too, the served scorer was chosen on the inner
    # validation, where it is never below the logistic regression, and the table says so.
    selection = metrics["training"]["model"]["selection"]
    assert selection["scores"][selection["name"]] >= selection["scores"]["logistic"]
    assert selection["scores"][selection["name"]] == max(selection["scores"].values())
    assert f"The model serves {selection['name']}" in " ".join(first.output.split())


def test_minimal_directory_and_visibility(leak_world: Path, tmp_path: Path) -> None:
    minimal = tmp_path / "minimal"
    minimal.mkdir()
    for table in MINIMAL_TABLES:
        shutil.copy(leak_world / f"{table}.csv", minimal / f"{table}.csv")
    shutil.copy(leak_world / "dataset.json", minimal / "dataset.json")
    settings = _settings(tmp_path / "home")
    result = run_backtest(settings, minimal, LEAK_AS_OF, 24, tmp_path / "out")

    tables = Lake(settings.lake_dir).load(result.snapshot_id)
    assert sorted(tables) == sorted(MINIMAL_TABLES)
    status = candidate_status(tables, [LEAK_AS_OF], settings.training.rules)
    expected = set(status.loc[status["status"] == "candidate", "org_id"])
    hidden = set(status.loc[status["status"] == "not_visible", "org_id"])
    predicted = set(result.predictions["org_id"])
    # Every candidate is ranked, and nobody else: not-yet-visible companies get no score.
    assert predicted == expected and hidden and not predicted & hidden
    assert result.metrics["candidates"]["left_out_not_visible"] == len(hidden)
    assert result.metrics["training"]["left_out_not_visible"] > 0
    # Strict JSON: no NaN anywhere, families absent from the data stay unknown.
    text = result.metrics_path.read_text()
    assert "NaN" not in text
    assert json.loads(text)["evaluation"]["available"] is True
    assert np.isfinite(result.predictions["score"]).all()


# ------------------------------------------------------------ model quality

E2E_ORGS, E2E_SEED = 10_000, 7


# With the default ModelConfig (small regularised trees, refitted on every training row
# after time-split early stopping; see talentmap.settings.model) this world gives
# AUC-PR 0.276 for the model, 0.253 for the logistic regression, 0.128 for total raised
# and 0.299 for the oracle (issue 13: slices cut by rows, an 8-year history window; cut
# by counts of dates over the whole history it was 0.278 and 0.254). Before that (31
# leaves, trees from the oldest 60% of the dates only) the model lost: 0.170.
# Since the generator no longer draws executives from the eventual milestone (a leak
# the models used) and with headcount growth per year since founding: model 0.203,
# logistic regression 0.183, total raised 0.128; precision@100 0.31 against the
# oracle's 0.41. (Oracle figures here were measured with the path oracle, then written as
# p_true; p_true is now the as-of oracle, see data/GENERATOR.md.)
def test_model_beats_both_baselines_on_auc_pr(tmp_path: Path) -> None:
    world = tmp_path / "world"
    generate_world(world, E2E_ORGS, E2E_SEED)
    result = run_backtest(_settings(tmp_path / "home"), world, E2E_AS_OF, None, tmp_path / "out")
    evaluation = result.metrics["evaluation"]
    assert evaluation["available"] and evaluation["n_positive"] >= 100
    scorers = evaluation["scorers"]
    model = scorers["model"]["auc_pr"]
    assert model > scorers["logistic_regression"]["auc_pr"], scorers
    assert model > scorers["total_raised"]["auc_pr"], scorers

    # The oracle, read by this test only: how much of the knowable signal is found.
    oracle = pd.read_parquet(world / "truth" / "oracle.parquet")
    oracle = oracle.loc[pd.to_datetime(oracle["as_of"]) == pd.Timestamp(E2E_AS_OF)]
    p_true = result.predictions["org_id"].map(oracle.set_index("org_id")["p_true"])
    assert p_true.notna().all()
    assert result.labels is not None
    # predictions.csv is ranked; labels follow the candidates' order: realign by org_id.
    by_org = pd.Series(result.labels, index=result.candidate_ids)
    y = by_org.reindex(result.predictions["org_id"]).to_numpy()
    oracle_p100 = precision_at_k(y, p_true.to_numpy(dtype=float), 100)
    model_p100 = precision_at_k(y, result.predictions["score"].to_numpy(), 100)
    print(f"precision@100 model {model_p100:.3f} oracle {oracle_p100:.3f}")
    for name, report in scorers.items():
        print(f"{name}: AUC-PR {report['auc_pr']:.3f} precision@100 {report['precision@100']:.3f}")
    assert model_p100 > evaluation["base_rate"]
