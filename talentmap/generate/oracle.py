"""The oracle: the exact probability of the default label given the hidden path.

For a candidate alive and milestone-free at the end of month m, the label is 1 if the
first milestone falls in months m+1 .. m+H. With milestone hazard h and closure hazard c
(competing risks, milestone first within a month):

    S = 1; p = 0
    for j in m+1 .. m+H:  p += S * h[j];  S *= (1 - h[j]) * (1 - c[j])

Both hazards are pre-drawn functions of the hidden path, so this is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talentmap.generate.calendar import HORIZON_MONTHS, MonthGrid
from talentmap.generate.hidden import HazardPath
from talentmap.generate.outcomes import Outcomes

#: Candidates are organisations founded within the 5 years before the as-of date.
CANDIDATE_MAX_AGE_MONTHS = 59


@dataclass
class OracleRows:
    org: np.ndarray  # local index in the chunk
    month: np.ndarray  # as-of month index (as-of date = its last day)
    p_true: np.ndarray  # float32
    label: np.ndarray  # realised label, or -1 where the window passes the snapshot


def as_of_months(grid: MonthGrid, every_months: int) -> np.ndarray:
    return np.arange(0, grid.n_months, every_months, dtype=np.int64)


def window_probability(
    path: HazardPath, months: np.ndarray, horizon: int = HORIZON_MONTHS
) -> np.ndarray:
    """(n_orgs, len(months)) probability of a milestone within ``horizon`` months."""
    n = path.h_milestone.shape[0]
    survive = np.ones((n, months.shape[0]), dtype=np.float64)
    p = np.zeros((n, months.shape[0]), dtype=np.float64)
    for k in range(1, horizon + 1):
        h = path.h_milestone[:, months + k]
        p += survive * h
        survive *= (1.0 - h) * (1.0 - path.h_close[:, months + k])
    return p


def oracle_rows(
    path: HazardPath,
    founded_month: np.ndarray,
    outcomes: Outcomes,
    grid: MonthGrid,
    every_months: int,
    keep: np.ndarray,
) -> OracleRows:
    """Rows for every kept org alive, young and milestone-free at each as-of month."""
    months = as_of_months(grid, every_months)
    m = months[None, :]
    f = founded_month[:, None]
    eligible = (
        keep[:, None]
        & (f <= m)
        & (m - f <= CANDIDATE_MAX_AGE_MONTHS)
        & (m < outcomes.milestone_month[:, None])
        & (m < outcomes.close_month[:, None])
    )
    org, col = np.nonzero(eligible)
    # Compute only for orgs that appear at all, to keep the dense pass small.
    rows_orgs = np.unique(org)
    sub = HazardPath(
        trajectory=path.trajectory[:0],
        h_milestone=path.h_milestone[rows_orgs],
        h_close=path.h_close[rows_orgs],
        seed_month=path.seed_month[rows_orgs],
    )
    p = window_probability(sub, months)
    p_rows = p[np.searchsorted(rows_orgs, org), col].astype(np.float32)
    as_of = months[col]
    ms = outcomes.milestone_month[org]
    covered = as_of + HORIZON_MONTHS <= grid.n_months - 1
    label = np.where(covered, ((ms > as_of) & (ms <= as_of + HORIZON_MONTHS)).astype(np.int8), -1)
    return OracleRows(org=org, month=as_of, p_true=p_rows, label=label.astype(np.int8))
