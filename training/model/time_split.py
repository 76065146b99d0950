"""Split training rows by as-of date into train < valid < calib slices (never at random).

The chronology and the purge are explained in ``talentmap.settings.model``. The slices
hold about the configured fractions of the *rows*, each cut on a date boundary. The
split is a value (``TimeSplit``) so that a fitted model can expose it, MLflow can log
it as lineage, and tests can check that every validation date follows every training
date.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

TRAIN, VALID, CALIB, PURGED = "train", "valid", "calib", "purged"


@dataclass(frozen=True)
class TimeSplit:
    """The as-of dates of each slice, each tuple sorted ascending."""

    train: tuple[pd.Timestamp, ...]
    valid: tuple[pd.Timestamp, ...]
    calib: tuple[pd.Timestamp, ...]
    purged: tuple[pd.Timestamp, ...] = ()

    def assign(self, as_of: pd.Series | pd.Index | np.ndarray) -> np.ndarray:
        """The slice name of each row (``purged`` for dates in no slice)."""
        days = as_of_days(as_of)
        out = np.full(len(days), PURGED, dtype=object)
        for name in (TRAIN, VALID, CALIB):
            out[days.isin(getattr(self, name))] = name
        return out

    def summary(self) -> dict[str, object]:
        """JSON-friendly description, for lineage and the saved model."""
        return {
            name: [d.date().isoformat() for d in getattr(self, name)]
            for name in (TRAIN, VALID, CALIB, PURGED)
        }

    @classmethod
    def from_summary(cls, summary: dict[str, list[str]]) -> TimeSplit:
        return cls(
            **{
                name: tuple(pd.Timestamp(d) for d in summary.get(name, []))
                for name in (TRAIN, VALID, CALIB, PURGED)
            }
        )


def as_of_days(as_of: pd.Series | pd.Index | np.ndarray) -> pd.Series:
    # Normalised to midnight so that a timestamp with a time part lands on its date.
    return pd.Series(pd.to_datetime(np.asarray(as_of))).dt.tz_localize(None).dt.normalize()


def _tail_dates(rows: np.ndarray, target: float, most: int) -> int:
    """How many of the last dates of ``rows`` hold closest to ``target`` rows (1..most).

    Ties go to fewer dates, so that a slice never takes more of the recent rows than it
    must.
    """
    if most < 1:
        return 0
    tail = np.cumsum(rows[::-1][:most])
    return int(np.argmin(np.abs(tail - target))) + 1


def time_split(
    as_of: pd.Series | pd.Index | np.ndarray,
    valid_fraction: float,
    calib_fraction: float,
    purge_dates: int = 0,
) -> TimeSplit:
    """Cut the sorted as-of dates into train < valid < calib by rows, never inside a date.

    The calib slice is the latest dates holding closest to ``calib_fraction`` of the rows,
    the valid slice the dates before them (after ``purge_dates`` purged ones) holding
    closest to ``valid_fraction``, and the train slice everything earlier. Companies pile
    up in recent dates, so cutting by counts of dates would hand the later slices most of
    the rows; each boundary instead falls on the date boundary nearest the row target.
    Every requested slice gets at least one date. Raises ``ValueError`` when the dates
    cannot give every requested slice a date after purging.
    """
    days = as_of_days(as_of)
    if days.isna().any():
        raise ValueError("as_of holds missing dates; every training row needs its as-of date")
    counts = days.value_counts().sort_index()
    dates = tuple(pd.Timestamp(d) for d in counts.index)
    rows = counts.to_numpy(dtype=np.float64)
    n, total = len(dates), float(rows.sum())
    wants_calib = calib_fraction > 0
    n_purged = purge_dates * (1 + wants_calib)
    needed = 2 + wants_calib + n_purged  # one train date, one valid date, maybe one calib
    if n < needed:
        slices = "a validation and a calibration date" if wants_calib else "a validation date"
        raise ValueError(
            f"{n} as-of dates cannot hold {slices} and {n_purged} purged dates plus at "
            "least one training date"
        )
    n_calib = 0
    if wants_calib:
        n_calib = _tail_dates(rows, calib_fraction * total, n - (needed - 1))
    before_calib = n - n_calib - (purge_dates if wants_calib else 0)
    most_valid = before_calib - purge_dates - 1
    n_valid = _tail_dates(rows[:before_calib], valid_fraction * total, most_valid)
    n_train = before_calib - n_valid - purge_dates
    train = dates[:n_train]
    purged = dates[n_train : n_train + purge_dates]
    valid = dates[n_train + purge_dates : before_calib]
    if wants_calib:
        purged += dates[before_calib : n - n_calib]
    calib = dates[n - n_calib :] if n_calib else ()
    return TimeSplit(train=train, valid=valid, calib=calib, purged=purged)
