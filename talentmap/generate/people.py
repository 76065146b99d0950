"""Founders and staff: people, their roles, and serial founders.

Founders' talent is hidden and feeds the organisation's latent quality; what the data
shows of it is noisy: schools (which also depend on region, a confounder), PhDs (which
depend on the sector) and prior ventures. Serial founders are real people of the world:
a later company with a strong latent is more likely to be led by someone whose earlier
company (in the same world) exited, or at least ended, before it was founded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talentmap import contract
from talentmap.generate import sectors
from talentmap.generate.calendar import MonthGrid, uniform_month
from talentmap.generate.hidden import Orgs
from talentmap.generate.outcomes import NEVER, Outcomes

GENDERS: list[str] = list(contract.GENDERS)
F, M, X = (GENDERS.index(g) for g in ("F", "M", "X"))
UNKNOWN = len(GENDERS)  # gender not recorded
ROLES: list[str] = list(contract.ROLE_KINDS)
FOUNDER, EXECUTIVE, EMPLOYEE, ADVISOR, BOARD = (
    ROLES.index(r) for r in ("founder", "executive", "employee", "advisor", "board")
)
TITLES = [
    "CEO",
    "Président",
    "CTO",
    "COO",
    "CPO",
    "Co-founder",
    "Chief Scientific Officer",
    "CFO",
    "VP Engineering",
    "VP Sales",
    "CMO",
    "Head of Product",
    "Software Engineer",
    "Data Scientist",
    "Sales Manager",
    "Business Developer",
    "Product Manager",
    "Research Engineer",
    "Advisor",
    "Scientific Advisor",
    "Board Member",
    "Independent Director",
]
_T = {t: i for i, t in enumerate(TITLES)}


@dataclass
class People:
    """One entry per person of the chunk (before dropping unreferenced ones)."""

    gender: np.ndarray
    birth_year: np.ndarray  # always drawn; ``birth_year_known`` says if it is recorded
    birth_year_known: np.ndarray
    talent: np.ndarray
    phd: np.ndarray
    elite: np.ndarray
    home_org: np.ndarray  # the org they were drawn for (their first org)


@dataclass
class Roles:
    person: np.ndarray
    org: np.ndarray
    role: np.ndarray
    title: np.ndarray  # -1: none recorded
    start_month: np.ndarray
    end_month: np.ndarray  # NEVER: still in role at the snapshot


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _draw_people(
    rng: np.random.Generator,
    home: np.ndarray,
    talent: np.ndarray,
    gender: np.ndarray,
    orgs: Orgs,
    grid: MonthGrid,
) -> People:
    m = home.shape[0]
    year = grid.year_of(orgs.founded_month[home])
    age = 22 + rng.gamma(3.0, 4.0, m)
    rd = sectors.RD[orgs.sector[home]]
    return People(
        gender=gender,
        birth_year=(year - age).astype(np.int64),
        birth_year_known=rng.random(m) > 0.08,
        talent=talent,
        phd=rng.random(m) < _sigmoid(-3.0 + 0.6 * talent + 2.6 * rd),
        elite=rng.random(m) < _sigmoid(-1.3 + 0.9 * talent + 0.6 * orgs.is_idf[home]),
        home_org=home,
    )


def draw_people_and_roles(
    rng: np.random.Generator,
    orgs: Orgs,
    out: Outcomes,
    grid: MonthGrid,
    visible: np.ndarray,
    seed_month: np.ndarray,
) -> tuple[People, Roles]:
    n, last = orgs.n, grid.n_months - 1
    f = orgs.founded_month
    stop = np.minimum(out.stop_month, last)
    ms_reached = out.milestone_month < NEVER

    # Founders: slot 0 leads; the lead's gender defines "women-led" (hidden flag).
    slot_org = np.repeat(np.arange(n), orgs.team_size)
    slot = np.arange(slot_org.shape[0]) - np.repeat(
        np.cumsum(orgs.team_size) - orgs.team_size, orgs.team_size
    )
    talent = orgs.talent[slot_org, slot]
    u = rng.random(slot_org.shape[0])
    co_f = np.where(orgs.women_led[slot_org], 0.35, 0.17)
    co_gender = np.select([u < co_f, u < co_f + 0.01, u < co_f + 0.03], [F, X, UNKNOWN], M)
    lead_gender = np.where(orgs.women_led[slot_org], F, np.where(u < 0.02, X, M))
    gender = np.where(slot == 0, lead_gender, co_gender)

    # Staff: executives after funding, early employees, advisors, board after series A.
    # Only what is known when a person is hired may set how many are hired before the
    # milestone: executives before it follow the seed round and the hidden quality (a
    # cause of the outcome, drawn at founding), never the milestone itself. A reached
    # milestone brings more executives, hired from its month on (``after_ms``), as the
    # board after a series A: a candidate (milestone-free at t) never sees them.
    has_seed = seed_month >= 0
    counts = {
        EXECUTIVE: rng.poisson(0.3 + 0.6 * has_seed * np.exp(0.25 * orgs.latent)),
        EMPLOYEE: rng.poisson(1.0, n),
        ADVISOR: rng.poisson(0.35, n),
        BOARD: rng.poisson(np.where(ms_reached, 1.3, 0.1)),
    }
    later_executives = rng.poisson(0.8 * ms_reached)
    staff_org = np.concatenate(
        [
            *(np.repeat(np.arange(n), c) for c in counts.values()),
            np.repeat(np.arange(n), later_executives),
        ]
    )
    staff_role = np.concatenate(
        [
            *(np.full(int(c.sum()), r) for r, c in counts.items()),
            np.full(int(later_executives.sum()), EXECUTIVE),
        ]
    )
    s = staff_org.shape[0]
    after_ms = np.arange(s) >= s - int(later_executives.sum())
    us = rng.random(s)
    staff_gender = np.select([us < 0.3, us < 0.31, us < 0.33], [F, X, UNKNOWN], M)

    home = np.concatenate([slot_org, staff_org])
    people = _draw_people(
        rng,
        home,
        np.concatenate([talent, rng.normal(0, 1, s)]),
        np.concatenate([gender, staff_gender]),
        orgs,
        grid,
    )
    n_founders = slot_org.shape[0]
    person = np.arange(home.shape[0])

    # Founder roles start at (or a little before) founding and end at closure or after exit.
    f_start = f[slot_org] - (rng.random(n_founders) < 0.3)
    f_end = np.where(out.close_month[slot_org] < NEVER, out.close_month[slot_org], NEVER)
    after_exit = out.exit_month[slot_org] + rng.integers(0, 25, n_founders)
    f_end = np.where(
        (out.exit_month[slot_org] < NEVER) & (after_exit <= last),
        np.minimum(f_end, after_exit),
        f_end,
    )
    leaves = (slot > 0) & (rng.random(n_founders) < 0.1)
    leave_month = f[slot_org] + rng.integers(12, 48, n_founders)
    f_end = np.where(leaves & (leave_month < np.minimum(f_end, last + 1)), leave_month, f_end)
    rd = sectors.RD[orgs.sector[slot_org]]
    co_title = np.select(
        [u < 0.35, u < 0.55, u < 0.65, (u < 0.75) & (rd > 0.5)],
        [_T["CTO"], _T["COO"], _T["CPO"], _T["Chief Scientific Officer"]],
        _T["Co-founder"],
    )
    lead_title = np.where(u < 0.1, _T["Président"], _T["CEO"])
    f_title = np.where(rng.random(n_founders) < 0.1, -1, np.where(slot == 0, lead_title, co_title))

    # Staff roles start between founding (or the seed round for executives) and the stop.
    lo = np.where(
        (staff_role == EXECUTIVE) & (seed_month[staff_org] >= 0),
        seed_month[staff_org],
        f[staff_org] + 3,
    )
    lo = np.where(
        (staff_role == BOARD) | after_ms,
        np.minimum(out.milestone_month[staff_org], stop[staff_org]),
        lo,
    )
    s_start = uniform_month(rng, lo, stop[staff_org])
    s_ok = s_start <= stop[staff_org]
    s_end = s_start + rng.integers(12, 60, s)
    s_end = np.where(
        (rng.random(s) < 0.35) & (s_end <= stop[staff_org]),
        s_end,
        np.where(
            stop[staff_org] < np.minimum(out.stop_month[staff_org], NEVER), stop[staff_org], NEVER
        ),
    )
    title_pools = {
        EXECUTIVE: ["CFO", "VP Engineering", "VP Sales", "CMO", "Head of Product"],
        EMPLOYEE: [
            "Software Engineer",
            "Data Scientist",
            "Sales Manager",
            "Business Developer",
            "Product Manager",
            "Research Engineer",
        ],
        ADVISOR: ["Advisor", "Scientific Advisor"],
        BOARD: ["Board Member", "Independent Director"],
    }
    s_title = np.full(s, -1)
    for role, pool in title_pools.items():
        ids = np.array([_T[t] for t in pool])
        pick = ids[rng.integers(0, len(ids), s)]
        s_title = np.where(staff_role == role, pick, s_title)

    roles = Roles(
        person=np.concatenate([person[:n_founders], person[n_founders:][s_ok]]),
        org=np.concatenate([slot_org, staff_org[s_ok]]),
        role=np.concatenate([np.full(n_founders, FOUNDER), staff_role[s_ok]]),
        title=np.concatenate([f_title, s_title[s_ok]]),
        start_month=np.concatenate([f_start, s_start[s_ok]]),
        end_month=np.concatenate([f_end, s_end[s_ok]]),
    )
    _serial_founders(rng, orgs, out, people, roles, slot, visible, n_founders)
    return people, roles


def _serial_founders(
    rng: np.random.Generator,
    orgs: Orgs,
    out: Outcomes,
    people: People,
    roles: Roles,
    slot: np.ndarray,
    visible: np.ndarray,
    n_founders: int,
) -> None:
    """Re-cast some lead founders as people whose earlier venture ended first (in place)."""
    lead_rows = np.nonzero(slot == 0)[0]  # founder role rows == founder person ids
    lead_org = roles.org[lead_rows]
    lat = orgs.latent[lead_org]
    wants = rng.random(lead_rows.shape[0]) < _sigmoid(-3.0 + 0.9 * lat)
    wants_exit = rng.random(lead_rows.shape[0]) < _sigmoid(-0.5 + 0.8 * lat)

    founder_org = roles.org[:n_founders]
    exited = out.exit_month[founder_org] < NEVER
    org_ended = exited | (out.close_month[founder_org] < NEVER)
    ended = np.where(org_ended, roles.end_month[:n_founders], NEVER)
    # Companies that will themselves get a serial lead do not lend founders (no chains).
    recast = np.zeros(orgs.n, dtype=bool)
    recast[lead_org] = wants
    lead_is_f = people.gender[lead_rows] == F
    chosen = np.full(lead_rows.shape[0], -1)
    for pool_exit in (True, False):
        for is_f in (True, False):
            pool = np.nonzero(
                (ended < NEVER)
                & visible[founder_org]
                & ~recast[founder_org]
                & (exited == pool_exit)
                & ((people.gender[:n_founders] == F) == is_f)
            )[0]
            if pool.shape[0] == 0:
                continue
            pool = pool[np.argsort(ended[pool], kind="stable")]
            target = wants & (wants_exit == pool_exit) & (lead_is_f == is_f)
            available = np.searchsorted(ended[pool], orgs.founded_month[lead_org], side="left")
            ok = target & (available > 0)
            pick = np.floor(rng.random(lead_rows.shape[0]) * np.maximum(available, 1))
            chosen = np.where(
                ok, pool[np.minimum(pick.astype(np.int64), pool.shape[0] - 1)], chosen
            )
    # A person restarts once at most here, and never in their own company.
    ok = (chosen >= 0) & (founder_org[np.maximum(chosen, 0)] != lead_org)
    _, first = np.unique(np.where(ok, chosen, -1 - np.arange(chosen.shape[0])), return_index=True)
    dedup = np.zeros_like(ok)
    dedup[first] = True
    ok &= dedup
    roles.person[lead_rows[ok]] = chosen[ok]
