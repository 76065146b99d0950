"""Sectors and what they change: how often they reach a milestone, how R&D-heavy they are
(JEI status, patents, i-Lab) and whether they ship software."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sector:
    name: str
    weight: float
    milestone_effect: float  # added to the milestone logit
    rd: float  # 0..1, research intensity (patents, PhDs, JEI, i-Lab)
    software: float  # 0..1, chance of open-source releases


SECTORS: list[Sector] = [
    Sector("saas", 17, 0.10, 0.2, 0.8),
    Sector("fintech", 10, 0.20, 0.2, 0.6),
    Sector("healthtech", 10, 0.05, 0.6, 0.4),
    Sector("ai_deeptech", 10, 0.25, 0.9, 0.9),
    Sector("greentech", 9, 0.05, 0.6, 0.2),
    Sector("ecommerce", 8, -0.15, 0.05, 0.3),
    Sector("foodtech", 6, -0.25, 0.2, 0.1),
    Sector("mobility", 5, 0.05, 0.5, 0.4),
    Sector("edtech", 5, -0.20, 0.1, 0.5),
    Sector("hrtech", 5, -0.05, 0.05, 0.5),
    Sector("proptech", 4, -0.10, 0.1, 0.3),
    Sector("cybersecurity", 4, 0.20, 0.6, 0.8),
    Sector("biotech", 4, 0.10, 1.0, 0.1),
    Sector("industry_4_0", 3, -0.05, 0.6, 0.3),
]

NAMES: list[str] = [s.name for s in SECTORS]
MILESTONE_EFFECT = np.array([s.milestone_effect for s in SECTORS])
RD = np.array([s.rd for s in SECTORS])
SOFTWARE = np.array([s.software for s in SECTORS])
_P = np.array([s.weight for s in SECTORS]) / sum(s.weight for s in SECTORS)


def draw_sectors(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice(len(SECTORS), size=n, p=_P)
