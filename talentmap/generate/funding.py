"""Funding rounds: the observable stream drawn around the hidden path.

Milestone rounds (series A and later, or any round of at least €5M) happen exactly at
the months simulated from the hazards. Every other round stays below €5M and is drawn as
a noisy function of the same hidden state: pre-seed, angel and seed rounds track quality
(seed timing is part of the hidden plan, so the milestone hazard peaks about a year
after it), grants follow research intensity, while debt and crowdfunding are noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talentmap import contract
from talentmap.generate import amounts, sectors
from talentmap.generate.calendar import MonthGrid, uniform_month
from talentmap.generate.hidden import WOMEN_LED_FUNDING_FACTOR, HazardPath, Orgs
from talentmap.generate.outcomes import (
    EARLY_EXIT,
    LARGE_SEED,
    LARGE_UNKNOWN,
    NEVER,
    SERIES_A,
    Outcomes,
)
from talentmap.generate.programs import ILAB, Prizes

ROUND_TYPES: list[str] = list(contract.ROUND_TYPES)
# Integer codes of the round types, in the contract's order.
(PRE_SEED, SEED, ANGEL, SERIES_A_T, SERIES_B_T, SERIES_C_T, UNKNOWN, GRANT, DEBT, CROWD, OTHER) = (
    range(len(ROUND_TYPES))
)
VENTURE_TYPES = np.array([PRE_SEED, SEED, ANGEL, SERIES_A_T, SERIES_B_T, SERIES_C_T, UNKNOWN])

# Who funds a round; the investments table is drawn from this.
VC, ANGELS, BPI, PRIZE, FOREIGN_PUBLIC, LENDER, PLATFORM, MISC = range(8)

#: Share of rounds whose amount is disclosed, by round type.
_DISCLOSED_BY_TYPE = {
    "pre_seed": 0.7,
    "seed": 0.85,
    "angel": 0.6,
    "series_a": 0.92,
    "series_b": 0.95,
    "series_c_plus": 0.97,
    "venture_unknown": 0.6,
    "grant": 0.9,
    "debt": 0.7,
    "crowdfunding": 0.95,
    "other": 0.5,
}
_DISCLOSED = np.array([_DISCLOSED_BY_TYPE[t] for t in ROUND_TYPES])


@dataclass
class Rounds:
    org: np.ndarray
    month: np.ndarray
    round_type: np.ndarray
    amount: np.ndarray  # NaN when undisclosed
    n_investors: np.ndarray  # -1 when unknown
    funder: np.ndarray
    stage_quality: np.ndarray  # latent of the org, to pick lead investors


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class _Collector:
    def __init__(self) -> None:
        self.cols: dict[str, list[np.ndarray]] = {
            k: [] for k in ("org", "month", "round_type", "amount", "funder")
        }

    def add(
        self,
        org: np.ndarray,
        month: np.ndarray,
        rtype: int | np.ndarray,
        amount: np.ndarray,
        funder: int | np.ndarray,
    ) -> None:
        m = org.shape[0]
        self.cols["org"].append(org)
        self.cols["month"].append(month)
        self.cols["round_type"].append(np.broadcast_to(rtype, (m,)).astype(np.int64))
        self.cols["amount"].append(amount.astype(np.float64))
        self.cols["funder"].append(np.broadcast_to(funder, (m,)).astype(np.int64))

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v) for k, v in self.cols.items()}


def draw_rounds(
    rng: np.random.Generator,
    orgs: Orgs,
    path: HazardPath,
    out: Outcomes,
    prizes: Prizes,
    grid: MonthGrid,
) -> Rounds:
    n, last = orgs.n, grid.n_months - 1
    f, lat = orgs.founded_month, orgs.latent
    bias = np.where(orgs.women_led, WOMEN_LED_FUNDING_FACTOR, 1.0)
    stop = np.minimum(out.stop_month, last)
    pre_ms = np.minimum(out.milestone_month - 1, stop)  # early rounds precede the milestone
    rd = sectors.RD[orgs.sector]
    col = _Collector()
    idx = np.arange(n)

    def emit(
        mask: np.ndarray,
        month: np.ndarray,
        rtype: int | np.ndarray,
        amount: np.ndarray,
        funder: int | np.ndarray,
        hi: np.ndarray,
    ) -> None:
        ok = mask & (month <= hi) & (month >= f - 6)
        rt = rtype[ok] if isinstance(rtype, np.ndarray) else rtype
        fu = funder[ok] if isinstance(funder, np.ndarray) else funder
        col.add(idx[ok], month[ok], rt, amount[ok], fu)

    seed_age = np.where(path.seed_month >= 0, path.seed_month - f, 12)
    # Pre-seed and angel rounds: early, quality-driven, biased.
    m = uniform_month(rng, f, f + np.minimum(np.maximum(seed_age - 1, 0), 12))
    emit(
        rng.random(n) < _sigmoid(-0.7 + 0.6 * lat) * bias,
        m,
        PRE_SEED,
        amounts.below_milestone(rng, 300e3 * np.exp(0.2 * lat) * bias, 0.6),
        VC,
        pre_ms,
    )
    m = uniform_month(rng, f, f + 18)
    emit(
        rng.random(n) < _sigmoid(-1.4 + 0.4 * lat) * bias,
        m,
        ANGEL,
        amounts.below_milestone(rng, 200e3 * np.exp(0.15 * lat) * bias, 0.7),
        ANGELS,
        pre_ms,
    )
    # Seed round: the hidden plan; one in ten is recorded without a stage.
    seed_type = np.where(rng.random(n) < 0.1, UNKNOWN, SEED)
    has_seed = path.seed_month >= 0
    emit(
        has_seed,
        path.seed_month,
        seed_type,
        amounts.below_milestone(rng, 1.3e6 * np.exp(0.3 * lat) * bias, 0.6),
        VC,
        pre_ms,
    )
    # Bridge rounds between seed and series A.
    m = path.seed_month + uniform_month(rng, np.full(n, 10), np.full(n, 24))
    emit(
        has_seed & (rng.random(n) < 0.25),
        m,
        np.where(rng.random(n) < 0.6, UNKNOWN, SEED),
        amounts.below_milestone(rng, 800e3 * np.exp(0.2 * lat) * bias, 0.7),
        VC,
        pre_ms,
    )

    # Public grants: Bpifrance in France, national agencies abroad; research-driven.
    alive_years = (stop - f + 1) / 12.0
    lam = (0.2 + 0.9 * rd + 0.2 * np.maximum(lat, 0)) * np.minimum(alive_years, 6) / 3
    count = rng.poisson(np.maximum(lam, 0) * (stop >= f))
    g_org = np.repeat(idx, count)
    g_month = uniform_month(rng, f[g_org], stop[g_org])
    g_amount = amounts.below_milestone(rng, np.full(g_org.shape[0], 90e3), 0.9)
    funder = np.where(orgs.is_fr[g_org], BPI, FOREIGN_PUBLIC)
    col.add(g_org, g_month, GRANT, g_amount, funder)
    # i-Lab / i-Nov prizes.
    p_amount = np.where(prizes.program == ILAB, 350e3, 500e3)
    col.add(prizes.org, prizes.month, GRANT, amounts.below_milestone(rng, p_amount, 0.4), PRIZE)

    # Debt: unrelated to quality (banks lend against revenue we do not model): noise.
    count = rng.poisson(0.12 * np.maximum(alive_years - 0.5, 0))
    d_org = np.repeat(idx, count)
    d_month = uniform_month(rng, f[d_org] + 6, stop[d_org])
    d_ok = d_month <= stop[d_org]
    d_funder = np.where(rng.random(d_org.shape[0]) < 0.5, BPI, LENDER)
    col.add(
        d_org[d_ok],
        d_month[d_ok],
        DEBT,
        amounts.below_milestone(rng, np.full(int(d_ok.sum()), 300e3), 0.9),
        d_funder[d_ok],
    )
    # Crowdfunding: pure noise, a bit more common in consumer sectors.
    consumer = np.isin(orgs.sector, [sectors.NAMES.index(s) for s in ("foodtech", "greentech")])
    m = uniform_month(rng, f + 3, stop)
    emit(
        rng.random(n) < np.where(consumer, 0.09, 0.04),
        m,
        CROWD,
        amounts.below_milestone(rng, np.full(n, 250e3), 0.7),
        PLATFORM,
        stop,
    )
    m = uniform_month(rng, f, stop)
    emit(
        rng.random(n) < 0.03,
        m,
        OTHER,
        amounts.below_milestone(rng, np.full(n, 200e3), 1.0),
        MISC,
        stop,
    )

    # Milestone rounds, exactly where the hazards put them.
    ms, kind = out.milestone_month, out.milestone_kind
    raised = (ms < NEVER) & (kind != EARLY_EXIT)
    large = 5e6 + amounts.lognormal(rng, 1.5e6 * np.exp(0.3 * lat) * bias, 0.8)
    series_a = amounts.lognormal(rng, 7e6 * np.exp(0.3 * lat) * bias, 0.6)
    ms_type = np.select(
        [kind == SERIES_A, kind == LARGE_SEED, kind == LARGE_UNKNOWN],
        [SERIES_A_T, SEED, UNKNOWN],
        SERIES_A_T,
    )
    emit(raised, ms, ms_type, np.where(kind == SERIES_A, series_a, large), VC, ms)
    emit(
        out.series_b_month < NEVER,
        out.series_b_month,
        SERIES_B_T,
        amounts.lognormal(rng, 20e6 * np.exp(0.3 * lat) * bias, 0.6),
        VC,
        stop,
    )
    emit(
        out.series_c_month < NEVER,
        out.series_c_month,
        SERIES_C_T,
        amounts.lognormal(rng, 55e6 * np.exp(0.3 * lat) * bias, 0.8),
        VC,
        stop,
    )

    a = col.arrays()
    is_milestone_kind = np.isin(a["round_type"], [SERIES_A_T, SERIES_B_T, SERIES_C_T])
    is_large = a["amount"] >= amounts.MILESTONE_AMOUNT_EUR
    # Large rounds are always disclosed: their size is what makes them milestones.
    disclosed = is_large | (rng.random(a["org"].shape[0]) < _DISCLOSED[a["round_type"]])
    amount = np.where(disclosed, amounts.announced(a["amount"]), np.nan)
    amount = np.where(
        is_large & ~is_milestone_kind, np.maximum(amount, amounts.MILESTONE_AMOUNT_EUR), amount
    )
    n_inv = _n_investors(rng, a["round_type"])
    order = np.lexsort((a["round_type"], a["month"], a["org"]))
    return Rounds(
        org=a["org"][order],
        month=a["month"][order],
        round_type=a["round_type"][order],
        amount=amount[order],
        n_investors=n_inv[order],
        funder=a["funder"][order],
        stage_quality=lat[a["org"][order]],
    )


def _n_investors(rng: np.random.Generator, rtype: np.ndarray) -> np.ndarray:
    m = rtype.shape[0]
    base = np.select(
        [
            np.isin(rtype, [SERIES_A_T, SERIES_B_T, SERIES_C_T]),
            rtype == SEED,
            np.isin(rtype, [PRE_SEED, ANGEL, UNKNOWN]),
            rtype == CROWD,
        ],
        [
            2 + rng.poisson(2.0, m),
            1 + rng.poisson(1.8, m),
            1 + rng.poisson(1.0, m),
            50 + rng.poisson(400, m),
        ],
        1,
    )
    unknown = (rng.random(m) < 0.2) & ~np.isin(rtype, [GRANT])
    return np.where(unknown, -1, base).astype(np.int64)
