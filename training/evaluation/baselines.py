"""The two baselines every backtest reports next to the model, on the same rows.

- ``fit_logistic_baseline``: a logistic regression on exactly the model's features,
  made as strong as a plain linear model reasonably gets (``training.model.linear``
  says how). It is the same ``LinearPart`` the served model may choose or blend, so a
  served model that chose the logistic regression ranks exactly as this baseline.
- ``total_raised_score``: the heuristic "total raised so far", i.e. the catalogue's
  ``amount_total_eur`` funding feature as of each row's date. Unknown totals (no round
  on record, or amounts undisclosed) rank last as 0: the heuristic knows no better.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import expit

from talentmap.features.catalog import FAMILIES
from talentmap.training.model.linear import LinearPart

TOTAL_RAISED_FEATURE = "amount_total_eur"
LOGISTIC_NAME = "logistic_regression"
TOTAL_RAISED_NAME = "total_raised"

if TOTAL_RAISED_FEATURE not in FAMILIES["funding"].model_features:  # pragma: no cover
    # Fails at import, loudly, if the catalogue ever renames the feature.
    raise ImportError(f"the funding family has no {TOTAL_RAISED_FEATURE!r} feature")


def total_raised_score(frame: pd.DataFrame) -> np.ndarray:
    """The "total raised so far" heuristic: higher total, higher rank; unknown = 0."""
    values = pd.to_numeric(frame[TOTAL_RAISED_FEATURE], errors="coerce")
    return values.fillna(0.0).to_numpy(dtype=np.float64)


def fit_logistic_baseline(
    frame: pd.DataFrame,
    y: np.ndarray | pd.Series,
    numeric: Sequence[str],
    categorical: Sequence[str],
    seed: int = 0,
    c: float = 1.0,
    sample_weight: np.ndarray | None = None,
) -> LinearPart:
    """The logistic regression on ``frame``'s named features (numeric coerced to float).

    ``sample_weight``: sampled training rows' weights (``training.max_rows``).
    """
    part = LinearPart(numeric=list(numeric), categorical=list(categorical), c=c)
    labels = np.asarray(y, dtype=np.int64)
    return part.fit(_inputs(frame, numeric, categorical), labels, seed, sample_weight)


def logistic_score(
    part: LinearPart, frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]
) -> np.ndarray:
    """P(promise) of each row according to a fitted ``fit_logistic_baseline``."""
    if frame.empty:
        return np.empty(0, dtype=np.float64)
    return np.asarray(expit(part.raw(_inputs(frame, numeric, categorical))), dtype=np.float64)


def _inputs(
    frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]
) -> pd.DataFrame:
    out = {c: pd.to_numeric(frame[c], errors="coerce").astype(np.float64) for c in numeric}
    out.update({c: frame[c].astype(object) for c in categorical})
    return pd.DataFrame(out, index=frame.index)
