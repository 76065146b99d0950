"""Training rows for one as-of date: which dates, which candidates, and whether they can train.

Steps (each pure: tables in, values out)::

    training_dates        tables, as_of, H, every, history -> as-of dates, windows end <= as_of
    assemble_training_rows  tables, dates, rules, cutoff, minimums -> TrainingRows
    check_slices          TrainingRows, model config, minimum -> None or UnusableDataError
    select_training_rows  tables, as_of, rules, training config -> the three above

Real exports reach back decades (founding dates in 1903, a handful of companies a year
before 2000), so three things bound what a model learns from:

- the history window: the as-of dates span at most ``history_years``, ending at the
  latest date whose label window closes by ``as_of``;
- per-date minimums: a date with too few candidates or positives is dropped and counted
  (``TrainingRows.dropped``), never silently;
- per-slice minimums: the model's time split (``time_split``, cut by rows) must leave
  enough positives in every slice, else ``UnusableDataError`` says what to change.

Every bound is computed from data on or before ``as_of`` only: the dates from the earliest
founding or first-event date (a minimum, unchanged by later events), and the minimums
from labels whose windows close by ``as_of``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from talentmap.features.age import first_event_on
from talentmap.settings.model import ModelConfig
from talentmap.settings.training import PromiseRules, TrainingConfig
from talentmap.training.model.time_split import CALIB, TRAIN, VALID, time_split
from talentmap.training.pipeline.candidates import CANDIDATE, candidate_status, exclusion_counts
from talentmap.training.pipeline.errors import UnusableDataError
from talentmap.training.pipeline.labels import label, split_covered

TOO_FEW_CANDIDATES = "too_few_candidates"
TOO_FEW_POSITIVES = "too_few_positives"
DROP_REASONS: tuple[str, ...] = (TOO_FEW_CANDIDATES, TOO_FEW_POSITIVES)

# What an operator can change, named as the settings' environment variables.
_HISTORY = "TALENTMAP_TRAINING__HISTORY_YEARS"
_MIN_CANDIDATES = "TALENTMAP_TRAINING__MIN_CANDIDATES_PER_DATE"
_MIN_POSITIVES_DATE = "TALENTMAP_TRAINING__MIN_POSITIVES_PER_DATE"
_MIN_POSITIVES_SLICE = "TALENTMAP_TRAINING__MIN_POSITIVES_PER_SLICE"


@dataclass(frozen=True)
class TrainingRows:
    """Labelled ``[org_id, as_of, label]`` rows plus what was left out and why."""

    rows: pd.DataFrame
    dates: tuple[pd.Timestamp, ...]
    exclusions: pd.DataFrame  # exclusion_counts over the training dates
    refused_uncovered: int
    # Dates left out by a per-date minimum, each with its reason (``DROP_REASONS``).
    dropped: dict[pd.Timestamp, str] = field(default_factory=dict)
    # Kept rows whose company age came from the first dated event, not the founding date.
    age_fallback_rows: int = 0


def _day(value: date | pd.Timestamp | str) -> pd.Timestamp:
    return pd.Timestamp(value).normalize()


def _months_before(as_of: pd.Timestamp, months: int) -> pd.Timestamp:
    # Month-end anchors stay month ends (30 Jun -> 31 Mar, not 30 Mar): quarter ends line
    # up with the calendar whatever the as-of date's month length.
    earlier = as_of - pd.DateOffset(months=months)
    if as_of.is_month_end:
        earlier = earlier + pd.offsets.MonthEnd(0)
    return earlier


def data_start(tables: Mapping[str, pd.DataFrame]) -> pd.Timestamp | None:
    """The earliest founding or dated-event date: no organisation is a candidate before.

    Dated events count because a company without a founding date is aged from its first
    event (``talentmap.features.age``). A minimum is on or before ``as_of`` whenever any
    date is, so events after ``as_of`` cannot move it.
    """
    orgs = tables["organizations"]
    founded = pd.to_datetime(orgs["founded_on"]).min() if "founded_on" in orgs else pd.NaT
    known = [d for d in (founded, first_event_on(tables).min()) if not pd.isna(d)]
    return _day(min(known)) if known else None


def training_dates(
    tables: Mapping[str, pd.DataFrame],
    as_of: pd.Timestamp,
    horizon_months: int,
    every_months: int,
    history_years: int | None = None,
) -> list[pd.Timestamp]:
    """As-of dates ``as_of - H``, then every ``every_months`` earlier, within the history.

    Anchored on ``as_of - H`` so that the most recent usable date is always trained on:
    its label window ends exactly on ``as_of``. The list stops at the data start and, with
    ``history_years``, at ``history_years`` before that most recent date (included), so an
    export reaching back to 1903 cannot stretch it to a century of near-empty dates.
    """
    start = data_start(tables)
    if start is None:
        return []
    if history_years is not None:
        start = max(start, _months_before(as_of, horizon_months + 12 * history_years))
    dates: list[pd.Timestamp] = []
    step = 0
    while True:
        when = _months_before(as_of, horizon_months + step * every_months)
        if when < start:
            return sorted(dates)
        dates.append(when)
        step += 1


def assemble_training_rows(
    tables: Mapping[str, pd.DataFrame],
    dates: Sequence[pd.Timestamp],
    rules: PromiseRules,
    cutoff: pd.Timestamp,
    *,
    min_candidates: int = 1,
    min_positives: int = 0,
) -> TrainingRows:
    """The candidates at each date, labelled with data up to ``cutoff`` only.

    Windows that end after ``cutoff`` are refused and counted (never labelled 0). A date
    with fewer than ``min_candidates`` labelled candidates, or fewer than
    ``min_positives`` positives among them, is dropped and recorded in ``dropped``.
    """
    status = candidate_status(tables, list(dates), rules)
    picked = status.loc[status["status"] == CANDIDATE].reset_index(drop=True)
    covered, refused = split_covered(picked, rules.horizon_months, cutoff)
    labelled = label(tables, covered[["org_id", "as_of"]], rules, data_end=cutoff)
    rows = labelled[["org_id", "as_of", "label"]].reset_index(drop=True)
    fallback = covered["age_fallback"].to_numpy(dtype=bool)

    per_date = rows.groupby("as_of")["label"].agg(["size", "sum"])
    per_date = per_date.reindex(sorted({_day(d) for d in dates}), fill_value=0)
    dropped: dict[pd.Timestamp, str] = {}
    for when, (n, positives) in per_date.iterrows():
        if n < min_candidates:
            dropped[pd.Timestamp(when)] = TOO_FEW_CANDIDATES
        elif positives < min_positives:
            dropped[pd.Timestamp(when)] = TOO_FEW_POSITIVES
    keep = ~rows["as_of"].isin(list(dropped)).to_numpy()
    rows = rows.loc[keep].reset_index(drop=True)
    kept = tuple(pd.Timestamp(d) for d in sorted(rows["as_of"].unique()))
    return TrainingRows(
        rows,
        kept,
        exclusion_counts(status),
        len(refused),
        dropped,
        int(fallback[keep].sum()),
    )


def _span(dates: Sequence[pd.Timestamp]) -> str:
    first, last = min(dates).date(), max(dates).date()
    return str(first) if first == last else f"{first} to {last}"


def _advice(history_years: int, *minimums: str) -> str:
    """What an operator can change, the minimums that bit named as environment variables."""
    lower = f"lower {' or '.join(minimums)}, " if minimums else ""
    return (
        f"widen the history window ({_HISTORY}, now {history_years}), {lower}"
        "or choose a later --as-of"
    )


def _dropped_for(training: TrainingRows, reason: str) -> bool:
    return reason in training.dropped.values()


def check_slices(
    training: TrainingRows, config: ModelConfig, min_positives: int, history_years: int
) -> None:
    """Refuse rows the model's time split cannot train on, with what to change.

    Runs the model's own split (``time_split``, cut by rows on date boundaries), so the
    verdict is exactly the fit's: every slice the fit uses (train and valid, and calib
    when calibrating) needs ``min_positives`` positives and at least one negative.
    """
    rows = training.rows
    labels = rows["label"].to_numpy(dtype=np.int64)
    used = [TRAIN, VALID] + ([CALIB] if config.calibration_method != "none" else [])
    total = int(labels.sum())
    knobs = [_MIN_POSITIVES_SLICE]
    if _dropped_for(training, TOO_FEW_POSITIVES):
        knobs.append(_MIN_POSITIVES_DATE)
    if total < min_positives * len(used):
        raise UnusableDataError(
            f"only {total} positive label(s) in {len(rows):,} training rows at "
            f"{len(training.dates)} as-of date(s) ({_span(training.dates)}); the model's "
            f"{', '.join(used)} slices need {min_positives} each: "
            f"{_advice(history_years, *knobs)}"
        )
    try:
        split = time_split(
            rows["as_of"], config.valid_fraction, config.calib_fraction, config.purge_dates
        )
    except ValueError as exc:
        dates = [_MIN_CANDIDATES, _MIN_POSITIVES_DATE] if training.dropped else []
        raise UnusableDataError(
            f"the training rows cannot be split in time ({exc}): {_advice(history_years, *dates)}"
        ) from exc
    slices = split.assign(rows["as_of"])
    for name in used:
        mine = labels[slices == name]
        positives, negatives = int(mine.sum()), int((mine == 0).sum())
        if positives < min_positives or negatives == 0:
            dates = getattr(split, name)
            raise UnusableDataError(
                f"the {name} slice ({_span(dates)}, {len(mine):,} rows) holds {positives} "
                f"positive and {negatives} negative label(s); it needs at least "
                f"{min_positives} positive(s) and one negative: "
                f"{_advice(history_years, *knobs)}"
            )


def select_training_rows(
    tables: Mapping[str, pd.DataFrame],
    as_of: pd.Timestamp,
    rules: PromiseRules,
    config: TrainingConfig,
) -> TrainingRows:
    """The rows a model at ``as_of`` learns from, or ``UnusableDataError`` saying why not.

    ``rules`` may differ from ``config.rules`` (a backtest's ``--horizon-months``).
    """
    when = _day(as_of)
    dates = training_dates(
        tables, when, rules.horizon_months, config.as_of_every_months, config.history_years
    )
    if not dates:
        raise UnusableDataError(
            f"no training as-of date: no founding or event date in the data comes "
            f"{rules.horizon_months} months or more before {when.date()}; choose a later "
            "--as-of"
        )
    training = assemble_training_rows(
        tables,
        dates,
        rules,
        cutoff=when,
        min_candidates=config.min_candidates_per_date,
        min_positives=config.min_positives_per_date,
    )
    if training.rows.empty:
        counts = pd.Series(list(training.dropped.values())).value_counts()
        why = ", ".join(f"{n} with {reason.replace('_', ' ')}" for reason, n in counts.items())
        knobs = [
            knob
            for knob, reason in (
                (_MIN_CANDIDATES, TOO_FEW_CANDIDATES),
                (_MIN_POSITIVES_DATE, TOO_FEW_POSITIVES),
            )
            if _dropped_for(training, reason)
        ]
        raise UnusableDataError(
            f"no usable training date among the {len(dates)} as-of dates from "
            f"{_span(dates)} ({why}; minimums {config.min_candidates_per_date} candidates "
            f"and {config.min_positives_per_date} positive(s) per date): "
            f"{_advice(config.history_years, *knobs)}"
        )
    check_slices(training, config.model, config.min_positives_per_slice, config.history_years)
    return training
