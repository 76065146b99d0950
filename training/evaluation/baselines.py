"""The two baselines every backtest reports next to the model, on the same rows.

- ``logistic_baseline``: a logistic regression on exactly the model's features. It is
  made as strong as a plain linear model reasonably gets, so that beating it means
  something: missing values are imputed *with* a missing-indicator column (an unknown
  signal stays distinguishable from a typical one), heavy-tailed counts and amounts go
  through a signed ``log1p`` before scaling (euros span seven orders of magnitude), and
  categoricals are one-hot encoded with an explicit "missing" level and unseen levels
  ignored at scoring time.
- ``total_raised_score``: the heuristic "total raised so far", i.e. the catalogue's
  ``amount_total_eur`` funding feature as of each row's date. Unknown totals (no round
  on record, or amounts undisclosed) rank last as 0: the heuristic knows no better.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from talentmap.features.catalog import FAMILIES

TOTAL_RAISED_FEATURE = "amount_total_eur"
MISSING_LEVEL = "(missing)"
LOGISTIC_NAME = "logistic_regression"
TOTAL_RAISED_NAME = "total_raised"

if TOTAL_RAISED_FEATURE not in FAMILIES["funding"].model_features:  # pragma: no cover
    # Fails at import, loudly, if the catalogue ever renames the feature.
    raise ImportError(f"the funding family has no {TOTAL_RAISED_FEATURE!r} feature")


def total_raised_score(frame: pd.DataFrame) -> np.ndarray:
    """The "total raised so far" heuristic: higher total, higher rank; unknown = 0."""
    values = pd.to_numeric(frame[TOTAL_RAISED_FEATURE], errors="coerce")
    return values.fillna(0.0).to_numpy(dtype=np.float64)


def _signed_log1p(values: np.ndarray) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    return np.sign(x) * np.log1p(np.abs(x))


def _as_levels(values: pd.DataFrame) -> np.ndarray:
    # SimpleImputer does not see None in object columns as missing; do it here instead.
    frame = pd.DataFrame(values).astype(object)
    return frame.where(frame.notna(), MISSING_LEVEL).astype(str).to_numpy(dtype=object)


def logistic_baseline(
    numeric: Sequence[str], categorical: Sequence[str], seed: int = 0
) -> Pipeline:
    """An unfitted scikit-learn pipeline: impute + indicators, log, scale, one-hot, logit."""
    numeric_steps = Pipeline(
        [
            # keep_empty_features: a family absent from the data (all NaN) stays a column of
            # zeros plus its indicator instead of vanishing, so the schema never shifts.
            (
                "impute",
                SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            ),
            ("log", FunctionTransformer(_signed_log1p, feature_names_out="one-to-one")),
            ("scale", StandardScaler()),
        ]
    )
    categorical_steps = Pipeline(
        [
            ("levels", FunctionTransformer(_as_levels, feature_names_out="one-to-one")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", min_frequency=5)),
        ]
    )
    transformers = [("numeric", numeric_steps, list(numeric))]
    if categorical:
        transformers.append(("categorical", categorical_steps, list(categorical)))
    return Pipeline(
        [
            ("features", ColumnTransformer(transformers, remainder="drop")),
            # Unweighted on purpose: its probabilities are then comparable with the model's
            # calibrated ones on the Brier score and the calibration error.
            ("logit", LogisticRegression(C=1.0, max_iter=2000, random_state=seed)),
        ]
    )


def fit_logistic_baseline(
    frame: pd.DataFrame,
    y: np.ndarray | pd.Series,
    numeric: Sequence[str],
    categorical: Sequence[str],
    seed: int = 0,
) -> Pipeline:
    """Fit ``logistic_baseline`` on ``frame`` (numeric columns coerced to float)."""
    pipeline = logistic_baseline(numeric, categorical, seed)
    pipeline.fit(_inputs(frame, numeric, categorical), np.asarray(y, dtype=np.int64))
    return pipeline


def logistic_score(
    pipeline: Pipeline, frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]
) -> np.ndarray:
    """P(promise) of each row according to a fitted ``fit_logistic_baseline`` pipeline."""
    if frame.empty:
        return np.empty(0, dtype=np.float64)
    proba = pipeline.predict_proba(_inputs(frame, numeric, categorical))
    return np.asarray(proba[:, 1], dtype=np.float64)


def _inputs(
    frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]
) -> pd.DataFrame:
    out = {c: pd.to_numeric(frame[c], errors="coerce").astype(np.float64) for c in numeric}
    out.update({c: frame[c].astype(object) for c in categorical})
    return pd.DataFrame(out, index=frame.index)
