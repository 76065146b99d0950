"""The monthly grid on which the hidden world evolves.

Hazards and outcomes live on whole months so that the oracle's recursion and the
simulation share one clock; only when an event is written does it get a day, drawn
uniformly inside its month and never after the snapshot date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

#: Months of look-ahead past the snapshot kept in the hidden path, so that the oracle
#: can be computed for as-of dates whose label window ends after the snapshot.
HORIZON_MONTHS = 24


@dataclass(frozen=True)
class MonthGrid:
    """Months ``0 .. n_months-1`` cover ``start``'s month up to ``end``'s month."""

    start: date
    end: date

    @property
    def first_month(self) -> np.datetime64:
        return np.datetime64(f"{self.start.year:04d}-{self.start.month:02d}", "M")

    @property
    def n_months(self) -> int:
        last = np.datetime64(f"{self.end.year:04d}-{self.end.month:02d}", "M")
        return int((last - self.first_month).astype(int)) + 1

    @property
    def n_path(self) -> int:
        """Length of the hidden path: the data period plus one label horizon."""
        return self.n_months + HORIZON_MONTHS

    @property
    def end_day(self) -> np.datetime64:
        return np.datetime64(self.end, "D")

    def month_start(self, months: np.ndarray) -> np.ndarray:
        return (self.first_month + months.astype("timedelta64[M]")).astype("datetime64[D]")

    def month_last_day(self, months: np.ndarray) -> np.ndarray:
        """Last day of each month, capped at the snapshot date (the as-of convention)."""
        nxt = (self.first_month + (months + 1).astype("timedelta64[M]")).astype("datetime64[D]")
        return np.minimum(nxt - np.timedelta64(1, "D"), self.end_day)

    def random_day(self, rng: np.random.Generator, months: np.ndarray) -> np.ndarray:
        """A uniform day inside each month, never after the snapshot date."""
        first = self.month_start(months)
        length = (self.month_last_day(months) - first).astype(int) + 1
        offset = np.floor(rng.random(months.shape[0]) * length).astype("timedelta64[D]")
        return first + offset

    def year_of(self, months: np.ndarray) -> np.ndarray:
        return self.start.year + (self.start.month - 1 + months) // 12


def uniform_month(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A month drawn uniformly in ``[lo, hi]`` (callers drop rows where ``hi < lo``)."""
    span = np.maximum(hi - lo + 1, 1)
    return lo + np.floor(rng.random(lo.shape[0]) * span).astype(np.int64)
