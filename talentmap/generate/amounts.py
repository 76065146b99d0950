"""Heavy-tailed (log-normal) round amounts."""

from __future__ import annotations

import numpy as np

#: A round of at least this amount is a milestone; other rounds stay strictly below.
MILESTONE_AMOUNT_EUR = 5_000_000.0


def lognormal(rng: np.random.Generator, median: np.ndarray, sigma: float) -> np.ndarray:
    return median * np.exp(rng.normal(0.0, sigma, median.shape[0]))


def below_milestone(rng: np.random.Generator, median: np.ndarray, sigma: float) -> np.ndarray:
    """Log-normal amounts truncated below €5M by redrawing (keeps the shape, no spike)."""
    amount = lognormal(rng, median, sigma)
    for _ in range(20):
        over = amount >= MILESTONE_AMOUNT_EUR * 0.98
        if not over.any():
            break
        amount[over] = lognormal(rng, median[over], sigma)
    return np.minimum(amount, MILESTONE_AMOUNT_EUR * 0.98)


def announced(amount: np.ndarray) -> np.ndarray:
    """Rounded the way press releases round: to €1k below €1M, €10k above."""
    return np.where(amount >= 1e6, np.round(amount, -4), np.round(amount, -3))
