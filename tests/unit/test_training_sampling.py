"""``training.max_rows``: the weighted, reproducible sample of the training rows (issue 10)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from talentmap.settings.model import ModelConfig
from talentmap.training.model.calibration import fit_calibrator
from talentmap.training.model.estimator import PromiseModel
from talentmap.training.model.selection import mean_date_average_precision
from talentmap.training.pipeline.sampling import (
    WEIGHT,
    class_rates,
    sample_training_rows,
    weighted_base_rate,
)


def _rows(n_orgs: int = 3000, n_dates: int = 8, seed: int = 0) -> pd.DataFrame:
    """Rows at quarterly dates; a base rate that differs by date (5% to 19%)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2015-03-31", periods=n_dates, freq="QE")
    frames = []
    for i, when in enumerate(dates):
        present = rng.random(n_orgs) < 0.6 + 0.04 * i
        orgs = np.array([f"org-{k:05d}" for k in range(n_orgs)])[present]
        frames.append(
            pd.DataFrame(
                {
                    "org_id": orgs,
                    "as_of": when,
                    "label": (rng.random(len(orgs)) < 0.05 + 0.02 * i).astype(np.int64),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_under_the_cap_every_row_is_kept_with_weight_one() -> None:
    rows = _rows()
    kept, sample = sample_training_rows(rows, len(rows), seed=1)
    assert not sample.sampled
    assert kept[["org_id", "as_of", "label"]].equals(rows)
    assert (kept[WEIGHT] == 1.0).all()


def test_sample_is_capped_and_keeps_every_positive() -> None:
    rows = _rows()
    cap = 3 * int(rows["label"].sum())  # positives fill a third of it
    assert cap < len(rows)
    kept, sample = sample_training_rows(rows, cap, seed=1)
    assert sample.sampled
    positives = rows.loc[rows["label"] == 1, ["org_id", "as_of"]]
    kept_positives = kept.loc[kept["label"] == 1, ["org_id", "as_of"]]
    assert len(kept_positives) == len(positives) == sample.kept_positives
    assert set(map(tuple, kept_positives.to_numpy())) == set(map(tuple, positives.to_numpy()))
    assert (kept.loc[kept["label"] == 1, WEIGHT] == 1.0).all()
    # At most one extra row per (date, class) stratum from rounding up.
    assert len(kept) <= cap + 2 * rows["as_of"].nunique()
    assert (kept.loc[kept["label"] == 0, WEIGHT] > 1.0).all()


def test_weights_restore_every_dates_count_and_base_rate() -> None:
    rows = _rows()
    kept, _ = sample_training_rows(rows, len(rows) // 5, seed=3)
    full = rows.groupby("as_of")["label"].agg(["size", "sum"])
    weighted = kept.assign(wy=kept[WEIGHT] * kept["label"]).groupby("as_of")[[WEIGHT, "wy"]].sum()
    assert np.allclose(weighted[WEIGHT], full["size"])
    assert np.allclose(weighted["wy"], full["sum"])
    # The sampled rows' raw base rate is far above the truth; the weights bring it back.
    assert kept["label"].mean() > 1.5 * rows["label"].mean()
    assert weighted_base_rate(kept) == pytest.approx(rows["label"].mean(), rel=1e-9)


def test_the_sample_is_reproducible_and_does_not_depend_on_row_order() -> None:
    rows = _rows()
    cap = len(rows) // 3
    first, _ = sample_training_rows(rows, cap, seed=7)
    again, _ = sample_training_rows(rows, cap, seed=7)
    shuffled, _ = sample_training_rows(rows.sample(frac=1.0, random_state=5), cap, seed=7)
    other, _ = sample_training_rows(rows, cap, seed=8)

    def keys(frame: pd.DataFrame) -> set[tuple[str, pd.Timestamp, float]]:
        return set(zip(frame["org_id"], frame["as_of"], frame[WEIGHT], strict=True))

    assert first.equals(again)
    assert keys(first) == keys(shuffled)
    assert keys(first) != keys(other)  # the seed draws another sample


def test_the_sample_keeps_the_rows_order_and_draws_only_given_rows() -> None:
    """Point in time: nothing but the rows given (all dated on or before the cut) is kept."""
    rows = _rows()
    cut = rows["as_of"].max()
    kept, _ = sample_training_rows(rows, len(rows) // 4, seed=2)
    assert kept.index.is_monotonic_increasing
    assert kept.index.isin(rows.index).all()
    assert kept[["org_id", "as_of", "label"]].equals(rows.loc[kept.index])
    assert (kept["as_of"] <= cut).all()


def test_an_earlier_date_is_drawn_the_same_whatever_later_dates_hold() -> None:
    """With the same class rates, a date's draw reads that date's rows only."""
    rows = _rows()
    early = rows["as_of"] <= rows["as_of"].sort_values().unique()[3]
    a, _ = sample_training_rows(rows, len(rows) // 4, seed=4)
    changed = rows.copy()
    later = ~early
    changed.loc[later, "org_id"] = changed.loc[later, "org_id"] + "-renamed"
    b, _ = sample_training_rows(changed, len(rows) // 4, seed=4)
    assert a.loc[a["as_of"].isin(rows.loc[early, "as_of"])].equals(
        b.loc[b["as_of"].isin(rows.loc[early, "as_of"])]
    )


def test_too_many_positives_share_the_cap_half_and_half() -> None:
    assert class_rates(10, 90, 200) == (1.0, 1.0)
    pos, neg = class_rates(600, 1400, 400)
    assert pos * 600 == pytest.approx(200)
    assert neg * 1400 == pytest.approx(200)
    pos, neg = class_rates(100, 1900, 400)
    assert pos == 1.0
    assert neg * 1900 == pytest.approx(300)


def test_weighted_criterion_and_calibration_match_the_full_rows() -> None:
    """Rows duplicated k times and one copy weighing k give the same numbers."""
    rng = np.random.default_rng(0)
    n = 400
    y = (rng.random(n) < 0.2).astype(np.int64)
    score = y + rng.normal(size=n)
    dates = np.repeat(np.array(["2020-03-31", "2020-06-30"], dtype="datetime64[D]"), n // 2)
    w = np.where(y == 1, 1.0, 3.0)
    repeat = w.astype(int)
    full = mean_date_average_precision(
        np.repeat(y, repeat), np.repeat(score, repeat), np.repeat(dates, repeat)
    )
    assert mean_date_average_precision(y, score, dates, w) == pytest.approx(full, rel=1e-9)
    weighted = fit_calibrator("sigmoid", score, y, w)
    expanded = fit_calibrator("sigmoid", np.repeat(score, repeat), np.repeat(y, repeat))
    assert weighted.params["a"] == pytest.approx(expanded.params["a"], rel=1e-4)
    assert weighted.params["b"] == pytest.approx(expanded.params["b"], rel=1e-4)


def _world(n: int = 6000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, pd.Series]:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2014-03-31", periods=12, freq="QE")
    as_of = pd.Series(np.sort(rng.choice(dates, size=n)))
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    logit = -2.2 + 1.2 * frame["a"] + 0.6 * frame["b"] ** 2
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return frame, y, as_of


def test_a_weighted_fit_keeps_the_base_rates_of_the_full_rows() -> None:
    frame, y, as_of = _world()
    rows = pd.DataFrame({"org_id": [f"o{i}" for i in range(len(y))], "as_of": as_of, "label": y})
    kept, sample = sample_training_rows(rows, len(rows) // 2, seed=1)
    config = ModelConfig(min_child_samples=50, n_estimators=200, tree_variants=("binary",))
    model = PromiseModel(config=config).fit(
        frame.loc[kept.index].reset_index(drop=True),
        kept["label"].to_numpy(),
        kept["as_of"].reset_index(drop=True),
        sample_weight=kept[WEIGHT].to_numpy(),
    )
    unweighted = PromiseModel(config=config).fit(
        frame.loc[kept.index].reset_index(drop=True),
        kept["label"].to_numpy(),
        kept["as_of"].reset_index(drop=True),
    )
    truth = float(y.mean())
    mean_weighted = float(model.predict_proba(frame)[:, 1].mean())
    mean_unweighted = float(unweighted.predict_proba(frame)[:, 1].mean())
    assert sample.sampled
    # The weights bring the calibrated probabilities back to the full rows' base rate.
    assert abs(mean_weighted - truth) < 0.02
    assert abs(mean_unweighted - truth) > 2 * abs(mean_weighted - truth)
    # The selection guarantee holds under weights: never below the logistic regression.
    scores = model.selection_.scores
    assert max(scores.values()) == pytest.approx(scores[model.selection_.name])
    assert scores[model.selection_.name] >= scores["logistic"]


def test_weights_must_be_positive_and_aligned() -> None:
    frame, y, as_of = _world(2000)
    config = ModelConfig(min_child_samples=50, n_estimators=50, tree_variants=("binary",))
    with pytest.raises(ValueError, match="shape"):
        PromiseModel(config=config).fit(frame, y, as_of, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="> 0"):
        PromiseModel(config=config).fit(frame, y, as_of, sample_weight=np.zeros(len(y)))
