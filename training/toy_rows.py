"""Synthetic training rows with a known answer, for model tests and quick experiments.

Not a world (see ``talentmap.generate`` and ``talentmap.features.toy_world``): a frame
shaped like the ``promise`` feature service output, where the label depends on exactly
two features (``headcount_growth_12m`` and ``n_founders_phd``) plus noise, so a working
model must find them and beat the base rate. It has what real rows have: missing values
(unknown growth, no round yet), a categorical ``region`` with gaps, a pure-noise column,
and quarterly as-of dates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TOY_REGIONS: tuple[str, ...] = ("Occitanie", "Bretagne", "Île-de-France", "Normandie", "Grand Est")
SIGNAL_FEATURES: tuple[str, str] = ("headcount_growth_12m", "n_founders_phd")


def toy_training_rows(
    seed: int = 0, n_dates: int = 24, per_date: int = 300, first: str = "2015-03-31"
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """``(frame, y, as_of)``: features, 0/1 labels (about 15% positive), quarter-end dates."""
    rng = np.random.default_rng(seed)
    n = n_dates * per_date
    as_of = pd.Series(np.repeat(pd.date_range(first, periods=n_dates, freq="QE"), per_date))
    n_rounds = rng.integers(0, 4, n).astype(np.float64)
    since_round = np.where(n_rounds > 0, rng.integers(10, 1500, n), np.nan)
    growth = rng.normal(0.1, 0.5, n)
    growth[rng.random(n) < 0.3] = np.nan  # no headcount history: unknown, not 0
    phd = rng.integers(0, 3, n).astype(np.float64)
    region = np.array(TOY_REGIONS, dtype=object)[rng.integers(0, len(TOY_REGIONS), n)]
    region[rng.random(n) < 0.1] = None
    logit = -3.3 + 2.0 * np.nan_to_num(growth, nan=0.0) + 1.2 * phd + rng.normal(0.0, 0.5, n)
    y = pd.Series((rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64), name="label")
    frame = pd.DataFrame(
        {
            "n_rounds": n_rounds,
            "days_since_last_round": since_round.astype(np.float64),
            "headcount_growth_12m": growth,
            "n_founders_phd": phd,
            "region": region,
            "noise": rng.normal(size=n),
        }
    )
    return frame, y, as_of.rename("as_of")
