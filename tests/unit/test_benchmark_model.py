"""The pure parts of ``benchmarks/model.py``: seeds, the oracle join, the scoring, the summary.

Tiny hand-made frames with values worked out by hand, so every assertion can fail.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

# benchmarks/ is a top-level folder of the checkout, not part of the installed package.
sys.path.insert(0, str(Path(__file__).parents[2]))

from benchmarks.model import (
    compare_scorers,
    join_oracle,
    oracle_at,
    ratio,
    selection_of,
    summarise,
    world_seeds,
)


def test_bench_world_seeds_are_disjoint_per_size() -> None:
    assert world_seeds([3000, 10000], 4) == [
        (3000, 9101),
        (3000, 9102),
        (3000, 9103),
        (3000, 9104),
        (10000, 9201),
        (10000, 9202),
        (10000, 9203),
        (10000, 9204),
    ]
    with pytest.raises(ValueError):
        world_seeds([3000, 10000], 101)


def test_bench_oracle_at_picks_the_date_and_the_first_row_per_org() -> None:
    oracle = pd.DataFrame(
        {
            "org_id": ["a", "b", "a", "c", "b"],
            "as_of": pd.to_datetime(
                ["2023-12-31", "2023-12-31", "2023-11-30", "2023-11-30", "2023-12-31"]
            ).date,
            "p_true": np.array([0.1, 0.2, 0.9, 0.8, 0.7], dtype=np.float32),
        }
    )
    at = oracle_at(oracle, "2023-12-31")
    assert list(at.index) == ["a", "b"]
    np.testing.assert_allclose(at.to_numpy(), [0.1, 0.2], rtol=1e-6)
    assert oracle_at(oracle, "2023-10-31").empty


def test_bench_join_oracle_aligns_by_org_and_leaves_gaps_nan() -> None:
    p_true = pd.Series([0.1, 0.2], index=["a", "b"])
    joined = join_oracle(np.array(["b", "x", "a"], dtype=object), p_true)
    assert joined[0] == pytest.approx(0.2)
    assert np.isnan(joined[1])
    assert joined[2] == pytest.approx(0.1)


def test_bench_ratio_is_none_when_undefined() -> None:
    assert ratio(0.3, 0.6) == pytest.approx(0.5)
    assert ratio(0.3, 0.0) is None
    assert ratio(None, 0.5) is None
    assert ratio(float("nan"), 0.5) is None


def test_bench_compare_scorers_uses_only_oracle_covered_rows() -> None:
    # Six candidates; the oracle misses the last two (the served model's best and a
    # positive), so every scorer is judged on the first four rows only.
    labels = np.array([1, 0, 1, 0, 1, 0])
    served = np.array([0.9, 0.8, 0.1, 0.2, 0.99, 0.95])
    logistic = np.array([0.2, 0.9, 0.8, 0.1, 0.0, 0.0])
    p_true = np.array([0.7, 0.1, 0.6, 0.2, np.nan, np.nan])
    out = compare_scorers(labels, served, logistic, p_true)

    assert out["candidates"] == 6
    assert out["covered"] == 4
    assert out["coverage"] == pytest.approx(4 / 6)
    assert out["positives_covered"] == 2
    assert out["base_rate_covered"] == pytest.approx(0.5)
    assert out["mean_p_true_covered"] == pytest.approx((0.7 + 0.1 + 0.6 + 0.2) / 4)
    assert out["ks_at_or_beyond_rows"] == [100, 500]
    m = out["metrics"]
    # served ranks 1,0,0,1 (by 0.9, 0.8, 0.2, 0.1): AP = (1/1 + 2/4) / 2 = 0.75
    assert m["served"]["auc_pr"] == pytest.approx(0.75)
    # logistic ranks 0,1,1,0 (by 0.9, 0.8, 0.2, 0.1): AP = (1/2 + 2/3) / 2
    assert m["logistic"]["auc_pr"] == pytest.approx((0.5 + 2 / 3) / 2)
    # the oracle ranks both positives first
    assert m["oracle"]["auc_pr"] == pytest.approx(1.0)
    # k beyond the four rows: precision is the covered base rate for everyone
    for name in ("served", "logistic", "oracle"):
        assert m[name]["precision@100"] == pytest.approx(0.5)
        assert m[name]["precision@500"] == pytest.approx(0.5)
    assert out["served_over_oracle"]["auc_pr"] == pytest.approx(0.75)
    assert out["served_over_oracle"]["precision@100"] == pytest.approx(1.0)
    assert out["served_minus_logistic"]["auc_pr"] == pytest.approx(0.75 - (0.5 + 2 / 3) / 2)
    assert out["served_minus_logistic"]["precision@500"] == pytest.approx(0.0)


def test_bench_compare_scorers_precision_at_100_on_a_long_list() -> None:
    # 200 covered rows, 50 positives. The oracle puts all 50 positives in its top 100;
    # the served model puts 25 of them there; so p@100 is 0.5 vs 0.25, ratio 0.5.
    n = 200
    labels = np.zeros(n, dtype=np.int64)
    labels[:50] = 1
    p_true = np.linspace(1.0, 0.0, n)  # positives are the 50 highest
    served = np.zeros(n)
    served[25:50] = 0.9  # 25 positives in the top 100
    served[50:125] = 0.8  # and 75 negatives
    logistic = -np.arange(n, dtype=np.float64)  # same order as the oracle
    out = compare_scorers(labels, served, logistic, p_true)
    assert out["coverage"] == pytest.approx(1.0)
    assert out["ks_at_or_beyond_rows"] == [500]
    assert out["metrics"]["oracle"]["precision@100"] == pytest.approx(0.5)
    assert out["metrics"]["served"]["precision@100"] == pytest.approx(0.25)
    assert out["metrics"]["logistic"]["precision@100"] == pytest.approx(0.5)
    assert out["served_over_oracle"]["precision@100"] == pytest.approx(0.5)
    assert out["served_minus_logistic"]["precision@100"] == pytest.approx(-0.25)


def test_bench_compare_scorers_without_oracle_rows_reports_undefined() -> None:
    out = compare_scorers(
        np.array([1, 0]), np.array([0.5, 0.4]), np.array([0.3, 0.2]), np.full(2, np.nan)
    )
    assert out["covered"] == 0
    assert out["coverage"] == 0.0
    assert out["metrics"]["served"]["auc_pr"] is None
    assert out["mean_p_true_covered"] is None
    assert out["served_over_oracle"] == {
        "auc_pr": None,
        "precision@100": None,
        "precision@500": None,
    }
    with pytest.raises(ValueError):
        compare_scorers(np.array([1, 0]), np.array([0.5]), np.array([0.3, 0.2]), np.zeros(2))


def _record(s_o: dict, s_l_auc_pr: float | None) -> dict:
    return {
        "comparison": {
            "served_over_oracle": s_o,
            "served_minus_logistic": {"auc_pr": s_l_auc_pr},
        }
    }


def test_bench_summarise_mean_worst_losses_and_failures() -> None:
    records = [
        _record({"auc_pr": 0.8, "precision@100": 0.5, "precision@500": 0.9}, 0.02),
        _record({"auc_pr": 0.6, "precision@100": None, "precision@500": 0.7}, -0.01),
        _record({"auc_pr": 0.7, "precision@100": 0.9, "precision@500": 0.8}, -0.03),
        {"orgs": 3000, "seed": 9104, "error": "RuntimeError('boom')"},
    ]
    summary = summarise(records)
    assert summary["worlds"] == 4
    assert summary["worlds_measured"] == 3
    assert summary["worlds_failed"] == 1
    ratios = summary["served_over_oracle"]
    assert ratios["auc_pr"] == {"mean": pytest.approx(0.7), "worst": 0.6, "undefined": 0}
    assert ratios["precision@100"] == {"mean": pytest.approx(0.7), "worst": 0.5, "undefined": 1}
    assert ratios["precision@500"]["worst"] == pytest.approx(0.7)
    assert summary["served_below_logistic_auc_pr"] == 2
    assert summary["served_minus_logistic_auc_pr_mean"] == pytest.approx(-0.02 / 3)


def test_bench_summarise_of_nothing_is_empty_not_an_error() -> None:
    summary = summarise([])
    assert summary["worlds_measured"] == 0
    assert summary["served_over_oracle"]["auc_pr"] == {"mean": None, "worst": None, "undefined": 0}
    assert summary["served_below_logistic_auc_pr"] == 0


def test_bench_selection_is_recorded_only_when_the_model_has_one() -> None:
    assert selection_of(SimpleNamespace()) is None
    model = SimpleNamespace(
        selection_={
            "chosen": "lightgbm",
            "auc_pr": {"lightgbm": np.float32(0.5), "logistic": np.float64(0.25)},
            "rounds": np.array([3, 4]),
            "on": date(2023, 12, 31),
        }
    )
    assert selection_of(model) == {
        "chosen": "lightgbm",
        "auc_pr": {"lightgbm": 0.5, "logistic": 0.25},
        "rounds": [3, 4],
        "on": "2023-12-31",
    }
    # A Selection-like object is recorded through its own to_dict.
    selection = SimpleNamespace(to_dict=lambda: {"name": "logistic", "scores": {"logistic": 0.3}})
    assert selection_of(SimpleNamespace(selection_=selection)) == {
        "name": "logistic",
        "scores": {"logistic": 0.3},
    }


def test_bench_compare_scorers_reports_the_path_oracle_beside_the_as_of_one() -> None:
    # The as-of oracle ranks the positives 1st and 3rd (AP (1 + 2/3) / 2); the path
    # oracle, which knows the future, ranks them first (AP 1). served ranks them 1st and
    # 2nd (AP 1); the row the as-of oracle misses is left out for the path oracle too.
    labels = np.array([1, 0, 1, 0, 1])
    served = np.array([0.9, 0.1, 0.8, 0.2, 0.0])
    logistic = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    p_true = np.array([0.9, 0.5, 0.4, 0.1, np.nan])
    p_path = np.array([0.9, 0.2, 0.8, 0.1, 0.0])
    out = compare_scorers(labels, served, logistic, p_true, p_path)
    m = out["metrics"]
    assert m["oracle"]["auc_pr"] == pytest.approx((1 + 2 / 3) / 2)
    assert m["path_oracle"]["auc_pr"] == pytest.approx(1.0)
    assert out["served_over_oracle"]["auc_pr"] == pytest.approx(1 / ((1 + 2 / 3) / 2))
    assert out["served_over_path_oracle"]["auc_pr"] == pytest.approx(1.0)
    # Without p_path, no path-oracle entries (records of earlier runs keep their shape).
    assert "served_over_path_oracle" not in compare_scorers(labels, served, logistic, p_true)
    with pytest.raises(ValueError):
        compare_scorers(labels, served, logistic, p_true, p_path[:3])


def test_bench_summarise_reports_both_oracles_overall_and_per_size() -> None:
    def record(orgs: int, as_of_p100: float, path_p100: float) -> dict:
        ratios = {"auc_pr": 0.5, "precision@500": 0.8}
        return {
            "orgs": orgs,
            "comparison": {
                "served_over_oracle": {**ratios, "precision@100": as_of_p100},
                "served_over_path_oracle": {**ratios, "precision@100": path_p100},
                "served_minus_logistic": {"auc_pr": 0.0},
            },
        }

    summary = summarise([record(3000, 0.9, 0.8), record(10000, 0.6, 0.5), record(10000, 0.7, 0.4)])
    assert summary["served_over_oracle"]["precision@100"]["worst"] == pytest.approx(0.6)
    assert summary["served_over_path_oracle"]["precision@100"]["mean"] == pytest.approx(1.7 / 3)
    ten = summary["by_size"]["10000"]
    assert ten["served_over_oracle"]["precision@100"]["mean"] == pytest.approx(0.65)
    assert ten["served_over_path_oracle"]["precision@100"]["worst"] == pytest.approx(0.4)
    assert summary["by_size"]["3000"]["served_over_oracle"]["precision@100"]["mean"] == 0.9
