"""Publications: papers and preprints of PhD founders, patents and software of companies.

Patents follow research intensity and quality (informative); software releases barely
depend on quality; venue names are pure noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talentmap import contract
from talentmap.generate import sectors
from talentmap.generate.calendar import MonthGrid, uniform_month
from talentmap.generate.education import PHD, Degrees
from talentmap.generate.hidden import Orgs
from talentmap.generate.outcomes import Outcomes
from talentmap.generate.people import People, Roles

PUB_KINDS: list[str] = list(contract.PUBLICATION_KINDS)
PAPER, PREPRINT, PATENT, SOFTWARE = (
    PUB_KINDS.index(k) for k in ("paper", "preprint", "patent", "software")
)
VENUES = [
    "NeurIPS",
    "ICML",
    "Nature Communications",
    "PLOS ONE",
    "IEEE Transactions",
    "The Lancet Digital Health",
    "Physical Review Letters",
    "ACS Nano",
    "arXiv",
    "bioRxiv",
    "HAL",
    "INPI",
    "EPO",
    "USPTO",
    "WIPO",
    "GitHub",
    "PyPI",
    "npm",
    "crates.io",
    "Hugging Face",
]
_PAPER_V = np.arange(0, 8)
_PREPRINT_V = np.arange(8, 11)
_PATENT_V = np.arange(11, 15)
_SOFTWARE_V = np.arange(15, 20)


@dataclass
class Publications:
    person: np.ndarray  # -1: none
    org: np.ndarray  # -1: none
    month: np.ndarray
    kind: np.ndarray
    venue: np.ndarray  # -1: none


def _pick(rng: np.random.Generator, pool: np.ndarray, m: int) -> np.ndarray:
    return pool[rng.integers(0, pool.shape[0], m)]


def draw_publications(
    rng: np.random.Generator,
    orgs: Orgs,
    out: Outcomes,
    people: People,
    roles: Roles,
    degrees: Degrees,
    grid: MonthGrid,
) -> Publications:
    last = grid.n_months - 1
    f = orgs.founded_month
    stop = np.minimum(out.stop_month, last)

    # Papers by PhD founders, around and after their doctorate.
    founder_rows = np.nonzero(roles.role == 0)[0]
    f_person, f_org = roles.person[founder_rows], roles.org[founder_rows]
    has_phd = np.zeros(people.gender.shape[0], dtype=bool)
    has_phd[degrees.person[degrees.degree == PHD]] = True
    phd_rows = has_phd[f_person]
    f_person, f_org = f_person[phd_rows], f_org[phd_rows]
    f_person, first = np.unique(f_person, return_index=True)  # serial founders publish once
    f_org = f_org[first]
    count = rng.poisson(2.5 * np.exp(0.3 * people.talent[f_person]))
    p_person = np.repeat(f_person, count)
    p_org_of = np.repeat(f_org, count)
    grad_month = (people.birth_year[p_person] + 26 - grid.start.year) * 12
    month = uniform_month(rng, grad_month - 36, np.minimum(grad_month + 120, last))
    keep = month <= last
    p_person, p_org_of, month = p_person[keep], p_org_of[keep], month[keep]
    at_org = (month >= f[p_org_of]) & (month <= stop[p_org_of])
    kind = np.where(rng.random(p_person.shape[0]) < 0.7, PAPER, PREPRINT)
    m = p_person.shape[0]
    venue = np.where(kind == PAPER, _pick(rng, _PAPER_V, m), _pick(rng, _PREPRINT_V, m))
    venue = np.where(rng.random(m) < 0.1, -1, venue)

    # Patents and software of companies.
    alive_years = np.maximum(stop - f, 0) / 12.0
    rd = sectors.RD[orgs.sector]
    pat = rng.poisson(np.exp(-2.3 + 1.8 * rd + 0.45 * orgs.latent) * alive_years / 3)
    sw = rng.poisson(
        sectors.SOFTWARE[orgs.sector] * np.exp(-0.8 + 0.1 * orgs.latent) * alive_years / 2
    )
    pat_org, sw_org = np.repeat(np.arange(orgs.n), pat), np.repeat(np.arange(orgs.n), sw)
    pat_month = uniform_month(rng, f[pat_org] + 4, stop[pat_org])
    sw_month = uniform_month(rng, f[sw_org], stop[sw_org])
    pat_ok, sw_ok = pat_month <= stop[pat_org], sw_month <= stop[sw_org]
    pat_org, pat_month = pat_org[pat_ok], pat_month[pat_ok]
    sw_org, sw_month = sw_org[sw_ok], sw_month[sw_ok]
    a, b = pat_org.shape[0], sw_org.shape[0]
    return Publications(
        person=np.concatenate([p_person, np.full(a + b, -1)]),
        org=np.concatenate([np.where(at_org, p_org_of, -1), pat_org, sw_org]),
        month=np.concatenate([month, pat_month, sw_month]),
        kind=np.concatenate([kind, np.full(a, PATENT), np.full(b, SOFTWARE)]),
        venue=np.concatenate([venue, _pick(rng, _PATENT_V, a), _pick(rng, _SOFTWARE_V, b)]),
    )
