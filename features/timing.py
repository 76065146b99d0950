"""Time-relative features, computed at request time from ``as_of`` and stored date columns.

They cannot live on event rows (they change every day without any event), so Feast runs
``timing_udf`` as an on-demand view: at training ``as_of`` comes from the entity frame, at
serving it is the request time. The function is self-contained (imports inside, no module
globals) because Feast serialises it by value into the registry.
"""

from __future__ import annotations

import pandas as pd


def timing_udf(inputs: pd.DataFrame) -> pd.DataFrame:
    """Days between ``as_of`` and the stored ``*_day`` columns (NaN when a date is unknown)."""
    import numpy as np
    import pandas as pd

    as_of = pd.to_datetime(inputs["as_of"], utc=True)
    # Whole days, counted from midnight UTC of the as-of date.
    as_of_day = np.floor(
        (as_of - pd.Timestamp("1970-01-01", tz="UTC")) / pd.Timedelta(days=1)
    ).astype("float64")

    def since(column: str) -> pd.Series:
        if column not in inputs.columns:
            return pd.Series(np.nan, index=inputs.index, dtype="float64")
        return (as_of_day - pd.to_numeric(inputs[column], errors="coerce")).astype("float64")

    out = pd.DataFrame(index=inputs.index)
    # The age anchor is the founding date once known, else the first dated event
    # (talentmap.features.age): the same rule as the candidate filter's age window.
    out["company_age_days"] = since("age_anchor_day")
    out["days_since_first_round"] = since("first_round_day")
    out["days_since_last_round"] = since("last_round_day")
    out["days_since_first_program"] = since("first_program_day")
    out["days_since_last_program_start"] = since("last_program_start_day")
    return out
