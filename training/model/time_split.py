"""Split training rows by as-of date into train < valid < calib slices (never at random).

The chronology and the purge are explained in ``talentmap.settings.model``. The
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


def _count(n: int, fraction: float) -> int:
    # At least one date for any slice that is asked for, however few dates there are.
    return 0 if fraction == 0 else max(1, round(n * fraction))


def time_split(
    as_of: pd.Series | pd.Index | np.ndarray,
    valid_fraction: float,
    calib_fraction: float,
    purge_dates: int = 0,
) -> TimeSplit:
    """Slice the sorted unique as-of dates: oldest for training, latest for calibration.

    Raises ``ValueError`` when the dates cannot give every requested slice at least one
    date after purging.
    """
    days = as_of_days(as_of)
    if days.isna().any():
        raise ValueError("as_of holds missing dates; every training row needs its as-of date")
    dates = tuple(pd.Timestamp(d) for d in sorted(days.unique()))
    n = len(dates)
    n_calib = _count(n, calib_fraction)
    n_valid = _count(n, valid_fraction)
    n_purged = purge_dates * (1 + (n_calib > 0))
    n_train = n - n_valid - n_calib - n_purged
    if n_train < 1:
        raise ValueError(
            f"{n} as-of dates cannot hold {n_valid} validation, {n_calib} calibration and "
            f"{n_purged} purged dates plus at least one training date"
        )
    train = dates[:n_train]
    rest = dates[n_train + purge_dates :]
    valid, rest = rest[:n_valid], rest[n_valid:]
    purged = dates[n_train : n_train + purge_dates]
    if n_calib:
        purged += rest[:purge_dates]
        rest = rest[purge_dates:]
    return TimeSplit(train=train, valid=valid, calib=rest, purged=purged)
