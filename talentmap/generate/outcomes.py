"""Simulate each organisation's fate from its hazard path.

The first milestone and a pre-milestone closure are competing risks drawn month by
month from exactly the hazards the oracle reads (a milestone wins a tie within a
month, as in the oracle's recursion). What happens after the first milestone (later
series, exits, closures) no longer matters to the label, so it is drawn in closed form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talentmap.generate.calendar import MonthGrid, uniform_month
from talentmap.generate.hidden import WOMEN_LED_FUNDING_FACTOR, HazardPath, Orgs

NEVER = np.int64(10**6)

# Kinds of the first milestone.
SERIES_A, LARGE_SEED, LARGE_UNKNOWN, EARLY_EXIT = 0, 1, 2, 3
_MILESTONE_KIND_P = [0.82, 0.05, 0.03, 0.10]
ACQUIRED, IPO = 0, 1  # indices into contract.EXIT_KINDS (checked by the tests)


@dataclass
class Outcomes:
    milestone_month: np.ndarray
    milestone_kind: np.ndarray
    close_month: np.ndarray
    series_b_month: np.ndarray
    series_c_month: np.ndarray
    exit_month: np.ndarray
    exit_kind: np.ndarray

    @property
    def stop_month(self) -> np.ndarray:
        """Last month the organisation is active (closure or exit month included)."""
        return np.minimum(self.close_month, self.exit_month)


def _first_hit(rng: np.random.Generator, hazard: np.ndarray) -> np.ndarray:
    hit = rng.random(hazard.shape, dtype=np.float32) < hazard
    return np.where(hit.any(axis=1), hit.argmax(axis=1), NEVER).astype(np.int64)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _maybe(
    rng: np.random.Generator, p: np.ndarray, month: np.ndarray, gate: np.ndarray, last: int
) -> np.ndarray:
    """``month`` where a Bernoulli(p) succeeds, the gate holds and it is in the data."""
    ok = gate & (rng.random(p.shape[0]) < p) & (month <= last)
    return np.where(ok, month, NEVER)


def simulate(rng: np.random.Generator, orgs: Orgs, path: HazardPath, grid: MonthGrid) -> Outcomes:
    n, last = orgs.n, grid.n_months - 1
    milestone = _first_hit(rng, path.h_milestone[:, : grid.n_months])
    closure = _first_hit(rng, path.h_close[:, : grid.n_months])
    closed_first = closure < milestone
    milestone = np.where(closed_first, NEVER, milestone)
    pre_close = np.where(closed_first, closure, NEVER)

    kind = rng.choice(4, size=n, p=_MILESTONE_KIND_P)
    reached = milestone < NEVER
    early_exit = reached & (kind == EARLY_EXIT)
    raised = reached & ~early_exit

    lat = orgs.latent
    bias = np.where(orgs.women_led, WOMEN_LED_FUNDING_FACTOR, 1.0)
    b_month = _maybe(
        rng,
        _sigmoid(0.0 + 0.9 * lat) * bias,
        milestone + uniform_month(rng, np.full(n, 15), np.full(n, 36)),
        raised,
        last,
    )
    c_month = _maybe(
        rng,
        _sigmoid(-0.6 + 0.9 * lat) * bias,
        b_month + uniform_month(rng, np.full(n, 18), np.full(n, 36)),
        b_month < NEVER,
        last,
    )
    last_round = np.where(c_month < NEVER, c_month, np.where(b_month < NEVER, b_month, milestone))

    later_exit = _maybe(
        rng,
        _sigmoid(-1.3 + 0.6 * lat),
        last_round + uniform_month(rng, np.full(n, 12), np.full(n, 48)),
        raised,
        last,
    )
    later_close = _maybe(
        rng,
        _sigmoid(-1.2 - 0.8 * lat),
        last_round + uniform_month(rng, np.full(n, 12), np.full(n, 48)),
        raised,
        last,
    )
    later_exit = np.where(later_close < later_exit, NEVER, later_exit)
    later_close = np.where(later_exit <= later_close, NEVER, later_close)

    exit_month = np.where(early_exit, milestone, later_exit)
    ipo_p = np.where(c_month < NEVER, 0.12, 0.02)
    exit_kind = np.where(rng.random(n) < ipo_p, IPO, ACQUIRED)
    exit_kind = np.where(early_exit, ACQUIRED, exit_kind)
    return Outcomes(
        milestone_month=milestone,
        milestone_kind=np.where(reached, kind, -1),
        close_month=np.minimum(pre_close, later_close),
        series_b_month=b_month,
        series_c_month=c_month,
        exit_month=exit_month,
        exit_kind=exit_kind,
    )
