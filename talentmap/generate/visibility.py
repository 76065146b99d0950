"""When the source first records an organisation (issue 6).

A company enters the record at its first funding round, programme or exit, or earlier
if the press (or a registry crawl) finds it first: a random lag after founding. Events
dated before that day stay in the data, back-filled, as real sources do. Companies not
recorded by the snapshot date are left out of every table (and of the oracle).
"""

from __future__ import annotations

import numpy as np

#: Mean lag, in days, before the press notices a company without any recorded event.
PRESS_LAG_MEAN_DAYS = 450.0


def first_seen(
    rng: np.random.Generator, founded_on: np.ndarray, events: list[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """First-seen day per org: min(first event, founding + press lag), never before founding.

    ``events`` holds (org index, day) arrays of the events that put a company on record.
    """
    n = founded_on.shape[0]
    lag = rng.exponential(PRESS_LAG_MEAN_DAYS, n).astype(np.int64)
    seen = (founded_on + lag.astype("timedelta64[D]")).astype("datetime64[D]").astype(np.int64)
    for org, day in events:
        np.minimum.at(seen, org, day.astype("datetime64[D]").astype(np.int64))
    return np.maximum(seen, founded_on.astype(np.int64)).astype("datetime64[D]")
