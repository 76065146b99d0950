"""The "promise" label at (org, t), and the rule that uncovered windows are refused.

The label at as-of date t is 1 if, in the window (t, t + H], the organisation raises a
milestone round (a type in ``rules.milestone_round_types``, or any round of at least
``rules.large_round_eur``) or exits with a kind in ``rules.exit_kinds``; otherwise 0.
The window is open at t (an event dated t is already in the past at t: it belongs to
the features and, for candidates, excludes the organisation) and closed at t + H.
``t + H`` is calendar arithmetic (``pd.DateOffset(months=H)``; 31 Aug + 6 months is
28/29 Feb).

A window is *covered* when ``t + H <= cutoff`` (the data's snapshot date, or the run's
cut-off): the data then contains every event the window can hold, including those dated
on the cut-off itself. An uncovered window is never labelled 0 — a company whose Series A
happens after the snapshot would be a false negative — so ``label`` refuses it, and
callers split rows with ``split_covered`` first (keeping the count of refused rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np
import pandas as pd

from talentmap.settings.training import PromiseRules

DateLike = date | pd.Timestamp | str


class UncoveredWindowError(ValueError):
    """Raised when asked to label rows whose window ends after the data's cut-off."""


def _day(value: DateLike) -> pd.Timestamp:
    return pd.Timestamp(value).normalize()


def _as_ns(values: pd.Series | pd.Index) -> pd.Series:
    """Dates as tz-naive datetime64[ns] at midnight, whatever the caller handed over."""
    return pd.Series(pd.to_datetime(values).astype("datetime64[ns]")).dt.normalize()


def label_window_end(as_of: DateLike, horizon_months: int) -> pd.Timestamp:
    """The last day of the label window of ``as_of`` (included in the window)."""
    return _day(as_of) + pd.DateOffset(months=horizon_months)


def label_coverage_ok(as_of: DateLike, horizon_months: int, cutoff: DateLike) -> bool:
    """True when the data up to ``cutoff`` covers the whole label window of ``as_of``."""
    return label_window_end(as_of, horizon_months) <= _day(cutoff)


def training_as_of_dates(
    first: DateLike, cutoff: DateLike, horizon_months: int, every_months: int = 3
) -> list[date]:
    """As-of dates ``first, first + every, first + 2*every, ...`` whose window is covered.

    Each date is computed from ``first`` (not from its predecessor) so that month-end
    anchors do not drift (31 Jan, 30 Apr, 31 Jul, 31 Oct, ...). Empty when even the
    first window ends after the cut-off.
    """
    if every_months < 1:
        raise ValueError("every_months must be at least 1")
    start, end = _day(first), _day(cutoff)
    dates: list[date] = []
    step = 0
    while True:
        as_of = start + pd.DateOffset(months=step * every_months)
        if not label_coverage_ok(as_of, horizon_months, end):
            return dates
        dates.append(as_of.date())
        step += 1


def milestone_rounds(tables: Mapping[str, pd.DataFrame], rules: PromiseRules) -> pd.DataFrame:
    """Rounds that are milestones, as ``[org_id, on]`` (``on`` = announced_on)."""
    rounds = tables["funding_rounds"]
    is_type = rounds["round_type"].isin(list(rules.milestone_round_types))
    # NaN >= x is False: a round of unknown amount never qualifies by amount.
    is_large = pd.to_numeric(rounds["amount_eur"], errors="coerce") >= rules.large_round_eur
    picked = rounds.loc[is_type | is_large]
    return _dated(picked["org_id"], picked["announced_on"])


def promise_events(tables: Mapping[str, pd.DataFrame], rules: PromiseRules) -> pd.DataFrame:
    """Every event that makes the label 1, as ``[org_id, on]``: milestones and exits."""
    parts = [milestone_rounds(tables, rules)]
    exits = tables.get("exits")
    if exits is not None and len(exits):
        picked = exits.loc[exits["exit_kind"].isin(list(rules.exit_kinds))]
        parts.append(_dated(picked["org_id"], picked["exited_on"]))
    return pd.concat(parts, ignore_index=True)


def _dated(org_ids: pd.Series, on: pd.Series) -> pd.DataFrame:
    frame = pd.DataFrame({"org_id": org_ids.to_numpy(dtype=object), "on": _as_ns(on).to_numpy()})
    return frame.dropna(subset=["org_id", "on"]).reset_index(drop=True)


