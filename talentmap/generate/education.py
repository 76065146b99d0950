"""Degrees: grandes écoles, universities, other schools and foreign universities.

Elite schools are an informative but confounded signal (talent, and living near Paris);
PhDs follow the sector more than talent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talentmap import contract
from talentmap.generate.calendar import MonthGrid
from talentmap.generate.people import People

DEGREES: list[str] = list(contract.DEGREES)
BACHELOR, MASTER, ENGINEER, PHD, MBA = (
    DEGREES.index(d) for d in ("bachelor", "master", "engineer", "phd", "mba")
)

_ELITE_ENG = [
    "École polytechnique",
    "CentraleSupélec",
    "Mines Paris - PSL",
    "École normale supérieure - PSL",
    "Télécom Paris",
    "ENSTA Paris",
    "École des Ponts ParisTech",
    "ENS de Lyon",
]
_ELITE_BUS = [
    "HEC Paris",
    "ESSEC Business School",
    "ESCP Business School",
    "EDHEC Business School",
    "emlyon business school",
]
_UNIV = [
    "Sorbonne Université",
    "Université Paris-Saclay",
    "Université Paris Cité",
    "Université Claude Bernard Lyon 1",
    "Université Grenoble Alpes",
    "Université de Bordeaux",
    "Aix-Marseille Université",
    "Université de Montpellier",
    "Université de Strasbourg",
    "Université de Rennes",
    "Université de Lille",
    "Université Toulouse III",
    "Nantes Université",
]
_OTHER = [
    "INSA Lyon",
    "INSA Toulouse",
    "Arts et Métiers",
    "EPITA",
    "Epitech",
    "IMT Atlantique",
    "KEDGE Business School",
    "NEOMA Business School",
    "SKEMA Business School",
    "Grenoble École de Management",
]
_FOREIGN = [
    "ETH Zurich",
    "EPFL",
    "Imperial College London",
    "University of Cambridge",
    "Technical University of Munich",
    "Politecnico di Milano",
    "Stanford University",
    "Massachusetts Institute of Technology",
    "Universidad Politécnica de Madrid",
    "KU Leuven",
]
INSTITUTIONS = _ELITE_ENG + _ELITE_BUS + _UNIV + _OTHER + _FOREIGN
_OFF = np.cumsum([0, len(_ELITE_ENG), len(_ELITE_BUS), len(_UNIV), len(_OTHER)])
_SIZES = np.array([len(_ELITE_ENG), len(_ELITE_BUS), len(_UNIV), len(_OTHER), len(_FOREIGN)])
ELITE_ENG, ELITE_BUS, UNIV, OTHER_SCHOOL, FOREIGN = range(5)
_BUSINESS = np.array(["Business" in i or "Management" in i for i in INSTITUTIONS])


@dataclass
class Degrees:
    person: np.ndarray
    institution: np.ndarray
    degree: np.ndarray
    graduated_year: np.ndarray
    graduated_known: np.ndarray


def _institution(rng: np.random.Generator, group: np.ndarray) -> np.ndarray:
    return _OFF[group] + np.floor(rng.random(group.shape[0]) * _SIZES[group]).astype(np.int64)


def draw_degrees(
    rng: np.random.Generator,
    people: People,
    is_fr_home: np.ndarray,
    is_founder: np.ndarray,
    grid: MonthGrid,
) -> Degrees:
    m = people.gender.shape[0]
    u = rng.random(m)
    elite_group = np.where(u < 0.6, ELITE_ENG, ELITE_BUS)
    plain_group = np.select([u < 0.5, u < 0.85], [UNIV, OTHER_SCHOOL], FOREIGN)
    group = np.where(people.elite, elite_group, plain_group)
    group = np.where(~is_fr_home & (rng.random(m) < 0.75), FOREIGN, group)
    inst = _institution(rng, group)
    eng_school = np.isin(inst, np.arange(_OFF[0], _OFF[1])) & (
        inst != _OFF[0] + _ELITE_ENG.index("École normale supérieure - PSL")
    )
    degree = np.select(
        [eng_school, group == ELITE_BUS, group == OTHER_SCHOOL],
        [
            ENGINEER,
            np.where(rng.random(m) < 0.15, MBA, MASTER),
            np.where(_BUSINESS[inst], MASTER, ENGINEER),
        ],
        np.where(rng.random(m) < 0.2, BACHELOR, MASTER),
    )
    has_first = is_founder | (rng.random(m) < 0.5)
    grad = people.birth_year + 23 + rng.integers(-1, 3, m)

    # PhD: a second degree, at a university, ENS or Polytechnique, 3-4 years later.
    phd = people.phd & has_first
    phd_group = np.where(rng.random(m) < 0.7, UNIV, np.where(is_fr_home, ELITE_ENG, FOREIGN))
    phd_inst = _institution(rng, phd_group)
    # A few founders add an MBA mid-career.
    mba = is_founder & (rng.random(m) < 0.06)
    mba_inst = _OFF[ELITE_BUS] + rng.integers(0, len(_ELITE_BUS), m)

    person = np.arange(m)
    cols = [
        (person[has_first], inst[has_first], degree[has_first], grad[has_first]),
        (person[phd], phd_inst[phd], np.full(int(phd.sum()), PHD), grad[phd] + 3 + (u[phd] > 0.5)),
        (person[mba], mba_inst[mba], np.full(int(mba.sum()), MBA), grad[mba] + 6),
    ]
    year = np.concatenate([c[3] for c in cols])
    return Degrees(
        person=np.concatenate([c[0] for c in cols]),
        institution=np.concatenate([c[1] for c in cols]),
        degree=np.concatenate([c[2] for c in cols]),
        graduated_year=year,
        graduated_known=(year <= grid.end.year - 1) & (rng.random(year.shape[0]) > 0.15),
    )
