"""Why a company scored as it did, from the served scorer's own per-feature contributions.

``contributions`` is ``PromiseModel.contributions``: LightGBM's ``pred_contrib``
(TreeSHAP) for the trees, signed centred coefficient x value for the linear part, each
times its weight in the served blend; one column per feature plus ``bias`` (the expected
raw score), all on the RAW scale, so each row sums exactly to ``model.predict_raw``.
They explain the raw score, not the calibrator: Platt
scaling is monotone, so a feature that raises the raw score raises the probability too
(the calibrated probability is not a sum of these numbers).

``top_reasons`` keeps the largest contributions in absolute value and words them with
``talentmap.training.model.phrasing`` ("headcount grew 40% in 12 months (raises the score)").
Values are those the model saw: a category unseen at fit time is reported as unknown.

``sentence`` / ``localised_texts`` (``talentmap.training.model.wording``, re-exported here)
word the same structured reason (feature, value, sign of the
contribution) in each language of ``LANGUAGES``: French comes from
``talentmap.training.model.phrasing_fr``, built from the parts, never by translating the
English string. A stored reason (a published ranking file holds feature, value,
contribution and the English text) can thus be said in French when it is served.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from talentmap.training.model.estimator import BIAS, PromiseModel
from talentmap.training.model.phrasing import describe, is_missing
from talentmap.training.model.wording import (
    LANGUAGES,
    LOWERS,
    LOWERS_FR,
    RAISES,
    RAISES_FR,
    direction_sentence,
    fact,
    localised_texts,
    sentence,
)

# The wording lives in ``wording`` (no LightGBM import); it stays importable from here.
__all__ = [
    "LANGUAGES",
    "LOWERS",
    "LOWERS_FR",
    "RAISES",
    "RAISES_FR",
    "Reason",
    "contributions",
    "fact",
    "localised_texts",
    "reasons_frame",
    "sentence",
    "top_reasons",
]


@dataclass(frozen=True)
class Reason:
    """One feature's part in a score, in numbers and in words."""

    feature: str
    value: float | str | None  # None = unknown to the model
    contribution: float  # signed, raw log-odds
    fact: str  # e.g. "a founder holds a PhD"
    text: str  # fact + direction, e.g. "A founder holds a PhD (raises the score)"

    @property
    def direction(self) -> str:
        return RAISES if self.contribution > 0 else LOWERS

    @property
    def texts(self) -> dict[str, str]:
        """``text`` in every language of ``LANGUAGES`` (``"en"`` is ``text`` itself)."""
        return localised_texts(self.feature, self.value, self.contribution, self.text)


def contributions(model: PromiseModel, frame: pd.DataFrame) -> pd.DataFrame:
    """Per-row feature contributions and ``bias``, raw scale; rows sum to predict_raw."""
    return model.contributions(frame)


def _plain(value: object) -> float | str | None:
    if is_missing(value):
        return None
    if isinstance(value, np.generic):
        return value.item()  # type: ignore[no-any-return]
    return value  # type: ignore[return-value]


def top_reasons(model: PromiseModel, frame: pd.DataFrame, n: int = 3) -> list[list[Reason]]:
    """The ``n`` largest contributions of each row, by absolute value, largest first.

    Features with a contribution of exactly 0 played no part and are never given as a
    reason, so a row can have fewer than ``n``. Ties keep the feature order.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    contrib = contributions(model, frame).drop(columns=BIAS)
    prepared = model.prepare(frame)
    names = contrib.columns.to_list()
    values = contrib.to_numpy()
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :n]
    seen = prepared.astype(object).to_numpy()
    out: list[list[Reason]] = []
    for row, columns in enumerate(order):
        reasons = []
        for col in columns:
            c = float(values[row, col])
            if c == 0.0:
                break
            value = _plain(seen[row, col])
            said = describe(names[col], value)
            reasons.append(Reason(names[col], value, c, said, direction_sentence(said, c)))
        out.append(reasons)
    return out


def reasons_frame(model: PromiseModel, frame: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    """``reason_1 .. reason_n`` sentences per row (None where a row has fewer), frame's index."""
    rows = top_reasons(model, frame, n)
    columns = [f"reason_{i + 1}" for i in range(n)]
    texts = [[r.text for r in reasons] + [None] * (n - len(reasons)) for reasons in rows]
    return pd.DataFrame(texts, index=frame.index, columns=columns)
