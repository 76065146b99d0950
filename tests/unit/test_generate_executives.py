"""The generator's executives before a milestone do not encode whether it will come.

Until this rule, a company's number of executives was drawn from whether its milestone
would eventually be reached, and the hires spread at random before it: a candidate's
executive headcount told its future. Here the same companies, with the same hidden state
and seed rounds, are drawn twice: once reaching a milestone at month ``MS``, once never.
Executives hired before ``MS`` must be alike in both (what was known at hire time is the
same); a reached milestone may bring more, but only from its month on.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from talentmap.generate.calendar import MonthGrid
from talentmap.generate.hidden import draw_orgs
from talentmap.generate.outcomes import NEVER, Outcomes
from talentmap.generate.people import EXECUTIVE, draw_people_and_roles

N = 6000
SEED_MONTH = 12
MS = 60


def _executives(reached: bool) -> tuple[np.ndarray, np.ndarray]:
    """(org, start month) of every executive role, for milestone at ``MS`` or never."""
    grid = MonthGrid(date(2012, 1, 1), date(2025, 12, 31))
    rng = np.random.default_rng(7)
    orgs = draw_orgs(rng, N, grid)
    orgs.founded_month[:] = 0
    never = np.full(N, NEVER, dtype=np.int64)
    out = Outcomes(
        milestone_month=np.full(N, MS if reached else NEVER, dtype=np.int64),
        milestone_kind=np.full(N, 0 if reached else -1, dtype=np.int64),
        close_month=never.copy(),
        series_b_month=never.copy(),
        series_c_month=never.copy(),
        exit_month=never.copy(),
        exit_kind=np.zeros(N, dtype=np.int64),
    )
    seed_month = np.full(N, SEED_MONTH, dtype=np.int64)
    _, roles = draw_people_and_roles(
        np.random.default_rng(11), orgs, out, grid, np.ones(N, dtype=bool), seed_month
    )
    is_exec = roles.role == EXECUTIVE
    return roles.org[is_exec], roles.start_month[is_exec]


def test_executives_before_the_milestone_do_not_depend_on_it() -> None:
    _, start_reached = _executives(reached=True)
    _, start_never = _executives(reached=False)
    before_reached = float((start_reached < MS).sum()) / N
    before_never = float((start_never < MS).sum()) / N
    # About 0.25 executive per company is hired before MS either way (standard error of
    # the difference ~0.01); the old rule gave ~1.5 against ~0.07.
    assert before_never > 0.1
    assert abs(before_reached - before_never) < 0.05, (before_reached, before_never)


def test_a_reached_milestone_brings_executives_only_from_its_month() -> None:
    _, start_reached = _executives(reached=True)
    _, start_never = _executives(reached=False)
    later = float((start_reached >= MS).sum()) / N - float((start_never >= MS).sum()) / N
    assert later > 0.5  # about 0.8 more executives per company, all from month MS on
    assert (start_reached >= SEED_MONTH).all()
