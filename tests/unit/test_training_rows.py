"""Issue 13: training rows on long, sparse histories (``training/pipeline/rows.py``).

A real export reaches back to 1903 with a handful of companies a year before 2000. The
training dates must stay inside the history window, sparse dates are dropped and counted,
and data that cannot train a model raises ``UnusableDataError`` whose message says what to
change, instead of a traceback from deep inside LightGBM.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fixtures.toy_world import messy_founding_dates, random_world

from talentmap.features.pit_check import alter_after, truncate_after
from talentmap.settings.model import ModelConfig
from talentmap.settings.training import PromiseRules, TrainingConfig
from talentmap.training.model.time_split import time_split
from talentmap.training.pipeline.errors import EX_DATAERR, UnusableDataError
from talentmap.training.pipeline.rows import (
    TOO_FEW_CANDIDATES,
    TOO_FEW_POSITIVES,
    assemble_training_rows,
    check_slices,
    select_training_rows,
    training_dates,
)

AS_OF = pd.Timestamp("2023-06-30")
LAST = pd.Timestamp("2021-06-30")  # AS_OF - 24 months: the latest training date


def sparse_history(seed: int = 0, recent_per_year: int = 150) -> dict[str, pd.DataFrame]:
    """Companies founded from 1900: two a year before 2000, a few after, many since 2012.

    Every company raises a seed round a month after its founding; a third raise a series
    A within two years (the positives). Ten percent have no founding date at all.
    """
    rng = np.random.default_rng(seed)
    years = np.concatenate(
        [
            np.repeat(np.arange(1900, 2000), 2),
            np.repeat(np.arange(2000, 2012), 5),
            np.repeat(np.arange(2012, 2023), recent_per_year),
        ]
    )
    founded = pd.to_datetime([f"{y}-01-01" for y in years]) + pd.to_timedelta(
        rng.integers(0, 365, len(years)), unit="D"
    )
    ids = np.array([f"o{i:05d}" for i in range(len(years))], dtype=object)
    orgs = pd.DataFrame(
        {
            "org_id": ids,
            "name": ids,
            "founded_on": pd.Series(founded).where(rng.random(len(ids)) > 0.1),
            "closed_on": pd.NaT,
            "country": "FR",
        }
    ).astype({"founded_on": "datetime64[ns]", "closed_on": "datetime64[ns]"})
    seed_on = founded + pd.Timedelta(days=30)
    grows = rng.random(len(ids)) < 1 / 3
    series_a_on = seed_on[grows] + pd.to_timedelta(rng.integers(60, 700, grows.sum()), unit="D")
    rounds = pd.DataFrame(
        {
            "round_id": [f"r{i}" for i in range(len(ids) + grows.sum())],
            "org_id": np.concatenate([ids, ids[grows]]),
            "announced_on": np.concatenate([seed_on, series_a_on]).astype("datetime64[ns]"),
            "round_type": ["seed"] * len(ids) + ["series_a"] * int(grows.sum()),
            "amount_eur": 500_000.0,
        }
    )
    return {"organizations": orgs, "funding_rounds": rounds}


def test_defaults_are_documented_settings() -> None:
    config = TrainingConfig()
    assert config.history_years == 8
    assert config.min_candidates_per_date == 30
    assert config.min_positives_per_date == 1
    assert config.min_positives_per_slice == 5
    assert config.rules.age_fallback is True
    for name in ("history_years", "min_candidates_per_date", "min_positives_per_date"):
        assert TrainingConfig.model_fields[name].description


def test_history_window_bounds_the_dates_of_a_century_of_data() -> None:
    tables = sparse_history()
    unbounded = training_dates(tables, AS_OF, 24, 3)
    assert unbounded[0] < pd.Timestamp("1901-01-01")  # what crashed before issue 13
    dates = training_dates(tables, AS_OF, 24, 3, history_years=8)
    assert dates[-1] == LAST
    assert dates[0] == pd.Timestamp("2013-06-30")  # exactly 8 years before the last
    assert len(dates) == 8 * 4 + 1
    assert training_dates(tables, AS_OF, 24, 3, history_years=2)[0] == pd.Timestamp("2019-06-30")


def test_long_sparse_history_trains_inside_its_window() -> None:
    config = TrainingConfig(history_years=30)  # reaches back into the sparse years
    training = select_training_rows(sparse_history(), AS_OF, config.rules, config)
    assert min(training.dates) >= pd.Timestamp("1991-06-30")
    assert max(training.dates) == LAST
    # The 1990s hold two companies a year: those dates are dropped, and counted.
    dropped = pd.Series(training.dropped)
    assert (dropped == TOO_FEW_CANDIDATES).sum() >= 40
    assert dropped.index.max() < pd.Timestamp("2013-01-01")
    per_date = training.rows.groupby("as_of").agg(n=("label", "size"), pos=("label", "sum"))
    assert (per_date["n"] >= config.min_candidates_per_date).all()
    assert (per_date["pos"] >= config.min_positives_per_date).all()
    assert set(dropped.index).isdisjoint(training.dates)
    # Companies without a founding date are aged from their first round, and counted.
    assert training.age_fallback_rows > 0


def test_per_date_minimums_drop_and_count_dates() -> None:
    tables = sparse_history(recent_per_year=20)
    dates = training_dates(tables, AS_OF, 24, 3, history_years=8)
    rules = PromiseRules()
    everything = assemble_training_rows(tables, dates, rules, AS_OF)
    assert not everything.dropped
    per_date = everything.rows.groupby("as_of")["label"].agg(["size", "sum"])
    cut = int(per_date["size"].median())
    strict = assemble_training_rows(tables, dates, rules, AS_OF, min_candidates=cut)
    small = set(per_date.index[per_date["size"] < cut])
    assert small and {d for d, r in strict.dropped.items() if r == TOO_FEW_CANDIDATES} == small
    assert set(strict.rows["as_of"]) == set(per_date.index) - small
    no_positive = set(per_date.index[per_date["sum"] == 0])
    positives = assemble_training_rows(tables, dates, rules, AS_OF, min_positives=1)
    assert {d for d, r in positives.dropped.items() if r == TOO_FEW_POSITIVES} == no_positive


def test_too_few_positives_says_what_to_change() -> None:
    tables = sparse_history(recent_per_year=40)
    rounds = tables["funding_rounds"]
    # Only three series A in the whole export.
    keep = (rounds["round_type"] == "seed") | (rounds.index.isin(rounds.index[-3:]))
    tables = {**tables, "funding_rounds": rounds.loc[keep].reset_index(drop=True)}
    config = TrainingConfig(min_positives_per_date=0)
    with pytest.raises(UnusableDataError) as refused:
        select_training_rows(tables, AS_OF, config.rules, config)
    message = str(refused.value)
    assert "\n" not in message
    assert "positive" in message
    assert "TALENTMAP_TRAINING__HISTORY_YEARS" in message and "--as-of" in message
    assert refused.value.exit_code == EX_DATAERR == 65


def test_no_usable_date_says_why() -> None:
    config = TrainingConfig(min_candidates_per_date=10_000)
    with pytest.raises(UnusableDataError, match=r"no usable training date.*too few candidates"):
        select_training_rows(sparse_history(), AS_OF, config.rules, config)


def test_a_slice_without_positives_is_refused_before_fitting() -> None:
    tables = sparse_history()
    config = TrainingConfig(min_positives_per_date=0)
    training = select_training_rows(tables, AS_OF, config.rules, config)
    # Blank every positive of the calib slice's dates (the latest ones).
    calib = time_split(training.rows["as_of"], 0.2, 0.2).calib
    late = training.rows["as_of"].isin(calib)
    rows = training.rows.assign(label=training.rows["label"].where(~late, 0))
    emptied = type(training)(rows, training.dates, training.exclusions, 0)
    with pytest.raises(UnusableDataError, match=r"the calib slice .* holds 0 positive"):
        check_slices(emptied, ModelConfig(), 5, 8)
    # Without calibration the calib slice is not used for anything that needs positives.
    check_slices(emptied, ModelConfig(calibration_method="none", calib_fraction=0.05), 1, 8)


@pytest.mark.parametrize("age_fallback", [True, False])
def test_training_rows_ignore_everything_after_the_as_of_date(age_fallback: bool) -> None:
    """Deleting or rewriting every event after as_of leaves the rows, the dropped dates
    and the fallback count unchanged (labels close by as_of, minimums count them)."""
    world = messy_founding_dates(random_world(300, 17), seed=17)
    rules = PromiseRules(age_fallback=age_fallback)
    # The toy world's records start in 2007, its companies in 2012: sparse early dates.
    config = TrainingConfig(rules=rules, history_years=12)
    as_of = pd.Timestamp("2021-12-31")
    full = select_training_rows(world, as_of, rules, config)
    assert TOO_FEW_CANDIDATES in full.dropped.values(), "not vacuous: minimums bite"
    assert (full.age_fallback_rows > 0) == age_fallback
    rng = np.random.default_rng(17)
    for other in (truncate_after(world, as_of.date()), alter_after(world, as_of.date(), rng)):
        got = select_training_rows(other, as_of, rules, config)
        pd.testing.assert_frame_equal(got.rows, full.rows)
        assert got.dates == full.dates and got.dropped == full.dropped
        assert got.age_fallback_rows == full.age_fallback_rows
