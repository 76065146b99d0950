"""The backtest's pure steps on hand-built tables: dates, rows, ranking, evaluation."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from talentmap.settings.training import PromiseRules
from talentmap.training.pipeline.backtest import (
    categorical_names,
    evaluate,
    feature_names,
    score_candidates,
)
from talentmap.training.pipeline.labels import label_window_end
from talentmap.training.pipeline.rows import assemble_training_rows, training_dates

AS_OF = pd.Timestamp("2023-06-30")


def _tables(rounds: list[tuple[str, str, str, float | None]]) -> dict[str, pd.DataFrame]:
    """Organisations a..d founded in 2018-2019, with the given (org, day, type, amount)."""
    orgs = pd.DataFrame(
        {
            "org_id": ["a", "b", "c", "d"],
            "name": ["A", "B", "C", "D"],
            "founded_on": pd.to_datetime(["2018-01-10", "2018-05-01", "2019-02-01", "2019-03-01"]),
            "country": ["FR"] * 4,
        }
    )
    orgs["org_id"] = orgs["org_id"].astype(object)
    funding = pd.DataFrame(
        {
            "round_id": [f"r{i}" for i in range(len(rounds))],
            "org_id": [r[0] for r in rounds],
            "announced_on": pd.to_datetime([r[1] for r in rounds]).astype("datetime64[ns]"),
            "round_type": [r[2] for r in rounds],
            "amount_eur": pd.Series([r[3] for r in rounds], dtype="float64"),
        }
    )
    return {"organizations": orgs, "funding_rounds": funding}


ROUNDS = [
    ("a", "2018-03-01", "seed", 500_000.0),
    ("b", "2018-06-01", "seed", None),
    ("c", "2019-03-01", "pre_seed", 100_000.0),
    ("d", "2019-04-01", "seed", 800_000.0),
    ("a", "2020-02-01", "series_a", 4_000_000.0),  # a's milestone
    ("b", "2021-03-01", "seed", 6_000_000.0),  # b's milestone, by amount
    ("c", "2023-03-01", "series_a", None),  # c's milestone, near the as-of date
]


def test_training_dates_end_with_the_last_closed_window_and_keep_month_ends() -> None:
    dates = training_dates(_tables(ROUNDS), AS_OF, horizon_months=24, every_months=3)
    assert dates[-1] == pd.Timestamp("2021-06-30")
    assert all(label_window_end(d, 24) <= AS_OF for d in dates)
    assert pd.Timestamp("2021-03-31") in dates and pd.Timestamp("2020-12-31") in dates
    assert dates[0] >= pd.Timestamp("2018-01-10")  # not before the data starts
    assert np.all(np.diff(np.array(dates, dtype="datetime64[ns]")) > np.timedelta64(0))


def test_training_dates_ignore_events_after_the_as_of_date() -> None:
    later = [*ROUNDS, ("d", "2024-01-01", "series_b", 9e6)]
    assert training_dates(_tables(later), AS_OF, 24, 3) == training_dates(
        _tables(ROUNDS), AS_OF, 24, 3
    )


def test_training_rows_are_labelled_with_data_up_to_the_cutoff_only() -> None:
    rules = PromiseRules(horizon_months=24)
    tables = _tables(ROUNDS)
    dates = [pd.Timestamp("2019-06-30"), pd.Timestamp("2021-06-30")]
    rows = assemble_training_rows(tables, dates, rules, cutoff=AS_OF)
    got = {(r.org_id, r.as_of.date().isoformat()): r.label for r in rows.rows.itertuples()}
    # 2019-06-30: a raises a series A (2020-02), b a €6M round (2021-03) within 24 months.
    assert got[("a", "2019-06-30")] == 1 and got[("b", "2019-06-30")] == 1
    assert got[("c", "2019-06-30")] == 0  # its series A comes 2023-03, after the window
    # 2021-06-30: a and b have reached a milestone already; c's series A is in the window.
    assert ("a", "2021-06-30") not in got and ("b", "2021-06-30") not in got
    assert got[("c", "2021-06-30")] == 1
    assert rows.refused_uncovered == 0
    assert rows.exclusions.loc[pd.Timestamp("2021-06-30"), "milestone_reached"] == 2


def test_uncovered_windows_are_refused_and_counted_not_labelled_zero() -> None:
    rules = PromiseRules(horizon_months=24)
    rows = assemble_training_rows(
        _tables(ROUNDS), [pd.Timestamp("2021-06-30"), pd.Timestamp("2022-06-30")], rules, AS_OF
    )
    assert set(rows.rows["as_of"]) == {pd.Timestamp("2021-06-30")}
    assert rows.refused_uncovered == 2  # c and d at 2022-06-30


def test_predictions_rank_best_first_and_break_ties_by_org_id() -> None:
    frame = score_candidates(["z", "b", "a", "c"], np.array([0.2, 0.9, 0.2, 0.5]), AS_OF)
    assert frame["org_id"].tolist() == ["b", "c", "a", "z"]
    assert frame["rank"].tolist() == [1, 2, 3, 4]
    assert (frame["as_of"] == "2023-06-30").all()
    assert list(frame.columns) == ["org_id", "as_of", "score", "rank"]


def test_evaluation_is_refused_when_the_snapshot_does_not_cover_the_horizon() -> None:
    rules = PromiseRules(horizon_months=24)
    ids = ["c", "d"]
    scores = {"model": np.array([0.9, 0.1]), "total_raised": np.array([0.0, 8e5])}
    summary, y = evaluate(
        _tables(ROUNDS), ids, scores, pd.Timestamp("2021-06-30"), rules, date(2022, 12, 31)
    )
    assert summary["available"] is False and y is None
    assert "not negative" in summary["reason"]
    assert "scorers" not in summary


def test_evaluation_grades_every_scorer_on_the_same_rows() -> None:
    rules = PromiseRules(horizon_months=24)
    ids = ["c", "d"]
    scores = {"model": np.array([0.9, 0.1]), "total_raised": np.array([0.0, 8e5])}
    summary, y = evaluate(
        _tables(ROUNDS), ids, scores, pd.Timestamp("2021-06-30"), rules, date(2023, 6, 30)
    )
    assert summary["available"] is True
    assert y is not None and y.tolist() == [1, 0]
    assert summary["n"] == 2 and summary["n_positive"] == 1
    assert summary["scorers"]["model"]["auc_roc"] == pytest.approx(1.0)
    assert summary["scorers"]["total_raised"]["auc_roc"] == pytest.approx(0.0)
    # A ranking heuristic has no probability: JSON null, not NaN.
    assert summary["scorers"]["total_raised"]["brier"] is None


def test_features_are_the_promise_service_and_text_ones_are_categorical() -> None:
    names = feature_names()
    assert "amount_total_eur" in names and "company_age_days" in names
    assert not any("gender" in n for n in names)
    assert set(categorical_names(names)) == {"sector", "region", "country", "founding_cohort"}
