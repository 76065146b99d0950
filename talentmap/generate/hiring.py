"""Headcount and job postings: growth driven by the hidden trajectory and by funding.

Monthly log-growth rises with the hidden trajectory, plus jumps after each round (hiring
clusters right after money comes in). Headcount is observed at irregular dates with
measurement noise; job postings are a Poisson stream proportional to hiring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talentmap.generate.calendar import MonthGrid, uniform_month
from talentmap.generate.funding import SEED, SERIES_A_T, SERIES_B_T, SERIES_C_T, UNKNOWN, Rounds
from talentmap.generate.hidden import HazardPath, Orgs
from talentmap.generate.outcomes import Outcomes

CATEGORIES = [
    "engineering",
    "data",
    "research",
    "product",
    "sales",
    "marketing",
    "operations",
    "customer_success",
    "finance",
]
_CAT_P = np.array([30, 8, 5, 8, 18, 10, 9, 8, 4], dtype=float)
_CAT_P /= _CAT_P.sum()
_JUMP = {SEED: 0.35, UNKNOWN: 0.2, SERIES_A_T: 0.6, SERIES_B_T: 0.5, SERIES_C_T: 0.4}


@dataclass
class Hiring:
    hc_org: np.ndarray
    hc_month: np.ndarray
    headcount: np.ndarray
    job_org: np.ndarray
    job_month: np.ndarray
    job_category: np.ndarray


def draw_hiring(
    rng: np.random.Generator,
    orgs: Orgs,
    path: HazardPath,
    out: Outcomes,
    rounds: Rounds,
    grid: MonthGrid,
) -> Hiring:
    n, months = orgs.n, grid.n_months
    f = orgs.founded_month
    stop = np.minimum(out.stop_month, months - 1)
    age = np.arange(months)[None, :] - f[:, None]
    active = (age >= 0) & (np.arange(months)[None, :] <= stop[:, None])

    growth = 0.01 + 0.02 * path.trajectory[:, :months] + rng.normal(0, 0.03, (n, months))
    growth = growth.astype(np.float32)
    for rtype, jump in _JUMP.items():
        sel = (rounds.round_type == rtype) & (rounds.month < months) & (rounds.month >= 0)
        np.add.at(growth, (rounds.org[sel], rounds.month[sel]), jump)
    growth[~active] = 0.0
    log_hc = np.log(orgs.team_size.astype(np.float32))[:, None] + np.cumsum(growth, axis=1)
    log_hc = np.clip(log_hc, 0.0, np.log(3000.0))

    # Headcount observations, about every 8 months of activity.
    alive_months = np.maximum(stop - f + 1, 0)
    count = rng.poisson(alive_months / 8.0)
    hc_org = np.repeat(np.arange(n), count)
    hc_month = uniform_month(rng, f[hc_org], stop[hc_org])
    noise = np.exp(rng.normal(0, 0.12, hc_org.shape[0]))
    headcount = np.maximum(1, np.round(np.exp(log_hc[hc_org, hc_month]) * noise)).astype(np.int64)

    # Job postings: the share of monthly hires a source catches.
    hires = np.exp(log_hc) * np.maximum(growth, 0.0)
    rate = np.where(active, np.minimum(0.25 * hires, 10.0) + 0.01, 0.0)
    posts = rng.poisson(rate)
    job_org, job_month = np.nonzero(posts)
    reps = posts[job_org, job_month]
    job_org, job_month = np.repeat(job_org, reps), np.repeat(job_month, reps)
    job_cat = rng.choice(len(CATEGORIES), size=job_org.shape[0], p=_CAT_P)
    job_cat = np.where(rng.random(job_org.shape[0]) < 0.1, -1, job_cat)
    return Hiring(hc_org, hc_month, headcount, job_org, job_month, job_cat)
