"""Hidden state of each organisation and the monthly hazard paths it implies.

Everything that drives outcomes is drawn here, at founding, before any observable event:
quality, founders' talent, a quality trajectory with its own noise, and the (hidden) plan
of the seed round. The milestone and closure hazards are deterministic functions of that
path, which is what makes the oracle exact: no later random draw feeds back into them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talentmap.generate import geography, sectors
from talentmap.generate.calendar import MonthGrid

MAX_FOUNDERS = 4
#: The planted historical bias: women-led teams of equal quality see their funding
#: hazards (milestone included) and amounts multiplied by this factor.
WOMEN_LED_FUNDING_FACTOR = 0.7
WOMEN_LED_SHARE = 0.15

# Milestone and closure hazard coefficients (logit scale); tuned so that the 24-month
# label base rate among candidates sits around 10-15 %.
MILESTONE_INTERCEPT = -6.0
MILESTONE_SLOPE = 1.05
SEED_BUMP = 1.1  # extra log-odds, peaking SEED_TO_PEAK months after the seed round
SEED_TO_PEAK = 12.0
SEED_BUMP_WIDTH = 7.0
CLOSE_INTERCEPT = -5.0
CLOSE_SLOPE = -0.7
#: Standard deviation of the trajectory's monthly random-walk step.
STEP_SD = 0.06
#: Seed plan: P(seed) = sigmoid(SEED_P_INTERCEPT + latent) x bias; the age of the seed
#: round is max(2, round(exp(N(log(SEED_AGE_MEDIAN) - SEED_AGE_LATENT * latent, SD)))).
SEED_P_INTERCEPT = 0.2
SEED_AGE_MEDIAN = 14.0
SEED_AGE_LATENT = 0.2
SEED_AGE_SD = 0.45
MIN_SEED_AGE = 2


@dataclass
class Orgs:
    """Static attributes, one entry per organisation of the chunk."""

    place: np.ndarray
    country: np.ndarray
    region: np.ndarray  # index into geography.REGIONS, -1 abroad
    city: np.ndarray
    sector: np.ndarray
    founded_month: np.ndarray
    women_led: np.ndarray
    team_size: np.ndarray
    quality: np.ndarray
    talent: np.ndarray  # (n, MAX_FOUNDERS), NaN past the team size
    latent: np.ndarray  # quality and team talent combined: what the hazards see

    @property
    def n(self) -> int:
        return int(self.place.shape[0])

    @property
    def is_fr(self) -> np.ndarray:
        return self.region >= 0

    @property
    def is_idf(self) -> np.ndarray:
        return self.region == geography.IDF


@dataclass
class HazardPath:
    """Month-by-month hidden path over ``grid.n_path`` months (float32 matrices)."""

    trajectory: np.ndarray
    h_milestone: np.ndarray
    h_close: np.ndarray
    seed_month: np.ndarray  # planned month of the seed round, -1 if none planned
    #: Trajectory slope per month-of-age / 12 (per year), drawn at founding: known at
    #: every as-of date, so the as-of oracle extrapolates with it.
    slope: np.ndarray | None = None


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40.0, 40.0)))


def _founding_weights(grid: MonthGrid) -> np.ndarray:
    """Creation picks up through 2021 and then plateaus, as the French census shows."""
    years = grid.year_of(np.arange(grid.n_months))
    w = np.clip(0.7 + 0.08 * (years - 2012), 0.6, 1.4).astype(float)
    return w / w.sum()


def draw_orgs(rng: np.random.Generator, n: int, grid: MonthGrid) -> Orgs:
    place = geography.draw_places(rng, n)
    region = geography.PLACE_REGION[place]
    quality = rng.normal(0.0, 1.0, n)
    team_size = rng.choice(np.arange(1, MAX_FOUNDERS + 1), size=n, p=[0.3, 0.42, 0.22, 0.06])
    talent = rng.normal(0.0, 1.0, (n, MAX_FOUNDERS))
    talent[np.arange(MAX_FOUNDERS)[None, :] >= team_size[:, None]] = np.nan
    team_talent = np.nanmean(talent, axis=1)
    return Orgs(
        place=place,
        country=geography.PLACE_COUNTRY[place],
        region=region,
        city=geography.PLACE_CITY[place],
        sector=sectors.draw_sectors(rng, n),
        founded_month=rng.choice(grid.n_months, size=n, p=_founding_weights(grid)),
        women_led=rng.random(n) < WOMEN_LED_SHARE,
        team_size=team_size,
        quality=quality,
        talent=talent,
        latent=0.8 * quality + 0.45 * team_talent,
    )


def funding_bias(orgs: Orgs) -> np.ndarray:
    """The planted bias: 0.7 for women-led teams, 1 otherwise (per organisation)."""
    return np.where(orgs.women_led, WOMEN_LED_FUNDING_FACTOR, 1.0)


def seed_probability(orgs: Orgs) -> np.ndarray:
    """Prior probability that the seed round is planned at all."""
    return _sigmoid(SEED_P_INTERCEPT + 1.0 * orgs.latent) * funding_bias(orgs)


def seed_age_log_mean(latent: np.ndarray) -> np.ndarray:
    """Mean of log(seed age in months): better companies raise earlier."""
    return np.log(SEED_AGE_MEDIAN) - SEED_AGE_LATENT * latent


def seed_bump(age: np.ndarray, seed_age: np.ndarray) -> np.ndarray:
    """Extra milestone log-odds, peaking SEED_TO_PEAK months after the seed round."""
    since_peak = age - (seed_age + SEED_TO_PEAK)
    return SEED_BUMP * np.exp(-0.5 * (since_peak / SEED_BUMP_WIDTH) ** 2)


def static_milestone_effect(orgs: Orgs) -> np.ndarray:
    """Sector and region log-odds of the milestone hazard (constant in time)."""
    geo = np.where(orgs.is_idf, 0.15, 0.0) - np.where(
        np.isin(orgs.region, geography.OVERSEAS_CODES), 0.2, 0.0
    )
    return sectors.MILESTONE_EFFECT[orgs.sector] + geo


def milestone_logit(
    trajectory: np.ndarray,
    age: np.ndarray,
    bump: np.ndarray | float,
    calendar: np.ndarray,
    static: np.ndarray,
) -> np.ndarray:
    """Milestone log-odds before the bias (linear in ``trajectory`` and ``bump``)."""
    return (
        MILESTONE_INTERCEPT
        + MILESTONE_SLOPE * trajectory
        - 2.2 * np.exp(-age / 9.0)
        + bump
        + calendar
        + static
    )


def milestone_hazard(logit: np.ndarray, bias: np.ndarray, age: np.ndarray) -> np.ndarray:
    return _sigmoid(logit) * bias * (age >= 1)


def close_logit(trajectory: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Closure log-odds: closures peak in years 2-4, and better companies close less."""
    return (
        CLOSE_INTERCEPT + CLOSE_SLOPE * trajectory + 0.6 * np.exp(-0.5 * ((age - 36.0) / 20.0) ** 2)
    )


