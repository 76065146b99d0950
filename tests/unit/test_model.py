"""The promise estimator on synthetic rows with a known answer (no Feast, no world)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures.toy_rows import toy_training_rows
from scipy.special import expit

from talentmap.settings.model import ModelConfig
from talentmap.training.evaluation.metrics import auc_pr, auc_roc, brier
from talentmap.training.model.estimator import PromiseModel
from talentmap.training.model.time_split import CALIB, PURGED, TRAIN, VALID, time_split

N_FIT_DATES = 20  # the last 4 of the 24 toy dates are the held-out future
# One thread: on a busy 2-core runner, OpenMP spin-waiting makes 2 threads ~40x slower
# on rows this small. Thread count does not change the model (deterministic=True).
CONFIG = ModelConfig(num_threads=1)


@pytest.fixture(scope="module")
def rows() -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    return toy_training_rows(seed=3)


@pytest.fixture(scope="module")
def fit_mask(rows: tuple[pd.DataFrame, pd.Series, pd.Series]) -> np.ndarray:
    as_of = rows[2]
    return (as_of < sorted(as_of.unique())[N_FIT_DATES]).to_numpy()


@pytest.fixture(scope="module")
def model(rows, fit_mask) -> PromiseModel:
    x, y, as_of = rows
    return PromiseModel(CONFIG).fit(x[fit_mask], y[fit_mask], as_of[fit_mask])


def test_beats_the_base_rate_on_later_dates(rows, fit_mask, model: PromiseModel) -> None:
    x, y, _ = rows
    future = ~fit_mask
    score = model.predict_proba(x[future])[:, 1]
    base_rate = y[future].mean()
    assert 0.05 < base_rate < 0.35
    assert auc_pr(y[future], score) > 2 * base_rate
    assert auc_roc(y[future], score) > 0.75
    # The two signal features carry the model; the pure-noise column does not.
    top_two = set(model.feature_importance().index[:2])
    assert top_two == {"headcount_growth_12m", "n_founders_phd"}


def test_slices_follow_each_other_in_time(rows, fit_mask, model: PromiseModel) -> None:
    split = model.split_
    assert (len(split.train), len(split.valid), len(split.calib)) == (12, 4, 4)
    assert max(split.train) < min(split.valid)
    assert max(split.valid) < min(split.calib)
    slices = split.assign(rows[2][fit_mask])
    assert model.rows_ == {name: int((slices == name).sum()) for name in (TRAIN, VALID, CALIB)}
    assert model.rows_[VALID] > 0


def test_early_stopping_watches_the_validation_slice(model: PromiseModel) -> None:
    config = CONFIG
    assert model.best_iteration_ < config.n_estimators
    assert model.booster_.num_trees() == model.best_iteration_
    # Training went exactly early_stopping_rounds past the best validation score.
    curve = model.validation_curve_
    assert len(curve) == model.best_iteration_ + config.early_stopping_rounds
    lower_is_better = config.early_stopping_metric == "binary_logloss"
    assert model.best_score_ == (min(curve) if lower_is_better else max(curve))


def test_weighted_log_loss_early_stopping_scores_the_weighted_objective(rows, fit_mask) -> None:
    # An unweighted valid log-loss sees only the class weight's shift of the raw scores
    # and stopped at round 1; weighted like the training rows, it follows the ranking.
    x, y, as_of = rows[0][fit_mask], rows[1][fit_mask], rows[2][fit_mask]
    config = CONFIG.model_copy(
        update={"scale_pos_weight": "auto", "early_stopping_metric": "binary_logloss"}
    )
    weighted = PromiseModel(config).fit(x, y, as_of)
    assert weighted.scale_pos_weight_ > 2
    assert weighted.best_iteration_ > 10


def test_refit_learns_from_every_row_and_calibrates_out_of_time(rows, fit_mask, model) -> None:
    x, y, as_of = rows[0][fit_mask], rows[1][fit_mask], rows[2][fit_mask]
    assert CONFIG.refit == "all"
    assert model.trees_rows_ == len(x)
    before = PromiseModel(CONFIG.model_copy(update={"refit": "before_calib"})).fit(x, y, as_of)
    only_train = PromiseModel(CONFIG.model_copy(update={"refit": "none"})).fit(x, y, as_of)
    slices = model.split_.assign(as_of)
    assert before.trees_rows_ == int((slices != CALIB).sum())
    assert only_train.trees_rows_ == model.rows_[TRAIN]
    # Early stopping is the same fit in all three: the round count comes from trees of
    # the train slice judged on the valid slice, whatever happens after.
    assert before.best_iteration_ == only_train.best_iteration_ == model.best_iteration_
    assert model.booster_.num_trees() == before.booster_.num_trees() == model.best_iteration_
    # "all" keeps the calibration map of the trees that never saw the calib slice ...
    assert model.calibrator_ == before.calibrator_
    # ... while its own trees did learn from it.
    calib = slices == CALIB
    assert not np.array_equal(model.predict_raw(x[calib]), before.predict_raw(x[calib]))


def test_round_count_ignores_the_calib_slice(rows, fit_mask, model) -> None:
    x, y, as_of = rows[0][fit_mask], rows[1][fit_mask], rows[2][fit_mask]
    calib = model.split_.assign(as_of) == CALIB
    flipped = PromiseModel(CONFIG).fit(x, y.where(~calib, 1 - y), as_of)
    assert flipped.best_iteration_ == model.best_iteration_
    assert flipped.validation_curve_ == model.validation_curve_
    assert flipped.calibrator_ != model.calibrator_


def test_purge_drops_dates_between_slices() -> None:
    as_of = pd.Series(pd.date_range("2020-03-31", periods=10, freq="QE"))
    split = time_split(as_of, 0.2, 0.2, purge_dates=1)
    assert (len(split.train), len(split.valid), len(split.calib), len(split.purged)) == (
        4,
        2,
        2,
        2,
    )
    assert max(split.train) < min(split.purged) < min(split.valid)
    assert max(split.valid) < max(split.purged) < min(split.calib)
    assert (split.assign(as_of) == PURGED).sum() == 2
    with pytest.raises(ValueError, match="at least one training date"):
        time_split(as_of[:3], 0.2, 0.2, purge_dates=1)


def test_split_holds_the_row_fractions_on_date_boundaries() -> None:
    """Issue 13: rows pile up in recent dates, so the slices are cut by rows, each boundary
    on the date boundary nearest its target, never inside a date and never at random."""
    rng = np.random.default_rng(5)
    for trial in range(60):
        n_dates = int(rng.integers(8, 60))
        growth = np.linspace(1.0, rng.uniform(1.0, 25.0), n_dates)
        counts = (rng.integers(1, 40, n_dates) * growth).astype(int) + 1
        dates = pd.date_range("2010-03-31", periods=n_dates, freq="QE")
        # Shuffled rows: the split must depend on the dates only, not on the row order.
        as_of = pd.Series(np.repeat(dates, counts)).sample(frac=1.0, random_state=trial)
        valid_fraction, calib_fraction = rng.choice([0.1, 0.2, 0.25]), rng.choice([0.1, 0.2])
        split = time_split(as_of, valid_fraction, calib_fraction)
        slices = pd.Series(split.assign(as_of), index=as_of.index)
        assert (slices.groupby(as_of).nunique() == 1).all(), "a date was split across slices"
        assert max(split.train) < min(split.valid) and max(split.valid) < min(split.calib)
        assert set(split.train + split.valid + split.calib) == set(dates)
        share = slices.value_counts(normalize=True)
        # Tolerance: a boundary misses its target by at most half the rows of one date,
        # unless a single date already holds more than the target (a slice gets one date).
        tolerance = counts.max() / counts.sum() / 2 + 1e-12
        for name, target in ((CALIB, calib_fraction), (VALID, valid_fraction)):
            one_big_date = len(getattr(split, name)) == 1 and share[name] > target
            assert abs(share[name] - target) <= tolerance or one_big_date, (trial, share)


def test_split_by_rows_gives_the_train_slice_its_share_where_dates_pile_up() -> None:
    # 38 quarterly dates growing from 100 to 2,500 rows, as on the generated worlds: cut
    # by counts of dates, training got the oldest 60% of the dates but only ~38% of rows.
    dates = pd.date_range("2012-03-31", periods=38, freq="QE")
    as_of = pd.Series(np.repeat(dates, np.linspace(100, 2500, 38).astype(int)))
    share = pd.Series(time_split(as_of, 0.2, 0.2).assign(as_of)).value_counts(normalize=True)
    assert share[TRAIN] == pytest.approx(0.6, abs=0.03)
    assert share[VALID] == pytest.approx(0.2, abs=0.03)
    assert share[CALIB] == pytest.approx(0.2, abs=0.03)


def test_probabilities_are_calibrated_on_the_later_slice(rows, fit_mask) -> None:
    x, y, as_of = rows
    # The trees alone: the class weight shifts their raw scores, not the linear part's.
    config = CONFIG.model_copy(update={"scale_pos_weight": "auto", "scorer": "lightgbm"})
    model = PromiseModel(config).fit(x[fit_mask], y[fit_mask], as_of[fit_mask])
    proba = model.predict_proba(x)
    assert proba.shape == (len(x), 2)
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # The class weight inflates the raw probabilities; calibration brings them back.
    assert model.scale_pos_weight_ > 2
    calib = model.split_.assign(as_of) == CALIB
    future = ~fit_mask
    for rows_ in (calib, future):
        raw = expit(model.predict_raw(x[rows_]))
        assert brier(y[rows_], proba[rows_, 1]) < brier(y[rows_], raw)
    assert abs(proba[future, 1].mean() - y[future].mean()) < 0.05


def test_isotonic_calibration_keeps_or_improves_brier(rows, fit_mask) -> None:
    x, y, as_of = rows[0][fit_mask], rows[1][fit_mask], rows[2][fit_mask]
    model = PromiseModel(CONFIG.model_copy(update={"calibration_method": "isotonic"})).fit(
        x, y, as_of
    )
    calib = model.split_.assign(as_of) == CALIB
    proba = model.predict_proba(x[calib])[:, 1]
    assert ((proba >= 0) & (proba <= 1)).all()
    assert brier(y[calib], proba) <= brier(y[calib], expit(model.predict_raw(x[calib])))


def test_categories_are_fixed_at_fit_time(rows, model: PromiseModel) -> None:
    x = rows[0].head(50).copy()
    assert model.categorical_features_ == ["region"]
    assert model.categories_["region"] == sorted(x["region"].dropna().unique())
    unseen = x.assign(region="Atlantis")
    unknown = x.assign(region=None)
    np.testing.assert_array_equal(model.predict_raw(unseen), model.predict_raw(unknown))
    assert model.prepare(unseen)["region"].isna().all()
    # Category order in the request does not matter: codes come from the fitted vocabulary.
    as_category = x.assign(
        region=x["region"].astype(pd.CategoricalDtype(["Normandie", "Bretagne"]))
    )
    same = x.assign(region=x["region"].where(x["region"].isin(["Normandie", "Bretagne"])))
    np.testing.assert_array_equal(model.predict_raw(as_category), model.predict_raw(same))


def test_missing_values_stay_missing(rows, model: PromiseModel) -> None:
    x = rows[0].head(200).copy()
    x["n_rounds"] = pd.array([pd.NA, *range(199)], dtype="Int64")
    prepared = model.prepare(x)
    for column in model.feature_names_:
        assert prepared[column].isna().sum() == x[column].isna().sum(), column
    assert np.isnan(prepared["n_rounds"].iloc[0])


def test_columns_are_read_by_name(rows, model: PromiseModel) -> None:
    x = rows[0].head(100)
    shuffled = x[list(reversed(x.columns))].assign(org_id="o1")
    np.testing.assert_array_equal(model.predict_proba(shuffled), model.predict_proba(x))
    with pytest.raises(KeyError, match="noise"):
        model.predict_proba(x.drop(columns="noise"))


def test_save_and_load_give_identical_predictions(rows, model, tmp_path: Path) -> None:
    x = rows[0]
    loaded = PromiseModel.load(model.save(tmp_path / "model"))
    np.testing.assert_array_equal(loaded.predict_raw(x), model.predict_raw(x))
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    assert loaded.metadata() == model.metadata()
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "booster.txt",
        "promise_model.json",
    ]
    unpickled = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(unpickled.predict_proba(x), model.predict_proba(x))


def test_same_seed_same_model(rows, fit_mask, model: PromiseModel) -> None:
    x, y, as_of = rows
    again = PromiseModel(CONFIG).fit(x[fit_mask], y[fit_mask], as_of[fit_mask])
    np.testing.assert_array_equal(again.predict_proba(x), model.predict_proba(x))


def test_refuses_protected_attributes_and_bad_labels(rows) -> None:
    x, y, as_of = rows
    with pytest.raises(ValueError, match="protected"):
        PromiseModel(CONFIG).fit(x.assign(founder_gender="F"), y, as_of)
    with pytest.raises(ValueError, match="only 0 and 1"):
        PromiseModel(CONFIG).fit(x, y.astype(float).where(y.index > 0), as_of)
    with pytest.raises(ValueError, match="absolute dates"):
        PromiseModel(CONFIG).fit(x.assign(as_of=as_of), y, as_of)


def test_refuses_a_validation_slice_without_positives(rows) -> None:
    x, y, as_of = rows
    late = (as_of >= sorted(as_of.unique())[14]).to_numpy()
    with pytest.raises(ValueError, match="valid slice holds a single class"):
        PromiseModel(CONFIG).fit(x, y.where(~late, 0), as_of)


def test_an_all_missing_family_stays_unknown(rows, fit_mask) -> None:
    # An absent source table reaches the model as all-NaN columns, never as zeros.
    x, y, as_of = rows[0][fit_mask], rows[1][fit_mask], rows[2][fit_mask]
    x = x.assign(sector=None, amount_total_eur=np.nan)
    config = CONFIG.model_copy(update={"calibration_method": "none", "calib_fraction": 0.0})
    model = PromiseModel(config).fit(x, y, as_of)
    assert model.categorical_features_ == ["region", "sector"]
    assert model.categories_["sector"] == []
    importance = model.feature_importance("split")
    assert importance["sector"] == importance["amount_total_eur"] == 0
    assert model.rows_[CALIB] == 0 and model.base_rates_[CALIB] is None
    # Without calibration, probabilities are the booster's own.
    np.testing.assert_allclose(model.predict_proba(x)[:, 1], expit(model.predict_raw(x)))
