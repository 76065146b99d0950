"""Ranking metrics against hand computations and scikit-learn."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, ndcg_score, roc_auc_score

from talentmap.training.evaluation.metrics import (
    auc_pr,
    auc_roc,
    brier,
    expected_calibration_error,
    lift_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_report,
    recall_at_k,
    to_jsonable,
    top_k_order,
)

# Ranked by score: rows 3, 0, 5, 1, 4, 2 with labels 1, 1, 0, 0, 1, 0.
Y = np.array([1, 0, 0, 1, 1, 0])
S = np.array([0.8, 0.4, 0.1, 0.9, 0.3, 0.5])


def test_at_k_metrics_by_hand() -> None:
    assert precision_at_k(Y, S, 1) == 1.0
    assert precision_at_k(Y, S, 3) == pytest.approx(2 / 3)
    assert precision_at_k(Y, S, 5) == pytest.approx(3 / 5)
    assert recall_at_k(Y, S, 2) == pytest.approx(2 / 3)
    assert recall_at_k(Y, S, 5) == 1.0
    base_rate = 3 / 6
    assert lift_at_k(Y, S, 3) == pytest.approx((2 / 3) / base_rate)
    dcg = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(6)
    ideal = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(Y, S, 6) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(Y, S, 2) == 1.0


def test_k_larger_than_n_uses_n() -> None:
    assert precision_at_k(Y, S, 500) == pytest.approx(0.5)
    assert recall_at_k(Y, S, 500) == 1.0
    assert lift_at_k(Y, S, 500) == pytest.approx(1.0)
    assert ndcg_at_k(Y, S, 500) == pytest.approx(ndcg_at_k(Y, S, 6))
    with pytest.raises(ValueError):
        precision_at_k(Y, S, 0)


def test_ties_are_broken_by_input_order() -> None:
    y = np.array([0, 1, 0, 1])
    s = np.array([0.5, 0.5, 0.5, 0.5])
    assert top_k_order(s).tolist() == [0, 1, 2, 3]
    assert precision_at_k(y, s, 1) == 0.0
    assert precision_at_k(y[::-1], s, 1) == 1.0
    assert ndcg_at_k(y, s, 2) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    # Many ties across a few score levels: within a level, input order, every time.
    levels = np.random.default_rng(1).integers(0, 3, 1000) / 2.0
    order = top_k_order(levels)
    for level in (1.0, 0.5, 0.0):
        within = order[levels[order] == level]
        assert within.tolist() == sorted(within.tolist())
    assert levels[order].tolist() == sorted(levels.tolist(), reverse=True)


def test_perfect_ranking() -> None:
    y = np.array([0, 1, 0, 1, 1, 0, 0])
    s = y + np.linspace(0.0, 0.1, len(y))
    assert ndcg_at_k(y, s, 3) == 1.0
    assert ndcg_at_k(y, s, 100) == 1.0
    assert auc_roc(y, s) == 1.0
    assert auc_pr(y, s) == 1.0
    assert precision_at_k(y, s, 3) == 1.0
    assert lift_at_k(y, s, 3) == pytest.approx(7 / 3)


def test_against_sklearn_on_random_data() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.1).astype(int)
    s = rng.random(2000) + 0.3 * y  # continuous: no ties
    assert auc_roc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert auc_pr(y, s) == pytest.approx(average_precision_score(y, s))
    for k in (50, 100, 500):
        assert ndcg_at_k(y, s, k) == pytest.approx(ndcg_score([y], [s], k=k))
        top = np.argsort(-s)[:k]
        assert precision_at_k(y, s, k) == pytest.approx(y[top].mean())
        assert lift_at_k(y, s, k) == pytest.approx(y[top].mean() / y.mean())
    assert brier(y, s.clip(0, 1)) == pytest.approx(np.mean((s.clip(0, 1) - y) ** 2))


def test_undefined_metrics_are_nan_not_crashes() -> None:
    y = np.zeros(5, dtype=int)
    s = np.linspace(0.1, 0.5, 5)
    report = ranking_report(y, s, ks=(2,))
    for key in ("auc_roc", "auc_pr", "recall@2", "lift@2", "ndcg@2"):
        assert math.isnan(report[key]), key
    assert report["precision@2"] == 0.0
    assert report["base_rate"] == 0.0
    assert report["brier"] == pytest.approx(np.mean(s**2))
    assert math.isnan(auc_roc(np.ones(3, dtype=int), np.ones(3)))
    empty = ranking_report(np.array([], dtype=int), np.array([]))
    assert empty["n"] == 0 and math.isnan(empty["precision@50"]) and math.isnan(empty["ece"])


def test_brier_and_ece_need_probabilities() -> None:
    y = np.array([0, 1, 1])
    raised = np.array([0.0, 2.5e6, 8e5])  # "total raised so far": a ranking, not a probability
    assert math.isnan(brier(y, raised))
    assert math.isnan(expected_calibration_error(y, raised))
    assert auc_roc(y, raised) == 1.0


def test_ece_by_hand() -> None:
    # Perfectly calibrated bins: 10 rows at 0.2 with 2 positive, 4 rows at 0.75 with 3.
    y = np.array([1, 1] + [0] * 8 + [1, 1, 1, 0])
    p = np.array([0.2] * 10 + [0.75] * 4)
    assert expected_calibration_error(y, p) == pytest.approx(0.0, abs=1e-12)
    assert brier(y, p) == pytest.approx(np.mean((p - y) ** 2))
    # Miscalibrated: bin [0.9, 1.0] predicts 0.95 with 1 of 2 positive, bin [0.1, 0.2)
    # predicts 0.1 with 0 of 2 positive; weights 2/4 each.
    y2 = np.array([1, 0, 0, 0])
    p2 = np.array([0.95, 1.0, 0.1, 0.1])
    assert expected_calibration_error(y2, p2) == pytest.approx(0.5 * (0.975 - 0.5) + 0.5 * 0.1)
    # Bin edges: 0.1 opens the second bin, so [0.05, 0.1] is split into two bins.
    y3 = np.array([1, 0])
    p3 = np.array([0.05, 0.1])
    assert expected_calibration_error(y3, p3) == pytest.approx(0.5 * 0.95 + 0.5 * 0.1)


def test_ece_quantile_bins() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.3, 0.6, 0.8])
    # two equal-frequency bins: {0.1, 0.3} observed 0, {0.6, 0.8} observed 1
    assert expected_calibration_error(y, p, n_bins=2, strategy="quantile") == pytest.approx(
        0.5 * 0.2 + 0.5 * 0.3
    )
    assert expected_calibration_error(y, p, n_bins=1) == pytest.approx(abs(0.5 - 0.45))


def test_report_keys_and_json() -> None:
    report = ranking_report(Y, S)
    expected = {"n", "n_positive", "base_rate", "auc_roc", "auc_pr", "brier", "ece"}
    for k in (50, 100, 500):
        expected |= {f"precision@{k}", f"recall@{k}", f"lift@{k}", f"ndcg@{k}"}
    assert set(report) == expected
    assert report["n"] == 6 and report["n_positive"] == 3 and report["base_rate"] == 0.5
    assert report["precision@50"] == precision_at_k(Y, S, 50)
    text = json.dumps(to_jsonable(ranking_report(np.zeros(3, dtype=int), np.ones(3) / 2)))
    assert "NaN" not in text and '"auc_roc": null' in text


def test_input_validation() -> None:
    with pytest.raises(ValueError):
        auc_roc(np.array([0, 2]), np.array([0.1, 0.2]))
    with pytest.raises(ValueError):
        precision_at_k(np.array([0, 1]), np.array([0.1, np.nan]), 1)
    with pytest.raises(ValueError):
        brier(np.array([0, 1]), np.array([0.1]))
