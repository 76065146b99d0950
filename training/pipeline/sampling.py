"""Training rows capped at ``training.max_rows``: a reproducible, weighted sample (issue 10).

One million organisations give about 5.4 million training rows (each company at many
quarterly as-of dates). Retrieving them all through Feast and fitting five LightGBM
boosters and three logistic regressions on them does not fit the 8 GB and 60 minutes of
issue 10, and adds little: the rows of one company at successive dates are highly
correlated. Above the cap the rows are sampled before any feature is retrieved:

- **Per stratum.** Each (as-of date, label) stratum keeps the same share of its rows,
  ``rate`` for its class, rounded up (at least one row of a non-empty stratum). Every
  positive is kept while the positives fill at most half the cap; beyond that the
  positives are sampled too, at the rate that gives them half of it.
- **Weights.** A kept row weighs ``stratum size / kept in stratum``, so every date keeps
  its row count and its base rate exactly once weighted: the trees' loss, the linear
  part, the selection's per-date average precision and the calibration map all see the
  rows' original proportions.
- **Reproducible.** A row is kept when its hash of ``(org_id, as_of)``, keyed by the
  seed, is among the smallest of its stratum. The draw depends on nothing but the row and
  the stratum's size: the same rows and seed give the same sample, in any row order.
- **Point in time.** Only the rows ``select_training_rows`` returned are ever drawn:
  their label windows all close by the run's as-of date, and the two class rates are
  counted on those rows alone. Nothing dated after the as-of date is read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

WEIGHT = "weight"


@dataclass(frozen=True)
class RowSample:
    """What was drawn: the counts before and after, the rates, the cap and the seed."""

    max_rows: int
    seed: int
    rows: int
    positives: int
    kept_rows: int
    kept_positives: int
    positive_rate: float
    negative_rate: float

    @property
    def sampled(self) -> bool:
        return self.kept_rows < self.rows

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sampled": self.sampled}

    def mlflow_params(self) -> dict[str, str]:
        """``training.sample.*``: the cap, the seed, the counts and the rates."""
        return {f"training.sample.{k}": str(v) for k, v in self.to_dict().items()}

    def card_note(self) -> str:
        """One sentence for the model card's limitations."""
        if not self.sampled:
            return (
                f"Every one of the {self.rows:,} training rows was used "
                f"(training.max_rows = {self.max_rows:,})."
            )
        return (
            f"The model learnt from a weighted sample of {self.kept_rows:,} of the "
            f"{self.rows:,} training rows (training.max_rows = {self.max_rows:,}, seed "
            f"{self.seed}): {self.kept_positives:,} of {self.positives:,} positives "
            f"(rate {self.positive_rate:.4f}) and negatives at rate "
            f"{self.negative_rate:.4f}, drawn per as-of date; each row weighs the rows it "
            "stands for, so every date keeps its count and base rate."
        )


def class_rates(positives: int, negatives: int, max_rows: int) -> tuple[float, float]:
    """The share of positives and of negatives kept under ``max_rows`` (1.0 = all)."""
    if positives + negatives <= max_rows:
        return 1.0, 1.0
    half = max_rows // 2
    keep_pos = min(positives, max(half, max_rows - negatives))
    keep_neg = max_rows - keep_pos
    pos_rate = keep_pos / positives if positives else 1.0
    neg_rate = min(1.0, keep_neg / negatives) if negatives else 1.0
    return pos_rate, neg_rate


def _row_hash(rows: pd.DataFrame, seed: int) -> np.ndarray:
    """A 64-bit hash of each row's (org_id, as_of), keyed by the seed."""
    key = pd.DataFrame(
        {
            "org_id": rows["org_id"].astype(str).to_numpy(),
            "as_of": pd.to_datetime(rows["as_of"]).dt.strftime("%Y-%m-%d").to_numpy(),
        }
    )
    hash_key = f"{seed % 10**16:016d}"  # pandas wants exactly 16 characters
    return pd.util.hash_pandas_object(key, index=False, hash_key=hash_key).to_numpy()


def sample_training_rows(
    rows: pd.DataFrame, max_rows: int, seed: int
) -> tuple[pd.DataFrame, RowSample]:
    """``rows`` (``org_id``, ``as_of``, ``label``) with a ``weight`` column, capped.

    At or under ``max_rows`` every row is kept with weight 1. Above it, the sample the
    module describes, in the rows' original order.
    """
    labels = rows["label"].to_numpy(dtype=np.int64)
    positives = int(labels.sum())
    pos_rate, neg_rate = class_rates(positives, len(rows) - positives, max_rows)
    if pos_rate >= 1.0 and neg_rate >= 1.0:
        kept = rows.assign(**{WEIGHT: 1.0})
        return kept, RowSample(max_rows, seed, len(rows), positives, len(rows), positives, 1.0, 1.0)
    frame = pd.DataFrame(
        {
            "as_of": rows["as_of"].to_numpy(),
            "label": labels,
            "hash": _row_hash(rows, seed),
            "pos": np.arange(len(rows)),
        }
    )
    # Within each stratum: rank rows by hash; keep the ceil(rate * size) smallest.
    frame = frame.sort_values(["as_of", "label", "hash", "pos"], kind="stable")
    group = frame.groupby(["as_of", "label"], sort=False)
    size = group["hash"].transform("size").to_numpy()
    rank = group.cumcount().to_numpy()
    rate = np.where(frame["label"].to_numpy() == 1, pos_rate, neg_rate)
    quota = np.minimum(size, np.maximum(1, np.ceil(rate * size - 1e-9))).astype(np.int64)
    keep = rank < quota
    weight = np.empty(len(rows), dtype=np.float64)
    mask = np.zeros(len(rows), dtype=bool)
    positions = frame["pos"].to_numpy()
    mask[positions[keep]] = True
    weight[positions] = size / quota
    kept = rows.loc[mask].assign(**{WEIGHT: weight[mask]})
    kept_positives = int(kept["label"].sum())
    return kept, RowSample(
        max_rows,
        seed,
        len(rows),
        positives,
        len(kept),
        kept_positives,
        round(pos_rate, 6),
        round(neg_rate, 6),
    )


def weighted_base_rate(rows: pd.DataFrame) -> float:
    """The base rate the weights restore (the full rows' own, up to rounding)."""
    w = rows[WEIGHT].to_numpy(dtype=np.float64)
    return float((w * rows["label"].to_numpy(dtype=np.float64)).sum() / w.sum())
