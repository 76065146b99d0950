"""Retrain's train step on the slimmed snapshot gives the same run as on the full one.

``talentmap retrain`` lets the full tables go after the feature build and trains on
``snapshot_slim``'s tables (issue 10 §2, memory at one million organisations). On the
small world, with real Feast retrieval from one built store, the backtest at the latest
covered date is run on both: same training rows (sampled by ``training.max_rows``), same
model, byte-identical ``predictions.csv``, ``metrics.json`` and saved model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from talentmap.settings import Settings
from talentmap.settings.model import ModelConfig
from talentmap.settings.training import TrainingConfig
from talentmap.training.evaluation.fairness_audit import audit_groups
from talentmap.training.pipeline.backtest import build_features, load_snapshot, run_backtest
from talentmap.training.pipeline.snapshot_slim import slim_snapshot
from talentmap.training.pipeline.train import latest_covered_as_of

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_the_slim_snapshot_trains_the_same_model(small_world: Path, tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path / "home",
        training=TrainingConfig(model=ModelConfig(num_threads=1), max_rows=1_500),
    )
    snapshot = load_snapshot(settings, small_world)
    store = build_features(settings, snapshot)
    as_of = latest_covered_as_of(snapshot.snapshot_date, settings.training.rules.horizon_months)
    full = run_backtest(
        settings, small_world, as_of, None, tmp_path / "full", snapshot=snapshot, store=store
    )
    slim = run_backtest(
        settings,
        small_world,
        as_of,
        None,
        tmp_path / "slim",
        snapshot=slim_snapshot(snapshot),
        store=store,
    )
    assert full.evaluated and full.sample is not None and full.sample.sampled
    pd.testing.assert_frame_equal(slim.training_rows, full.training_rows, check_exact=True)
    assert slim.sample.to_dict() == full.sample.to_dict()
    assert slim.metrics == full.metrics
    for name, scores in full.scores.items():
        np.testing.assert_array_equal(slim.scores[name], scores, err_msg=name)
    assert _files(slim.out_dir) == _files(full.out_dir)  # predictions, metrics, the model
    pd.testing.assert_frame_equal(
        audit_groups(slim.tables, slim.candidate_ids, slim.as_of),
        audit_groups(full.tables, full.candidate_ids, full.as_of),
    )
