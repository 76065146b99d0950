"""Vectorised building blocks for event-driven, point-in-time feature tables.

A family table has one row per (key, day) where one of its values changes. Each value at a
row is computed only from events dated on or before that day, so an as-of lookup (latest
row with day <= t) yields exactly the value at t. The blocks below turn event lists into
such rows with groupby/cumsum and ``merge_asof``; nothing loops over entities, so the build
scales linearly with the number of events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

DAY = "day"
EPOCH = pd.Timestamp("1970-01-01")


def to_day(values: pd.Series) -> pd.Series:
    """Dates as tz-naive midnight timestamps (the typed-table convention), NaT kept."""
    out = pd.to_datetime(values, errors="coerce")
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    return out.dt.normalize().astype("datetime64[ns]")


def epoch_days(values: pd.Series) -> pd.Series:
    """Days since 1970-01-01 as float64 (NaN for NaT): storable and Feast-typed."""
    return ((values - EPOCH) / pd.Timedelta(days=1)).astype("float64")


def running_sum(events: pd.DataFrame, key: str, columns: list[str]) -> pd.DataFrame:
    """Per-(key, day) running totals of delta columns (e.g. +1 at a start, -1 at an end)."""
    if events.empty:
        empty = {key: pd.Series(dtype=object), DAY: pd.Series(dtype="M8[ns]")}
        return pd.DataFrame(empty | {c: pd.Series(dtype="float64") for c in columns})
    daily = events.groupby([key, DAY], sort=True)[columns].sum().reset_index()
    daily[columns] = daily.groupby(key, sort=False)[columns].cumsum()
    return daily


def first_known(events: pd.DataFrame, unique_by: list[str], key: str) -> pd.DataFrame:
    """Keep the earliest dated occurrence of each ``unique_by`` tuple (distinct counting)."""
    events = events.dropna(subset=[DAY])
    if events.empty:
        return events[[*dict.fromkeys([key, *unique_by, DAY])]]
    idx = events.groupby(unique_by, sort=False)[DAY].idxmin()
    return events.loc[idx.to_numpy(), [*dict.fromkeys([key, *unique_by, DAY])]]


def count_distinct(
    events: pd.DataFrame, key: str, unique_by: list[str], column: str
) -> pd.DataFrame:
    """Running count of distinct ``unique_by`` tuples per key, each counted when first seen."""
    firsts = first_known(events, unique_by, key).assign(**{column: 1.0})
    return running_sum(firsts[[key, DAY, column]], key, [column])


def align(
    keys: pd.DataFrame,
    key: str,
    parts: Iterable[tuple[pd.DataFrame, Mapping[str, float]]],
) -> pd.DataFrame:
    """Put every part's values on the family's event days.

    Each part is a (key, day, values...) frame whose rows are the part's own change days;
    at any family day a part contributes its latest row on or before that day (an as-of
    join, so a NaN in that row stays NaN rather than inheriting an older value). Before a
    part's first row its columns take the given initial values (0 for counts of a table
    that exists, NaN otherwise).
    """
    out = keys[[key, DAY]].drop_duplicates().sort_values(DAY, kind="stable")
    out = out.reset_index(drop=True)
    for part, initial in parts:
        values = [c for c in part.columns if c not in (key, DAY)]
        if part.empty:
            for column in values:
                out[column] = initial.get(column, np.nan)
            continue
        right = part.sort_values(DAY, kind="stable").assign(_hit=True)
        right[key] = right[key].astype(out[key].dtype)
        out = pd.merge_asof(out, right, on=DAY, by=key, direction="backward")
        missing = out["_hit"].isna().to_numpy()
        for column, value in initial.items():
            if column in values:
                out.loc[missing, column] = value
        out = out.drop(columns="_hit")
    return out


def union_days(frames: Iterable[pd.DataFrame], key: str) -> pd.DataFrame:
    """All (key, day) pairs of the given frames, deduplicated."""
    present = [f[[key, DAY]] for f in frames if not f.empty]
    if not present:
        return pd.DataFrame({key: pd.Series(dtype=object), DAY: pd.Series(dtype="M8[ns]")})
    return pd.concat(present, ignore_index=True).dropna().drop_duplicates()
