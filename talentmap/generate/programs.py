"""Incubators, accelerators, public programmes and competitions.

Membership is a confounded signal: it rises with hidden quality, but far more with
region (Île-de-France and its Station F programmes take many more companies whatever
their quality). i-Lab and i-Nov are competitions whose winners also get a Bpifrance
grant; JEI is the R&D tax status, tied to research intensity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talentmap import contract
from talentmap.generate import geography, sectors
from talentmap.generate.calendar import MonthGrid, uniform_month
from talentmap.generate.hidden import Orgs
from talentmap.generate.outcomes import NEVER, Outcomes

PROGRAM_KINDS: list[str] = list(contract.PROGRAM_KINDS)
INCUBATOR, ACCELERATOR, PUBLIC, COMPETITION = (
    PROGRAM_KINDS.index(k) for k in ("incubator", "accelerator", "public_program", "competition")
)


@dataclass(frozen=True)
class Program:
    program_id: str
    name: str
    kind: int
    region: str | None  # None: national (or international, for foreign orgs)


_IDF = "Île-de-France"
_CATALOG: list[Program] = [
    Program("prg-ilab", "i-Lab (concours d'innovation)", COMPETITION, None),
    Program("prg-inov", "i-Nov (concours d'innovation)", COMPETITION, None),
    Program("prg-jei", "Jeune Entreprise Innovante (JEI)", PUBLIC, None),
    Program("prg-ft-tremplin", "French Tech Tremplin", PUBLIC, None),
    Program("prg-ft120", "French Tech 120", PUBLIC, None),
    Program("prg-bpi-deeptech", "Bpifrance Deeptech Programme", PUBLIC, None),
    Program("prg-stationf-founders", "Station F Founders Program", ACCELERATOR, _IDF),
    Program("prg-stationf-hec", "Incubateur HEC Paris at Station F", INCUBATOR, _IDF),
    Program("prg-stationf-fighters", "Station F Fighters Program", ACCELERATOR, _IDF),
    Program("prg-agoranov", "Agoranov", INCUBATOR, _IDF),
    Program("prg-parisandco", "Paris&Co", INCUBATOR, _IDF),
    Program("prg-wilco", "Wilco", ACCELERATOR, _IDF),
    Program("prg-xnovation", "Drahi X-Novation Center", INCUBATOR, _IDF),
    Program("prg-psl", "Incubateur PSL", INCUBATOR, _IDF),
    Program("prg-euratech", "EuraTechnologies", ACCELERATOR, "Hauts-de-France"),
    Program("prg-eurasante", "Eurasanté Bio-Incubateur", INCUBATOR, "Hauts-de-France"),
    Program("prg-lyon-acc", "Accélérateur Lyon Métropole", ACCELERATOR, "Auvergne-Rhône-Alpes"),
    Program("prg-grenoble-inc", "Incubateur Grenoble Alpes", INCUBATOR, "Auvergne-Rhône-Alpes"),
    Program("prg-toulouse-inc", "Incubateur Toulouse Occitanie", INCUBATOR, "Occitanie"),
    Program("prg-montpellier-bic", "BIC Montpellier", INCUBATOR, "Occitanie"),
    Program(
        "prg-marseille-inc", "Incubateur Belle de Mai", INCUBATOR, "Provence-Alpes-Côte d'Azur"
    ),
    Program(
        "prg-sophia-acc", "Accélérateur Sophia Antipolis", ACCELERATOR, "Provence-Alpes-Côte d'Azur"
    ),
    Program("prg-bordeaux-inc", "Incubateur Bordeaux Technowest", INCUBATOR, "Nouvelle-Aquitaine"),
    Program("prg-nantes-inc", "Incubateur Atlanpole", INCUBATOR, "Pays de la Loire"),
    Program("prg-strasbourg-inc", "Incubateur SEMIA", INCUBATOR, "Grand Est"),
    Program("prg-rennes-inc", "Incubateur Emergys Bretagne", INCUBATOR, "Bretagne"),
    Program("prg-normandie-inc", "Normandie Incubation", INCUBATOR, "Normandie"),
    Program("prg-cvl-inc", "Incubateur Centre-Val de Loire", INCUBATOR, "Centre-Val de Loire"),
    Program("prg-bfc-inc", "Incubateur DECA-BFC", INCUBATOR, "Bourgogne-Franche-Comté"),
    Program("prg-corse-inc", "Incubateur Inizià", INCUBATOR, "Corse"),
    Program("prg-reunion-inc", "Technopole de La Réunion", INCUBATOR, "La Réunion"),
    Program("prg-guadeloupe-inc", "Incubateur Guadeloupe Technopole", INCUBATOR, "Guadeloupe"),
    Program("prg-martinique-inc", "Technopole Martinique", INCUBATOR, "Martinique"),
    Program("prg-guyane-inc", "Incubateur Guyane", INCUBATOR, "Guyane"),
    Program("prg-mayotte-inc", "Incubateur Mayotte", INCUBATOR, "Mayotte"),
    Program("prg-intl-acc-1", "Northbridge Accelerator", ACCELERATOR, None),
    Program("prg-intl-acc-2", "Founders Forge", ACCELERATOR, None),
]
PROGRAM_IDS = [p.program_id for p in _CATALOG]
PROGRAM_NAMES = [p.name for p in _CATALOG]
PROGRAM_KIND = np.array([p.kind for p in _CATALOG])
_INDEX = {p.program_id: i for i, p in enumerate(_CATALOG)}
ILAB, INOV, JEI = _INDEX["prg-ilab"], _INDEX["prg-inov"], _INDEX["prg-jei"]
TREMPLIN, FT120, DEEPTECH = (
    _INDEX["prg-ft-tremplin"],
    _INDEX["prg-ft120"],
    _INDEX["prg-bpi-deeptech"],
)
INTL_ACC = np.array([_INDEX["prg-intl-acc-1"], _INDEX["prg-intl-acc-2"]])


def _regional_table(kind: int) -> tuple[np.ndarray, np.ndarray]:
    """Per region: (first index, count) of its programmes of ``kind`` in a flat list."""
    flat: list[int] = []
    start = np.zeros(len(geography.REGIONS), dtype=np.int64)
    count = np.zeros(len(geography.REGIONS), dtype=np.int64)
    for r, region in enumerate(geography.REGIONS):
        start[r] = len(flat)
        own = [i for i, p in enumerate(_CATALOG) if p.kind == kind and p.region == region]
        flat.extend(own)
        count[r] = len(own)
    return np.array(flat, dtype=np.int64), np.stack([start, count])


@dataclass
class Memberships:
    org: np.ndarray
    program: np.ndarray
    start_month: np.ndarray
    duration_months: np.ndarray  # 0: a one-off event (competitions), no end date


@dataclass
class Prizes:
    """Competition grants that come with i-Lab / i-Nov wins."""

    org: np.ndarray
    month: np.ndarray
    program: np.ndarray


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _regional_pick(rng: np.random.Generator, region: np.ndarray, kind: int) -> np.ndarray:
    flat, table = _regional_table(kind)
    safe = np.maximum(region, 0)
    start, count = table[0][safe], table[1][safe]
    idx = start + np.floor(rng.random(region.shape[0]) * np.maximum(count, 1)).astype(np.int64)
    return np.where((region >= 0) & (count > 0), flat[np.minimum(idx, len(flat) - 1)], -1)


def draw_programs(
    rng: np.random.Generator, orgs: Orgs, out: Outcomes, grid: MonthGrid
) -> tuple[Memberships, Prizes]:
    n, last = orgs.n, grid.n_months - 1
    f, lat = orgs.founded_month, orgs.latent
    stop = np.minimum(out.stop_month, last)
    fr, idf = orgs.is_fr, orgs.is_idf
    rd = sectors.RD[orgs.sector]
    region_boost = np.where(idf, 1.1, np.where(fr, 0.0, -1.5))
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(
        mask: np.ndarray, program: np.ndarray, lo: np.ndarray, hi: np.ndarray, duration: np.ndarray
    ) -> None:
        month = uniform_month(rng, lo, hi)
        ok = mask & (program >= 0) & (hi >= lo) & (month <= stop)
        parts.append((np.nonzero(ok)[0], program[ok], month[ok], duration[ok]))

    def months(lo: int, hi: int) -> np.ndarray:
        return rng.integers(lo, hi + 1, n)

    # Incubators: early, region-driven; IDF companies may land at Station F.
    inc = rng.random(n) < _sigmoid(-1.3 + 0.35 * lat + region_boost)
    add(inc, _regional_pick(rng, orgs.region, INCUBATOR), f, f + 9, months(12, 24))
    # Accelerators: a little later, more selective; foreign ones use international programmes.
    acc = rng.random(n) < _sigmoid(-2.3 + 0.6 * lat + region_boost + np.where(fr, 0, 1.2))
    acc_prog = np.where(
        fr, _regional_pick(rng, orgs.region, ACCELERATOR), INTL_ACC[rng.integers(0, 2, n)]
    )
    # Regions without an accelerator send some of their companies to Station F's.
    to_paris = fr & (acc_prog < 0) & (rng.random(n) < 0.3)
    acc_prog = np.where(to_paris, _INDEX["prg-stationf-founders"], acc_prog)
    add(acc, acc_prog, f + 3, f + 24, months(3, 6))
    # JEI status: R&D-intensive French companies, open-ended (8 years at most).
    jei = fr & (rng.random(n) < _sigmoid(-2.0 + 2.2 * rd + 0.3 * lat))
    add(jei, np.full(n, JEI), f + 3, f + 24, np.full(n, 96))
    # French Tech Tremplin: a diversity programme, unrelated to quality.
    trem = fr & (rng.random(n) < 0.02)
    add(trem, np.full(n, TREMPLIN), f, f + 18, np.full(n, 12))
    # Bpifrance Deeptech programme.
    deep = fr & (rng.random(n) < _sigmoid(-4.0 + 2.5 * rd + 0.5 * lat))
    add(deep, np.full(n, DEEPTECH), f + 6, f + 36, np.full(n, 24))
    # French Tech 120: scale-ups only, after a series B.
    ft = fr & (out.series_b_month < NEVER) & (rng.random(n) < _sigmoid(-1.0 + lat))
    lo_ft = np.minimum(out.series_b_month, NEVER // 2)
    add(ft, np.full(n, FT120), lo_ft + 1, lo_ft + 12, np.full(n, 12))
    # Competitions with prize grants: i-Lab for research spin-offs, i-Nov for innovation.
    ilab = fr & (rng.random(n) < _sigmoid(-4.2 + 2.0 * rd + 0.8 * lat))
    add(ilab, np.full(n, ILAB), f - 6, f + 24, np.full(n, 0))
    inov = fr & (rng.random(n) < _sigmoid(-4.2 + 1.2 * rd + 0.5 * lat))
    add(inov, np.full(n, INOV), f + 6, f + 36, np.full(n, 0))

    org = np.concatenate([p[0] for p in parts])
    program = np.concatenate([p[1] for p in parts])
    start = np.concatenate([p[2] for p in parts])
    duration = np.concatenate([p[3] for p in parts])
    # Competitions are one-day events; i-Lab may precede incorporation (projects compete).
    start = np.maximum(start, np.where(program == ILAB, start, f[org]))
    prize = np.isin(program, [ILAB, INOV])
    return (
        Memberships(org, program, start, duration),
        Prizes(org[prize], np.maximum(start[prize], f[org[prize]]), program[prize]),
    )
