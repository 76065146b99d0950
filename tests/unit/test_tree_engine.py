"""The tree engines' shared rules, without a cluster (``training.engine``, issue 10 §3).

The Dask engine cannot use LightGBM's early-stopping callback; it picks the round from a
validation curve it computes itself on every valid row. Both halves are checked here
against LightGBM's own early stop on the same rows: the curve (same values) and the rule
(same round). The Dask fit itself runs in ``tests/e2e/test_dask_training.py``.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from fixtures.toy_rows import toy_training_rows

from talentmap.settings.engine import DaskConfig
from talentmap.settings.model import ModelConfig
from talentmap.settings.training import TrainingConfig
from talentmap.training.model import trees
from talentmap.training.model.estimator import PromiseModel
from talentmap.training.model.time_split import TRAIN, VALID, as_of_days, time_split
from talentmap.training.model.tree_engine import LOCAL, open_tree_engine
from talentmap.training.model.trees_dask import best_round, validation_curve


@pytest.fixture(scope="module")
def slices() -> tuple[trees.TreeRows, trees.TreeRows]:
    x, y, as_of = toy_training_rows(seed=3)
    model = PromiseModel(ModelConfig(num_threads=1))
    model._learn_schema(x)
    prepared = model.prepare(x)
    config = ModelConfig()
    split = time_split(as_of, config.valid_fraction, config.calib_fraction, config.purge_dates)
    assigned = split.assign(as_of)
    every = trees.TreeRows(prepared, y.to_numpy(), as_of_days(as_of).to_numpy())
    return every.subset(assigned == TRAIN), every.subset(assigned == VALID)


@pytest.mark.parametrize(
    ("metric", "pos_weight"),
    [("binary_logloss", 1.0), ("binary_logloss", 2.0), ("auc", 1.0), ("average_precision", 1.0)],
)
def test_the_curve_and_the_round_are_lightgbms_own(slices, metric: str, pos_weight: float) -> None:
    train, valid = slices
    config = ModelConfig(
        num_threads=1,
        early_stopping_metric=metric,
        n_estimators=400,
        early_stopping_rounds=20,
        scale_pos_weight=pos_weight,
    )
    # LightGBM's own early stop, its booster kept uncut (every round it trained).
    p = trees.params(config, trees.BINARY, pos_weight)
    train_set = trees.dataset(train, trees.BINARY, ())
    weighted = metric == "binary_logloss" and pos_weight != 1
    weight = np.where(valid.y == 1, pos_weight, 1.0) if weighted else None
    valid_set = trees.dataset(valid, trees.BINARY, (), weight, reference=train_set)
    history: dict[str, dict[str, list[float]]] = {}
    booster = lgb.train(
        p,
        train_set,
        num_boost_round=config.n_estimators,
        valid_sets=[valid_set],
        valid_names=["valid"],
        keep_training_booster=True,  # else the booster is cut at its best round
        callbacks=[
            lgb.early_stopping(config.early_stopping_rounds, first_metric_only=True, verbose=False),
            lgb.record_evaluation(history),
        ],
    )
    recorded = history["valid"][metric]
    # A round that finds no split adds no tree but records a point; these rows make none
    # (the curve is per tree, as the cut ``model_to_string(num_iteration=...)`` counts).
    assert booster.num_trees() == len(recorded)
    curve = validation_curve(booster, valid, metric, weight, config.early_stopping_rounds)
    assert len(curve) == len(recorded)  # stopped where LightGBM stopped
    np.testing.assert_allclose(curve, recorded, rtol=1e-6, atol=1e-9)
    higher = metric != "binary_logloss"
    assert best_round(curve, higher, config.early_stopping_rounds) == booster.best_iteration


def test_best_round_follows_lightgbms_rule() -> None:
    # Strict improvement only; stop looking once `patience` rounds bring none.
    assert best_round([0.5, 0.4, 0.4, 0.3], higher_is_better=False, patience=5) == 4
    assert best_round([0.5, 0.4, 0.45, 0.46, 0.1], higher_is_better=False, patience=2) == 2
    assert best_round([0.1, 0.3, 0.3, 0.2], higher_is_better=True, patience=5) == 2
    with pytest.raises(ValueError, match="empty"):
        best_round([], higher_is_better=True, patience=1)


def test_the_local_engine_is_the_default() -> None:
    assert TrainingConfig().engine == "local"
    with open_tree_engine(TrainingConfig()) as engine:
        assert engine is LOCAL


def test_the_engine_setting_is_checked() -> None:
    with pytest.raises(ValueError, match="engine"):
        TrainingConfig(engine="spark")  # type: ignore[arg-type]
    assert DaskConfig().scheduler_address == ""  # empty: a LocalCluster for the fit


def test_ranking_objectives_are_refused_on_dask(slices) -> None:
    from talentmap.training.model.trees_dask import DaskTrees

    train, valid = slices
    engine = DaskTrees(client=None)
    with pytest.raises(ValueError, match=r"rank_xendcg.*training\.engine = 'local'"):
        engine.early_stopped(ModelConfig(), "rank_xendcg", train, valid, (), 1.0)
