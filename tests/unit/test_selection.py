"""The served scorer is chosen out of time, and never loses to the logistic regression there."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures.toy_rows import toy_training_rows

from talentmap.settings.model import ModelConfig
from talentmap.training.model.estimator import META_FILE, PromiseModel
from talentmap.training.model.explain import contributions
from talentmap.training.model.linear import fit_linear
from talentmap.training.model.selection import (
    BLEND,
    LIGHTGBM,
    LOGISTIC,
    blend_grid,
    mean_date_average_precision,
    select_scorer,
)
from talentmap.training.model.time_split import CALIB

CONFIG = ModelConfig(num_threads=1)
DATES = np.repeat(np.array(["2020-03-31", "2020-06-30"], dtype="datetime64[D]"), 4)


# ------------------------------------------------------------ the criterion


def test_mean_date_average_precision_averages_dates_not_rows() -> None:
    y = np.array([1, 0, 0, 0, 0, 1, 0, 0])
    # Date 1: the positive ranks first (AP 1). Date 2: it ranks second of four (AP 1/2).
    score = np.array([0.9, 0.1, 0.2, 0.3, 0.9, 0.8, 0.1, 0.2])
    assert mean_date_average_precision(y, score, DATES) == pytest.approx(0.75)
    # A date without a positive has no average precision and is left out.
    y_one_date = np.array([1, 0, 0, 0, 0, 0, 0, 0])
    assert mean_date_average_precision(y_one_date, score, DATES) == pytest.approx(1.0)


def test_blend_grid_stays_strictly_between_zero_and_one() -> None:
    assert blend_grid(0.25) == [0.25, 0.5, 0.75]
    assert blend_grid(0.1)[0] == 0.1 and blend_grid(0.1)[-1] == 0.9 and len(blend_grid(0.1)) == 9


# -------------------------------------------------------------- the choice


def _slice(seed: int = 0, n_dates: int = 4, per_date: int = 200):
    rng = np.random.default_rng(seed)
    n = n_dates * per_date
    dates = np.repeat(np.arange(n_dates), per_date)
    signal = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-2 + 2 * signal)))).astype(int)
    return signal, y, dates, rng


def test_a_better_linear_score_is_chosen_and_weighs_the_linear_part_only() -> None:
    signal, y, dates, rng = _slice()
    noise = rng.normal(size=len(y))
    selection = select_scorer({"binary": noise}, signal, y, dates, blend_grid(0.1))
    assert selection.chosen == LOGISTIC
    assert (selection.tree_weight, selection.linear_weight) == (0.0, 1.0)
    assert selection.scores[LOGISTIC] == max(selection.scores.values())


def test_better_trees_are_chosen_with_the_linear_part_weighed_out() -> None:
    signal, y, dates, rng = _slice(1)
    selection = select_scorer(
        {"binary": 3 * signal}, rng.normal(size=len(y)), y, dates, [], (LOGISTIC, LIGHTGBM)
    )
    assert selection.chosen == LIGHTGBM
    assert (selection.tree_weight, selection.linear_weight) == (1.0, 0.0)


def test_a_blend_wins_when_each_part_holds_half_the_signal() -> None:
    rng = np.random.default_rng(2)
    n = 4000
    a, b = rng.normal(size=n), rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-2 + 1.5 * a + 1.5 * b)))).astype(int)
    dates = np.repeat(np.arange(4), n // 4)
    # Trees see a (in units of 5), the linear part sees b: only a blend sees both.
    selection = select_scorer({"binary": 5 * a}, b, y, dates, blend_grid(0.1))
    assert selection.chosen == BLEND
    assert 0.3 <= selection.blend_w <= 0.7
    # The weights put both parts in the trees' units: a blend of z-scores, times sd(trees).
    served = selection.tree_weight * 5 * a + selection.linear_weight * b
    expected = selection.blend_w * (5 * a) / np.std(5 * a) + (1 - selection.blend_w) * b / np.std(b)
    np.testing.assert_allclose(served / np.std(5 * a), expected)


def test_a_tie_keeps_the_logistic_regression() -> None:
    signal, y, dates, _ = _slice(3)
    # The trees rank exactly as the linear part does: same score, so no change is made.
    selection = select_scorer({"binary": 2 * signal + 1}, signal, y, dates, blend_grid(0.5))
    assert selection.chosen == LOGISTIC


def test_no_positive_in_the_slice_serves_the_trees_and_says_why() -> None:
    signal, _, dates, _ = _slice()
    selection = select_scorer({"binary": signal}, signal, np.zeros(len(signal)), dates, [0.5])
    assert selection.chosen == LIGHTGBM
    assert "no positive" in selection.reason


# ------------------------------------------------------ inside the estimator


def _nonlinear_rows(seed: int) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Toy rows whose label rises inside a band of growth: a shape no line can follow."""
    frame, _, as_of = toy_training_rows(seed=seed, n_dates=16, per_date=300)
    rng = np.random.default_rng(seed)
    growth = frame["headcount_growth_12m"].fillna(-9).to_numpy()
    band = (growth > 0.2) & (growth < 0.7)
    logit = -2.8 + 2.5 * band + 0.4 * frame["n_founders_phd"].to_numpy()
    y = pd.Series((rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(np.int64))
    return frame, y, as_of


def _inner_scores(model: PromiseModel, x: pd.DataFrame, y: pd.Series, as_of: pd.Series):
    """The served raw score and a logistic regression's, both out of time, on the calib slice.

    The logistic regression is fitted here from scratch, on the rows before the calib
    slice, exactly as the backtest's baseline would be on these rows.
    """
    slices = model.split_.assign(as_of)
    calib = slices == CALIB
    before = (as_of <= max(model.split_.valid)).to_numpy()
    prepared = model.prepare(x)
    numeric = [c for c in model.feature_names_ if c not in model.categories_]
    logistic = fit_linear(
        prepared[before], y.to_numpy()[before], numeric, model.categorical_features_, CONFIG.seed
    )
    days = as_of.to_numpy()[calib]
    labels = y.to_numpy()[calib]
    return (
        model.selection_.scores[model.selection_.name],
        mean_date_average_precision(labels, logistic.raw(prepared[calib]), days),
    )


@pytest.mark.parametrize(
    ("rows", "seed"),
    [("linear", 3), ("linear", 4), ("nonlinear", 5), ("nonlinear", 6)],
)
def test_the_served_scorer_never_loses_to_the_logistic_regression_inside(rows, seed) -> None:
    x, y, as_of = toy_training_rows(seed=seed) if rows == "linear" else _nonlinear_rows(seed)
    model = PromiseModel(CONFIG).fit(x, y, as_of)
    chosen, logistic = _inner_scores(model, x, y, as_of)
    assert chosen >= logistic - 1e-9
    assert chosen == max(model.selection_.scores.values())
    # The stored logistic score is the independent one: the linear part is that baseline.
    assert model.selection_.scores[LOGISTIC] == pytest.approx(logistic, abs=1e-6)


def test_the_nonlinear_world_is_served_by_trees_and_the_linear_one_is_not() -> None:
    # The choice follows the data: a band of growth needs trees, a line does not.
    nonlinear = PromiseModel(CONFIG).fit(*_nonlinear_rows(5))
    assert nonlinear.selection_.chosen in (LIGHTGBM, BLEND)
    assert nonlinear.selection_.tree_weight > 0
    linear = PromiseModel(CONFIG).fit(*toy_training_rows(seed=3))
    assert linear.selection_.linear_weight > 0


@pytest.mark.parametrize("scorer", ["lightgbm", "logistic", "blend"])
def test_every_scorer_explains_its_own_raw_score(scorer: str, tmp_path: Path) -> None:
    x, y, as_of = toy_training_rows(seed=3)
    model = PromiseModel(CONFIG.model_copy(update={"scorer": scorer})).fit(x, y, as_of)
    assert model.selection_.chosen == scorer
    parts = contributions(model, x.head(200))
    np.testing.assert_allclose(parts.sum(axis=1), model.predict_raw(x.head(200)), atol=1e-8)
    # The signal features carry the explanation, whichever part serves.
    mean_abs = parts.drop(columns="bias").abs().mean()
    assert set(mean_abs.nlargest(2).index) == {"headcount_growth_12m", "n_founders_phd"}
    loaded = PromiseModel.load(model.save(tmp_path / scorer))
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    pd.testing.assert_frame_equal(contributions(loaded, x.head(50)), parts.head(50))


def test_a_model_saved_before_selection_loads_as_trees_only(tmp_path: Path) -> None:
    x, y, as_of = toy_training_rows(seed=3)
    model = PromiseModel(CONFIG.model_copy(update={"scorer": "lightgbm"})).fit(x, y, as_of)
    folder = model.save(tmp_path / "v1")
    meta = json.loads((folder / META_FILE).read_text())
    for key in ("selection", "tree_fits", "linear"):
        meta.pop(key)
    meta["format_version"] = 1
    (folder / META_FILE).write_text(json.dumps(meta))
    loaded = PromiseModel.load(folder)
    assert loaded.selection_.chosen == LIGHTGBM and loaded.linear_ is None
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))


