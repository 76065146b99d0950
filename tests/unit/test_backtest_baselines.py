"""The two baselines: logistic regression on the model's features, and total raised so far."""

from __future__ import annotations

import numpy as np
import pandas as pd
from fixtures.toy_rows import toy_training_rows

from talentmap.training.evaluation.baselines import (
    TOTAL_RAISED_FEATURE,
    fit_logistic_baseline,
    logistic_score,
    total_raised_score,
)
from talentmap.training.evaluation.metrics import auc_roc


def test_total_raised_ranks_by_amount_and_unknown_totals_last() -> None:
    frame = pd.DataFrame({TOTAL_RAISED_FEATURE: [1e6, np.nan, 3e5, 0.0]})
    score = total_raised_score(frame)
    assert score.tolist() == [1e6, 0.0, 3e5, 0.0]
    assert np.isfinite(score).all()


def test_logistic_baseline_learns_the_toy_signal_out_of_time() -> None:
    frame, y, as_of = toy_training_rows(seed=3)
    frame = frame.assign(unknown_family=np.nan)  # a family absent from the data
    categorical = ["region"]
    numeric = [c for c in frame.columns if c not in categorical]
    past = (as_of < as_of.quantile(0.75)).to_numpy()
    pipeline = fit_logistic_baseline(frame[past], y[past], numeric, categorical)
    future = frame[~past].copy()
    future.loc[future.index[:5], "region"] = "Corse"  # a level never seen in training
    score = logistic_score(pipeline, future, numeric, categorical)
    assert score.shape == (len(future),)
    assert ((score > 0) & (score < 1)).all()
    assert auc_roc(y[~past].to_numpy(), score) > 0.75


def test_logistic_baseline_reads_missing_categories_and_an_empty_frame() -> None:
    frame, y, _ = toy_training_rows(seed=4, n_dates=4, per_date=200)
    frame["region"] = frame["region"].where(frame.index % 3 != 0, None)
    pipeline = fit_logistic_baseline(frame, y, ["n_rounds", "noise"], ["region"])
    assert logistic_score(pipeline, frame.iloc[:0], ["n_rounds", "noise"], ["region"]).size == 0
    assert np.isfinite(logistic_score(pipeline, frame, ["n_rounds", "noise"], ["region"])).all()
