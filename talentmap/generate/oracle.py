"""The oracles: the probability of the default label, as of each month, for evaluation.

For a candidate alive and milestone-free at the end of month m, the label is 1 if the
first milestone falls in months m+1 .. m+H. With milestone hazard h and closure hazard c
(competing risks, milestone first within a month):

    S = 1; p = 0
    for j in m+1 .. m+H:  p += S * h[j];  S *= (1 - h[j]) * (1 - c[j])

Two oracles are written:

- ``p_true``, the **as-of oracle**: the expectation of that window probability given the
  hidden state known at m (quality, talent, slope, the trajectory up to m, whether the
  seed round happened by m and when, women-led bias, sector, region, the calendar). What
  is still random at m is integrated out by Monte Carlo: the trajectory's future random
  walk, and, for a company not seeded by m, its seed plan (drawn from the prior of
  ``hidden.draw_path`` conditioned on no seed by m). It is the best any forecaster
  could do at m, even one that saw every hidden variable.
- ``p_path``, the **path oracle**: the same recursion on the pre-drawn hidden path
  itself, which knows the future of that path (its later random-walk steps and a seed
  round not raised yet). No forecaster at m can match it; it is kept for continuity.

The Monte Carlo has its own random stream (see ``chunk.generate_chunk``), so every other
output of the world is unchanged by it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from talentmap.generate.calendar import HORIZON_MONTHS, MonthGrid
from talentmap.generate.hidden import (
    CLOSE_SLOPE,
    MILESTONE_SLOPE,
    MIN_SEED_AGE,
    SEED_AGE_SD,
    STEP_SD,
    HazardPath,
    Orgs,
    calendar_effect,
    close_logit,
    funding_bias,
    milestone_logit,
    seed_age_log_mean,
    seed_bump,
    seed_probability,
    static_milestone_effect,
)
from talentmap.generate.outcomes import Outcomes

#: Candidates are organisations founded within the 5 years before the as-of date.
CANDIDATE_MAX_AGE_MONTHS = 59
#: Monte Carlo draws of the as-of oracle per row: antithetic pairs of future random
#: walks, each draw in its own stratum of the seed plan. Error measured in GENERATOR.md.
ASOF_DRAWS = 64
#: Candidate rows per block of the as-of pass: bounds its memory (about 15 float32
#: arrays of horizon x rows, some 100 MB) whatever the chunk size.
ASOF_BLOCK_ROWS = 65_536
#: Log-odds standing in for "no closure possible yet" (age < 3 months): exp(80) still
#: fits a float32, and sigmoid(-80) is 0 to float precision.
_NO_CLOSURE = -80.0
#: Seed age of a draw with no later seed: its bump, exp(-(1e6/7)^2 / 2), is exactly 0.
_NO_SEED = 1e6


@dataclass
class OracleRows:
    org: np.ndarray  # local index in the chunk
    month: np.ndarray  # as-of month index (as-of date = its last day)
    p_true: np.ndarray  # float32, the as-of oracle
    p_path: np.ndarray  # float32, the path oracle (knows the path's future)
    label: np.ndarray  # realised label, or -1 where the window passes the snapshot


def as_of_months(grid: MonthGrid, every_months: int) -> np.ndarray:
    return np.arange(0, grid.n_months, every_months, dtype=np.int64)


def window_probability(
    path: HazardPath, months: np.ndarray, horizon: int = HORIZON_MONTHS
) -> np.ndarray:
    """(n_orgs, len(months)) path-oracle probability of a milestone within ``horizon``."""
    n = path.h_milestone.shape[0]
    survive = np.ones((n, months.shape[0]), dtype=np.float64)
    p = np.zeros((n, months.shape[0]), dtype=np.float64)
    for k in range(1, horizon + 1):
        h = path.h_milestone[:, months + k]
        p += survive * h
        survive *= (1.0 - h) * (1.0 - path.h_close[:, months + k])
    return p


def _org_blocks(org_sorted: np.ndarray, block_rows: int) -> list[tuple[int, int]]:
    """Row ranges of about ``block_rows`` rows that never split an organisation."""
    starts = np.flatnonzero(np.r_[True, org_sorted[1:] != org_sorted[:-1]])
    bounds, lo = [], 0
    while lo < org_sorted.shape[0]:
        hi = lo + block_rows
        if hi >= org_sorted.shape[0]:
            hi = org_sorted.shape[0]
        else:  # move to the first row of the next organisation (or past the last one)
            nxt = starts[np.searchsorted(starts, hi)] if hi <= starts[-1] else None
            hi = int(nxt) if nxt is not None and nxt > lo else org_sorted.shape[0]
        bounds.append((lo, hi))
        lo = hi
    return bounds


def _window(h: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Competing-risk window probability of (horizon, rows) hazard matrices (in place).

    Horizon-major, so that the survival product runs over contiguous row vectors (a
    row-wise ``cumprod`` over a short axis is several times slower).
    """
    np.subtract(1.0, c, out=c)
    c *= 1.0 - h  # c[k]: probability of getting through month k with no event
    for j in range(1, c.shape[0]):
        c[j] *= c[j - 1]  # survival to the end of month j
    h[1:] *= c[:-1]
    return h.sum(axis=0, dtype=np.float64)


