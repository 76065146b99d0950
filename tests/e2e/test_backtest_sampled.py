"""Point in time with ``training.max_rows``: a sampled backtest ignores the future too.

The rows are sampled before retrieval, with class rates counted on the training rows;
deleting every event after --as-of must leave the sample, and so ``predictions.csv``,
byte-identical (as ``test_backtest.py`` checks without a sample).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from truncation import truncate_world

from talentmap.generate.world import generate_world
from talentmap.settings import Settings
from talentmap.settings.model import ModelConfig
from talentmap.settings.training import TrainingConfig
from talentmap.training.pipeline.backtest import run_backtest

pytestmark = pytest.mark.e2e

ORGS, SEED, AS_OF = 800, 5, date(2021, 6, 30)
CAP = 1_000


def _settings(home: Path) -> Settings:
    model = ModelConfig(num_threads=1)
    return Settings(home=home, training=TrainingConfig(model=model, max_rows=CAP))


def test_a_sampled_backtest_does_not_see_the_future(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    world = tmp_path_factory.mktemp("sampled") / "world"
    generate_world(world, ORGS, SEED)
    truncated = tmp_path / "truncated"
    truncate_world(world, truncated, AS_OF)

    full = run_backtest(_settings(tmp_path / "a"), world, AS_OF, None, tmp_path / "o1")
    cut = run_backtest(_settings(tmp_path / "b"), truncated, AS_OF, None, tmp_path / "o2")

    sample = full.metrics["training"]["sample"]
    assert sample["sampled"] is True and sample["rows"] > CAP
    assert sample == cut.metrics["training"]["sample"]
    assert full.snapshot_id != cut.snapshot_id
    assert full.predictions_path.read_bytes() == cut.predictions_path.read_bytes()
    # The sampled model learnt from weights that restore the rows' base rate.
    assert full.model.base_rates_["train"] < sample["kept_positives"] / sample["kept_rows"]