def close_hazard(logit: np.ndarray, age: np.ndarray) -> np.ndarray:
    return _sigmoid(logit) * (age >= 3)


def calendar_effect(grid: MonthGrid) -> np.ndarray:
    """Funding climate by year: the 2021 boom and the 2023-24 downturn."""
    years = grid.year_of(np.arange(grid.n_path))
    climate = {2020: -0.1, 2021: 0.35, 2022: 0.15, 2023: -0.25, 2024: -0.2, 2025: -0.1}
    return np.array([climate.get(int(y), 0.0 if y < 2026 else -0.1) for y in years])


def draw_path(rng: np.random.Generator, orgs: Orgs, grid: MonthGrid) -> HazardPath:
    n, months = orgs.n, grid.n_path
    f = orgs.founded_month[:, None]
    age = (np.arange(months)[None, :] - f).astype(np.float32)

    steps = rng.normal(0.0, STEP_SD, (n, months)).astype(np.float32)
    steps[age <= 0] = 0.0
    slope = rng.normal(0.0, 0.15, n).astype(np.float32)
    trajectory = (
        orgs.latent.astype(np.float32)[:, None]
        + slope[:, None] * age / 12.0
        + np.cumsum(steps, axis=1)
    )
    del steps

    p_seed = seed_probability(orgs)
    has_seed = rng.random(n) < p_seed
    seed_age = np.maximum(
        MIN_SEED_AGE, np.round(np.exp(rng.normal(seed_age_log_mean(orgs.latent), SEED_AGE_SD)))
    )
    seed_age = seed_age.astype(np.int64)
    seed_month = np.where(has_seed, orgs.founded_month + seed_age, -1)
    h_milestone, h_close = path_hazards(orgs, grid, trajectory, seed_month)
    return HazardPath(trajectory, h_milestone, h_close, seed_month, slope)


def path_hazards(
    orgs: Orgs, grid: MonthGrid, trajectory: np.ndarray, seed_month: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Monthly milestone and closure hazards (float32) of a trajectory and seed plan.

    A function of its own so that a test can rebuild a path whose future was changed.
    """
    f = orgs.founded_month[:, None]
    age = (np.arange(trajectory.shape[1])[None, :] - f).astype(np.float32)
    alive_age = age >= 0
    has_seed = seed_month >= 0
    seed_age = np.where(has_seed, seed_month - orgs.founded_month, 0)
    bump = np.where(has_seed[:, None], seed_bump(age, seed_age[:, None]), 0.0)
    logit_m = milestone_logit(
        trajectory,
        age,
        bump,
        calendar_effect(grid)[None, :],
        static_milestone_effect(orgs)[:, None],
    )
    h_milestone = milestone_hazard(logit_m, funding_bias(orgs)[:, None], age).astype(np.float32)
    del logit_m, bump

    h_close = close_hazard(close_logit(trajectory, age), age).astype(np.float32)
    h_milestone[~alive_age] = 0.0
    h_close[~alive_age] = 0.0
    return h_milestone, h_close
