"""Who invests: a fixed registry of investors, and the investments of each round.

Fund names are invented (no real fund is tied to a fictional deal); public funders are
the real French institutions the world needs (Bpifrance). Top-tier funds lead rounds of
better companies, so the lead investor is an informative signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from talentmap import contract
from talentmap.generate import funding as fr
from talentmap.generate import names

INVESTOR_KINDS: list[str] = list(contract.INVESTOR_KINDS)
VC_K, ANGEL_K, CORPORATE_K, PUBLIC_K, ACCELERATOR_K, OTHER_K = (
    INVESTOR_KINDS.index(k) for k in ("vc", "angel", "corporate", "public", "accelerator", "other")
)

_TOP_VC = [
    "Seine Capital Partners",
    "Atlas Venture Europe",
    "Northgate Ventures",
    "Meridian Growth",
    "Helios Capital",
    "Aurora Partners",
    "Granite Peak Ventures",
    "Lumen Ventures",
]
_VC = [
    "Rhône Ventures",
    "Atlantique Partners",
    "Garonne Capital",
    "Loire Innovation",
    "Alpine Seed",
    "Montmartre Ventures",
    "Vauban Capital",
    "Cévennes Invest",
    "Provence Seed Fund",
    "Bretagne Capital",
    "Calanques Ventures",
    "Nord Ventures",
    "Haussmann Capital",
    "Marais Seed",
    "Pyrénées Ventures",
    "Mistral Capital",
    "Tramontane Partners",
    "Iroise Ventures",
    "Vosges Capital",
    "Lumière Seed",
    "Oise Ventures",
    "Canal Capital",
    "Sologne Partners",
    "Étoile Ventures",
    "Quai Capital",
    "Bastille Ventures",
    "Opéra Partners",
    "Camargue Capital",
]
_CORPORATE = [
    "Telco Ventures",
    "Assurance Venture Partners",
    "Aero Ventures",
    "Rail Digital Ventures",
    "Énergie New Ventures",
    "Grid Ventures",
    "Banque Développement",
    "Beauty Tech Fund",
    "Auto Ventures",
    "Retail Lab Invest",
]
_ACCELERATOR = [
    "Northbridge Accelerator",
    "Founders Forge",
    "Station F Founders Program",
    "Village Accelerator",
]
_PUBLIC = [
    "Bpifrance",
    "European Innovation Council Fund",
    "Région Île-de-France",
    "Région Auvergne-Rhône-Alpes",
    "Région Occitanie",
]
_FOREIGN_PUBLIC = ["National Innovation Agency", "European Innovation Council"]
_PLATFORMS = ["CrowdSeed", "Tudo Invest", "Sowe Crowd", "FundLocal"]
_LENDERS = ["Banque Populaire Régionale", "Crédit Régional", "Société de Banque", "Neobank Lending"]
N_ANGELS = 2500


@dataclass(frozen=True)
class Registry:
    ids: np.ndarray  # str
    names: np.ndarray  # str
    kind: np.ndarray
    top_vc: np.ndarray  # indices
    vc: np.ndarray
    corporate: np.ndarray
    accelerator: np.ndarray
    angels: np.ndarray
    bpifrance: int
    foreign_public: np.ndarray
    platforms: np.ndarray
    lenders: np.ndarray


@lru_cache(maxsize=1)
def registry() -> Registry:
    """Built once, from a fixed seed, so every chunk shares the same investors."""
    rng = np.random.default_rng(20120101)
    angel_names = names.person_names(rng, rng.choice(2, N_ANGELS, p=[0.2, 0.8])).to_pylist()
    groups: list[tuple[list[str], int]] = [
        (_TOP_VC, VC_K),
        (_VC, VC_K),
        (_CORPORATE, CORPORATE_K),
        (_ACCELERATOR, ACCELERATOR_K),
        (_PUBLIC, PUBLIC_K),
        (_FOREIGN_PUBLIC, PUBLIC_K),
        (_PLATFORMS, OTHER_K),
        (_LENDERS, OTHER_K),
        (angel_names, ANGEL_K),
    ]
    all_names: list[str] = []
    kinds: list[int] = []
    ranges: list[np.ndarray] = []
    for group, kind in groups:
        ranges.append(np.arange(len(all_names), len(all_names) + len(group)))
        all_names.extend(group)
        kinds.extend([kind] * len(group))
    ids = np.array([f"inv-{i:05d}" for i in range(len(all_names))], dtype=object)
    return Registry(
        ids=ids,
        names=np.array(all_names, dtype=object),
        kind=np.array(kinds),
        top_vc=ranges[0],
        vc=ranges[1],
        corporate=ranges[2],
        accelerator=ranges[3],
        angels=ranges[8],
        bpifrance=int(ranges[4][0]),
        foreign_public=ranges[5],
        platforms=ranges[6],
        lenders=ranges[7],
    )


@dataclass
class Investments:
    round: np.ndarray  # index into the chunk's rounds
    investor: np.ndarray  # index into the registry
    is_lead: np.ndarray  # 1, 0, or -1 unknown


def _choose(rng: np.random.Generator, pool: np.ndarray, m: int) -> np.ndarray:
    return pool[rng.integers(0, pool.shape[0], m)]


def draw_investments(rng: np.random.Generator, rounds: fr.Rounds) -> Investments:
    reg = registry()
    n = rounds.org.shape[0]
    listed = np.where(rounds.n_investors < 0, 1 + rng.poisson(1.0, n), rounds.n_investors)
    listed = np.minimum(listed, 6)
    single = ~np.isin(rounds.round_type, fr.VENTURE_TYPES)
    listed = np.where(single, 1, listed)
    rid = np.repeat(np.arange(n), listed)
    pos = np.arange(rid.shape[0]) - np.repeat(np.cumsum(listed) - listed, listed)
    lead = pos == 0
    m = rid.shape[0]
    rtype, funder = rounds.round_type[rid], rounds.funder[rid]
    q = rounds.stage_quality[rid]
    later = np.isin(rtype, [fr.SERIES_A_T, fr.SERIES_B_T, fr.SERIES_C_T])

    top = rng.random(m) < 1.0 / (1.0 + np.exp(-(-2.2 + 1.1 * q + 1.2 * later)))
    vc_lead = np.where(top, _choose(rng, reg.top_vc, m), _choose(rng, reg.vc, m))
    u = rng.random(m)
    follower = np.select(
        [u < 0.45, u < 0.8, u < 0.92],
        [_choose(rng, reg.vc, m), _choose(rng, reg.angels, m), _choose(rng, reg.corporate, m)],
        reg.bpifrance,
    )
    early_lead = np.select(
        [rtype == fr.PRE_SEED, rtype == fr.ANGEL],
        [
            np.where(
                rng.random(m) < 0.5, _choose(rng, reg.accelerator, m), _choose(rng, reg.angels, m)
            ),
            _choose(rng, reg.angels, m),
        ],
        vc_lead,
    )
    investor = np.select(
        [
            funder == fr.BPI,
            funder == fr.PRIZE,
            funder == fr.FOREIGN_PUBLIC,
            funder == fr.LENDER,
            funder == fr.PLATFORM,
            funder == fr.MISC,
            rtype == fr.ANGEL,
            lead,
        ],
        [
            reg.bpifrance,
            reg.bpifrance,
            _choose(rng, reg.foreign_public, m),
            _choose(rng, reg.lenders, m),
            _choose(rng, reg.platforms, m),
            _choose(rng, reg.corporate, m),
            _choose(rng, reg.angels, m),
            early_lead,
        ],
        follower,
    )
    is_lead = np.where(lead, 1, 0)
    is_lead = np.where(np.isin(funder, [fr.PLATFORM, fr.MISC]) | (rng.random(m) < 0.1), -1, is_lead)
    # One row per (round, investor): drop repeats drawn for the same round.
    _, first = np.unique(rid * np.int64(reg.ids.shape[0]) + investor, return_index=True)
    keep = np.sort(first)
    return Investments(round=rid[keep], investor=investor[keep], is_lead=is_lead[keep])
