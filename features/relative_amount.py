"""The last round's amount relative to rounds of its type and year, at request time.

The numerator lives on the organisation's rows (``momentum``) and the denominator on the
round pool's rows (``round_pool``, the median of the pool's rounds dated so far), which
only meet once retrieval has joined the pool the organisation links to at t; so the
ratio is an on-demand view. Self-contained (imports inside, no module globals) because
Feast serialises it by value into the registry.
"""

from __future__ import annotations

import pandas as pd


def relative_amount_udf(inputs: pd.DataFrame) -> pd.DataFrame:
    """``last_round_amount_eur / pool_median_amount_eur``; NaN when either is unknown or the
    median is not positive (a ratio to a zero median says nothing)."""
    import numpy as np
    import pandas as pd

    def column(name: str) -> pd.Series:
        if name not in inputs.columns:
            return pd.Series(np.nan, index=inputs.index, dtype="float64")
        return pd.to_numeric(inputs[name], errors="coerce").astype("float64")

    amount = column("last_round_amount_eur")
    median = column("pool_median_amount_eur")
    out = pd.DataFrame(index=inputs.index)
    out["amount_last_vs_type_year_median"] = (amount / median.where(median > 0)).astype("float64")
    return out