def split_covered(
    entity_df: pd.DataFrame, horizon_months: int, cutoff: DateLike
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``entity_df`` rows into (covered, refused) by their label window end."""
    ends = _window_ends(entity_df["as_of"], horizon_months)
    ok = (ends <= _day(cutoff)).to_numpy()
    return entity_df.loc[ok], entity_df.loc[~ok]


def _window_ends(as_of: pd.Series, horizon_months: int) -> pd.Series:
    # DateOffset arithmetic is per element; as-of dates repeat heavily (one per quarter),
    # so compute it once per distinct date.
    days = _as_ns(as_of)
    distinct = pd.Series(days.unique())
    ends = pd.Series(
        [d + pd.DateOffset(months=horizon_months) for d in distinct],
        index=distinct,
        dtype="datetime64[ns]",
    )
    return pd.Series(days.map(ends).to_numpy(dtype="datetime64[ns]"), index=as_of.index)


def label(
    tables: Mapping[str, pd.DataFrame],
    entity_df: pd.DataFrame,
    rules: PromiseRules,
    data_end: DateLike,
) -> pd.DataFrame:
    """Label every ``(org_id, as_of)`` row of ``entity_df``.

    Returns ``[org_id, as_of, label, label_window_end]`` in the input's row order
    (``label`` is int8, dates datetime64[ns]). Raises ``UncoveredWindowError`` if any
    window ends after ``data_end``: use ``split_covered`` first to drop and count those.
    """
    as_of = _as_ns(entity_df["as_of"])
    if as_of.isna().any() or entity_df["org_id"].isna().any():
        raise ValueError("entity_df has rows without an org_id or an as_of date")
    ends = _window_ends(as_of, rules.horizon_months)
    cutoff = _day(data_end)
    uncovered = ends > cutoff
    if uncovered.any():
        latest_ok = cutoff - pd.DateOffset(months=rules.horizon_months)
        raise UncoveredWindowError(
            f"{int(uncovered.sum())} row(s) have a label window ending after the data's "
            f"cut-off {cutoff.date()} (the latest labellable as-of date is "
            f"{latest_ok.date()}); they cannot be labelled, not even as 0. "
            "Drop them with split_covered() and report the count."
        )
    org_ids = entity_df["org_id"].to_numpy(dtype=object)
    next_event = _next_event_after(promise_events(tables, rules), org_ids, as_of.to_numpy())
    positive = next_event <= ends.to_numpy()  # NaT compares False: no event, label 0
    return pd.DataFrame(
        {
            "org_id": org_ids,
            "as_of": as_of.to_numpy(),
            "label": positive.astype(np.int8),
            "label_window_end": ends.to_numpy(),
        }
    )


def _next_event_after(events: pd.DataFrame, org_ids: np.ndarray, as_of: np.ndarray) -> np.ndarray:
    """For each (org, t), the date of the org's first event strictly after t, else NaT.

    Vectorised with one sorted key per event, ``(org code, day)`` packed into an int64,
    and a single ``searchsorted``: no per-organisation Python loop, so millions of rows
    take well under a second.
    """
    result = np.full(len(org_ids), np.datetime64("NaT"), dtype="datetime64[ns]")
    if len(events) == 0 or len(org_ids) == 0:
        return result
    codes, _ = pd.factorize(
        np.concatenate([events["org_id"].to_numpy(dtype=object), org_ids]), sort=False
    )
    event_codes, row_codes = codes[: len(events)], codes[len(events) :]
    event_days = _days(events["on"].to_numpy(dtype="datetime64[ns]"))
    row_days = _days(as_of.astype("datetime64[ns]"))
    event_keys = _pack(event_codes, event_days)
    order = np.argsort(event_keys, kind="stable")
    event_keys, event_codes = event_keys[order], event_codes[order]
    event_on = events["on"].to_numpy(dtype="datetime64[ns]")[order]
    # side="right": an event on t itself has key == the row's key and is skipped.
    idx = np.searchsorted(event_keys, _pack(row_codes, row_days), side="right")
    found = idx < len(event_keys)
    same_org = np.zeros(len(org_ids), dtype=bool)
    same_org[found] = event_codes[idx[found]] == row_codes[found]
    result[same_org] = event_on[idx[same_org]]
    return result


_DAY_OFFSET = 1 << 20  # days since 1970 shifted positive; covers years ~ -900 to 4800


def _days(values: np.ndarray) -> np.ndarray:
    return values.astype("datetime64[D]").astype(np.int64) + _DAY_OFFSET


def _pack(codes: np.ndarray, days: np.ndarray) -> np.ndarray:
    return (codes.astype(np.int64) << 22) | days