def test_a_ranking_objective_is_tried_and_recorded() -> None:
    x, y, as_of = _nonlinear_rows(7)
    config = CONFIG.model_copy(update={"tree_variants": ("binary", "rank_xendcg")})
    model = PromiseModel(config).fit(x, y, as_of)
    assert set(model.tree_fits_) == {"binary", "rank_xendcg"}
    assert any(name.startswith("lightgbm[rank_xendcg]") for name in model.selection_.scores)
    assert model.selection_.scores[model.selection_.name] == max(model.selection_.scores.values())


def test_monotone_trees_never_lower_the_score_when_a_good_thing_grows() -> None:
    x, y, as_of = _nonlinear_rows(8)
    config = CONFIG.model_copy(update={"tree_variants": ("binary_monotone",), "scorer": "lightgbm"})
    # Declared decreasing on purpose: the constraint must hold even against the data.
    model = PromiseModel(config, monotone={"n_founders_phd": -1, "region": 1}).fit(x, y, as_of)
    assert model.monotone_[list(model.feature_names_).index("region")] == 0  # text: free
    probe = x.head(300)
    raws = [model.predict_raw(probe.assign(n_founders_phd=float(v))) for v in (0, 1, 2, 5)]
    assert all((later <= earlier + 1e-12).all() for earlier, later in itertools.pairwise(raws))
    free = PromiseModel(config.model_copy(update={"tree_variants": ("binary",)})).fit(x, y, as_of)
    lifted = free.predict_raw(probe.assign(n_founders_phd=2.0)) - free.predict_raw(
        probe.assign(n_founders_phd=0.0)
    )
    assert (lifted > 0).mean() > 0.5  # unconstrained, the data says PhDs help


def test_the_catalogue_declares_directions_only_for_model_features() -> None:
    from talentmap.features.catalog import MONOTONE_INCREASING
    from talentmap.training.pipeline.backtest import feature_names

    assert set(MONOTONE_INCREASING) <= set(feature_names())


def test_the_judged_models_learn_only_from_label_windows_closed_before_the_slice() -> None:
    x, y, as_of = toy_training_rows(seed=3)
    model = PromiseModel(CONFIG, label_horizon_months=12).fit(x, y, as_of)
    first_calib = pd.Timestamp(min(model.split_.calib))
    closed = (as_of + pd.DateOffset(months=12)) <= first_calib
    assert model.selection_.windows_closed
    assert model.selection_.models_rows == int(closed.sum())
    # Without a horizon nothing is purged: every row before the calib slice teaches them.
    loose = PromiseModel(CONFIG).fit(x, y, as_of)
    assert not loose.selection_.windows_closed
    assert loose.selection_.models_rows == int((as_of <= max(loose.split_.valid)).sum())
    assert loose.selection_.models_rows > model.selection_.models_rows