def _sigmoid_into(x: np.ndarray, scale: np.ndarray | float = 1.0) -> np.ndarray:
    """``scale * sigmoid(x)`` in place (x is bounded here, so no clipping is needed)."""
    np.negative(x, out=x)
    np.exp(x, out=x)
    x += 1.0
    return np.divide(scale, x, out=x)


def asof_probability(
    rng: np.random.Generator,
    orgs: Orgs,
    path: HazardPath,
    grid: MonthGrid,
    org: np.ndarray,
    month: np.ndarray,
    *,
    draws: int | None = None,
    step_sd: float = STEP_SD,
    horizon: int = HORIZON_MONTHS,
    block_rows: int = ASOF_BLOCK_ROWS,
) -> np.ndarray:
    """E[window probability | hidden state at ``month``] for each (org, month) row.

    Reads from ``path`` only what is known at the row's month: the trajectory at that
    month, the slope, and the seed month if the seed round is on or before it. The
    future random walk (``step_sd`` per month) and, for a company not seeded yet, the
    seed plan are drawn ``draws`` times from ``rng``: one random walk per organisation
    and pair of draws, used with both signs (antithetic), and one seed-plan uniform per
    organisation and draw in that draw's stratum of [0, 1).
    """
    draws = ASOF_DRAWS if draws is None else draws
    if draws < 2 or draws % 2:
        raise ValueError("draws must be a positive even number (antithetic pairs)")
    if path.slope is None:
        raise ValueError("the hidden path has no slope: draw it with hidden.draw_path")
    out = np.empty(org.shape[0], dtype=np.float64)
    if org.shape[0] == 0:
        return out
    order = np.argsort(org, kind="stable")
    org_s, month_s = org[order], month[order]
    k = np.arange(1, horizon + 1)
    calendar = calendar_effect(grid).astype(np.float32)
    static = static_milestone_effect(orgs).astype(np.float32)
    bias = funding_bias(orgs).astype(np.float32)
    p_seed = seed_probability(orgs)
    log_mean = seed_age_log_mean(orgs.latent)
    for lo, hi in _org_blocks(org_s, block_rows):
        # Rows not seeded yet come first in the block, so that a draw's seed bump is
        # added to a slice (column fancy-indexing of the matrices is slow).
        planned = path.seed_month[org_s[lo:hi]]
        seeded = (planned >= 0) & (planned <= month_s[lo:hi])
        first = np.argsort(seeded, kind="stable")
        rows = order[lo:hi][first]
        o, m, planned, seeded = (
            org_s[lo:hi][first],
            month_s[lo:hi][first],
            planned[first],
            seeded[first],
        )
        n_later = int((~seeded).sum())
        uniq, local = np.unique(o, return_inverse=True)
        a = m - orgs.founded_month[o]  # age in months at the as-of month
        # Matrices are (horizon, rows): month m + k of every row of the block.
        age = (k[:, None] + a[None, :]).astype(np.float32)
        known = path.trajectory[o, m].astype(np.float32)
        drift = known[None, :] + (k.astype(np.float32) / 12.0)[:, None] * path.slope[o][None, :]
        known_age = np.where(seeded, planned - orgs.founded_month[o], 0).astype(np.float32)
        known_bump = np.where(seeded[None, :], seed_bump(age, known_age[None, :]), 0.0)
        base_m = milestone_logit(
            drift, age, known_bump, calendar[k[:, None] + m[None, :]], static[o][None, :]
        ).astype(np.float32)
        base_c = close_logit(drift, age).astype(np.float32)
        base_c[age < 3] = _NO_CLOSURE
        row_bias = bias[o][None, :]
        del drift, known_bump

        # Seed plan of the rows not seeded yet: P(seed later | none by age a), and the
        # tail P(seed age > a) of its log-normal age (round(exp(X)) > a iff X > log(a+.5)).
        ol, al = o[:n_later], a[:n_later]
        tail = np.where(
            al < MIN_SEED_AGE,
            1.0,
            ndtr((log_mean[ol] - np.log(np.maximum(al, 1) + 0.5)) / SEED_AGE_SD),
        )
        w_later = p_seed[ol] * tail / (1.0 - p_seed[ol] + p_seed[ol] * tail)
        local_later = local[:n_later]
        age_later = age[:, :n_later]

        total = np.zeros(hi - lo, dtype=np.float64)
        logit = np.empty_like(base_m)
        close = np.empty_like(base_c)
        stratum = 0
        for _ in range(draws // 2):
            walk = np.cumsum(rng.standard_normal((uniq.shape[0], horizon), dtype=np.float32), 1)
            walk *= np.float32(step_sd)
            walk_rows = np.ascontiguousarray(walk.T)[:, local]
            for sign in (1.0, -1.0):
                seed_u = (stratum + rng.random(uniq.shape[0])[local_later]) / draws
                stratum += 1
                seed_age = _seed_plan(seed_u, w_later, tail, log_mean[ol], al)
                total += _one_draw(
                    base_m, base_c, row_bias, walk_rows, sign, seed_age, age_later, logit, close
                )
        out[rows] = total / draws
    return out


def _seed_plan(
    seed_u: np.ndarray,
    w_later: np.ndarray,
    tail: np.ndarray,
    log_mean: np.ndarray,
    age_now: np.ndarray,
) -> np.ndarray:
    """Seed age of each not-yet-seeded row for one draw (``_NO_SEED`` if it never seeds).

    ``seed_u`` below ``w_later`` (the posterior probability of a later seed) means a
    later seed; ``seed_u / w_later`` is then uniform, and inverts the log-normal age
    truncated to X > log(age_now + 0.5), whose upper tail mass is ``tail``.
    """
    has = np.flatnonzero(seed_u < w_later)
    v = seed_u[has] / w_later[has]
    upper = np.maximum(tail[has] * (1.0 - v), 1e-300)
    x = log_mean[has] - SEED_AGE_SD * ndtri(upper)
    seed_age = np.full(seed_u.shape[0], _NO_SEED, dtype=np.float32)
    seed_age[has] = np.maximum(np.maximum(MIN_SEED_AGE, np.round(np.exp(x))), age_now[has] + 1)
    return seed_age


def _one_draw(
    base_m: np.ndarray,
    base_c: np.ndarray,
    row_bias: np.ndarray,
    walk_rows: np.ndarray,
    sign: float,
    seed_age: np.ndarray,
    age_later: np.ndarray,
    logit: np.ndarray,
    close: np.ndarray,
) -> np.ndarray:
    """Window probability of every row of a block for one future walk and seed plan."""
    np.multiply(walk_rows, np.float32(sign * MILESTONE_SLOPE), out=logit)
    logit += base_m
    if seed_age.shape[0]:  # the rows not seeded yet are the first ones
        logit[:, : seed_age.shape[0]] += seed_bump(age_later, seed_age[None, :])
    h = _sigmoid_into(logit, row_bias)
    np.multiply(walk_rows, np.float32(sign * CLOSE_SLOPE), out=close)
    close += base_c
    return _window(h, _sigmoid_into(close))


def oracle_rows(
    path: HazardPath,
    orgs: Orgs,
    outcomes: Outcomes,
    grid: MonthGrid,
    every_months: int,
    keep: np.ndarray,
    rng: np.random.Generator,
    *,
    draws: int | None = None,
) -> OracleRows:
    """Rows for every kept org alive, young and milestone-free at each as-of month.

    ``rng`` is the as-of oracle's own stream: nothing else of the world draws from it.
    ``draws`` defaults to ``ASOF_DRAWS`` (read at call time).
    """
    months = as_of_months(grid, every_months)
    m = months[None, :]
    f = orgs.founded_month[:, None]
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
    p_path = p[np.searchsorted(rows_orgs, org), col].astype(np.float32)
    del p, sub
    as_of = months[col]
    p_true = asof_probability(rng, orgs, path, grid, org, as_of, draws=draws).astype(np.float32)
    ms = outcomes.milestone_month[org]
    covered = as_of + HORIZON_MONTHS <= grid.n_months - 1
    label = np.where(covered, ((ms > as_of) & (ms <= as_of + HORIZON_MONTHS)).astype(np.int8), -1)
    return OracleRows(
        org=org, month=as_of, p_true=p_true, p_path=p_path, label=label.astype(np.int8)
    )
