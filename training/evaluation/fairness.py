"""Group fairness of the top-k shortlist: selection rates, exposure and the four-fifths rule.

Every training run audits the model's ranking of the evaluation window by region, by
founding-team gender, and (when the snapshot records them) by founders' age band and type
of school. None of these is a model feature: gender may serve this audit only, and French
law forbids ethnic categories altogether, so none exists here (team notes).

Definitions, for one audit dimension and a ranking of N candidates (rank 1 = best, ties
in input order exactly as ``metrics.top_k_order``), group g holding n_g candidates:

- **selection rate** s_g = (g's candidates in the top k) / n_g;
- **selection ratio** s_g / s_ref, where the *reference* is the group with the highest
  selection rate among groups that are known (not "unknown") and not *small*. A group is
  small when it holds fewer than ``min_group_size`` candidates or when, at the overall
  selection rate k/N, fewer than ``min_expected_selected`` of its candidates would make
  the list: a group of three where one company made the list, or a region where one
  more or one fewer pick moves the rate by a third, would otherwise set the bar for
  everybody (the maximum of many noisy rates is biased upwards);
- **four-fifths flag**: selection ratio < ``four_fifths`` (0.8, the US EEOC's rule of thumb
  for adverse impact);
- **exposure**: the attention a shortlist reader gives to rank r, with the DCG discount
  a(r) = 1 / log2(1 + r) for r <= k and 0 beyond (rank 1 gets 1, rank 3 gets 0.5). E_g is
  the sum of a(r) over g's candidates. ``exposure_share`` = E_g / sum of all E (compare it
  with ``candidate_share`` = n_g / N); ``mean_exposure`` = E_g / n_g, normalised by group
  size, so that groups of any size compare; ``exposure_ratio`` = mean_exposure_g divided by
  the reference group's (the same reference as the selection ratio).

A flag says that, in this window, the shortlist picks the group's companies at under 4/5
the rate of the most-picked group. It does not say why: groups can differ in what the
label counts (and the label carries investors' past biases, see ``data/GENERATOR.md``),
in how well the sources cover them, or by chance when they are small. No flag does not
prove fairness either. The flags are for a person to read, with the base rates next to
them, not a verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from talentmap.settings.training import FairnessConfig
from talentmap.training.evaluation.fairness_audit import (
    AGE_BAND,
    FOUNDER_GENDER,
    LEAD_GENDER,
    REGION,
    SCHOOL,
    UNKNOWN,
)
from talentmap.training.evaluation.metrics import top_k_order

# Audit column -> the short name used in metric keys and in fairness.json.
DIMENSIONS: dict[str, str] = {
    REGION: "region",
    FOUNDER_GENDER: "gender",
    LEAD_GENDER: "lead_gender",
    AGE_BAND: "age_band",
    SCHOOL: "school",
}
FAIRNESS_ARTIFACT = "fairness/fairness.json"
FAIRNESS_COLUMNS: tuple[str, ...] = (
    "group",
    "n",
    "candidate_share",
    "selected",
    "selection_rate",
    "selection_ratio",
    "exposure",
    "exposure_share",
    "mean_exposure",
    "exposure_ratio",
    "n_positive",
    "base_rate",
    "small",
    "reference",
    "flagged",
)


def attention(k: int, n: int) -> np.ndarray:
    """a(r) for ranks 1..n: 1/log2(1 + r) up to rank k, then 0."""
    ranks = np.arange(1, n + 1, dtype=np.float64)
    return np.where(ranks <= k, 1.0 / np.log2(1.0 + ranks), 0.0)


def _labels(groups: pd.Series | np.ndarray | Sequence[Any]) -> np.ndarray:
    return pd.Series(np.asarray(groups, dtype=object)).fillna(UNKNOWN).astype(str).to_numpy()


def fairness_table(
    score: np.ndarray | Sequence[float],
    groups: pd.Series | np.ndarray | Sequence[Any],
    k: int,
    *,
    y_true: np.ndarray | Sequence[int] | None = None,
    four_fifths: float = 0.8,
    min_group_size: int = 30,
    min_expected_selected: float = 5.0,
) -> pd.DataFrame:
    """One row per group (sorted by name) with the columns of ``FAIRNESS_COLUMNS``.

    ``y_true`` (0/1, optional) adds each group's positives and base rate: a selection
    ratio that merely follows the base-rate ratio mirrors the labels, biases included.
    Ratios are NaN when no group qualifies as the reference or the reference's rate is 0.
    """
    s = np.asarray(score, dtype=np.float64)
    labels = _labels(groups)
    if len(labels) != len(s):
        raise ValueError(f"{len(labels)} group labels for {len(s)} scores")
    y = None if y_true is None else np.asarray(y_true, dtype=np.int64)
    if y is not None and len(y) != len(s):
        raise ValueError(f"{len(y)} labels for {len(s)} scores")
    n_total = len(s)
    weight = np.zeros(n_total)
    selected = np.zeros(n_total, dtype=bool)
    if n_total:
        order = top_k_order(s)
        weight[order] = attention(k, n_total)
        selected[order[: min(k, n_total)]] = True
    total_exposure = float(weight.sum())
    overall_rate = min(k, n_total) / n_total if n_total else 0.0
    rows: list[dict[str, Any]] = []
    for group in sorted(set(labels)):
        mask = labels == group
        n = int(mask.sum())
        exposure = float(weight[mask].sum())
        n_pos = int(y[mask].sum()) if y is not None else None
        rows.append(
            {
                "group": group,
                "n": n,
                "candidate_share": n / n_total,
                "selected": int(selected[mask].sum()),
                "selection_rate": float(selected[mask].mean()),
                "exposure": exposure,
                "exposure_share": exposure / total_exposure if total_exposure else math.nan,
                "mean_exposure": exposure / n,
                "n_positive": n_pos,
                "base_rate": n_pos / n if n_pos is not None else math.nan,
                "small": n < min_group_size or n * overall_rate < min_expected_selected,
            }
        )
    table = pd.DataFrame(rows, columns=[c for c in FAIRNESS_COLUMNS if c in (rows or [{}])[0]])
    return _with_ratios(table, four_fifths)


def _with_ratios(table: pd.DataFrame, four_fifths: float) -> pd.DataFrame:
    table = table.reindex(columns=list(FAIRNESS_COLUMNS))
    if table.empty:
        return table
    eligible = table[(table["group"] != UNKNOWN) & ~table["small"].astype(bool)]
    reference = None
    if not eligible.empty:
        # Highest rate first; equal rates: the larger group, then the name (deterministic).
        best = eligible.sort_values(
            ["selection_rate", "n", "group"], ascending=[False, False, True], kind="stable"
        )
        reference = best.iloc[0]
    ref_rate = float(reference["selection_rate"]) if reference is not None else 0.0
    ref_exposure = float(reference["mean_exposure"]) if reference is not None else 0.0
    table["selection_ratio"] = table["selection_rate"] / ref_rate if ref_rate > 0 else math.nan
    table["exposure_ratio"] = (
        table["mean_exposure"] / ref_exposure if ref_exposure > 0 else math.nan
    )
    table["reference"] = table["group"] == reference["group"] if reference is not None else False
    table["flagged"] = table["selection_ratio"] < four_fifths  # NaN compares False
    table["small"] = table["small"].astype(bool)
    return table


def fairness_audit(
    score: np.ndarray | Sequence[float],
    audit: pd.DataFrame,
    config: FairnessConfig | None = None,
    y_true: np.ndarray | Sequence[int] | None = None,
) -> dict[str, pd.DataFrame]:
    """``{dimension: fairness_table}`` for each audit column present in ``audit``.

    ``audit`` is aligned with ``score`` row for row (``audit.audit_groups`` output, or any
    frame holding some of the columns of ``DIMENSIONS``).
    """
    cfg = config or FairnessConfig()
    out: dict[str, pd.DataFrame] = {}
    for column, dimension in DIMENSIONS.items():
        if column in audit.columns:
            out[dimension] = fairness_table(
                score,
                audit[column].to_numpy(),
                cfg.k,
                y_true=y_true,
                four_fifths=cfg.four_fifths,
                min_group_size=cfg.min_group_size,
                min_expected_selected=cfg.min_expected_selected,
            )
    return out


def _key(*parts: str) -> str:
    from talentmap.training.tracking.target import metric_key

    return metric_key(*(p.replace(" ", "_") for p in parts))


def fairness_metrics(audit: Mapping[str, pd.DataFrame], k: int) -> dict[str, float]:
    """Flat MLflow metrics, e.g. ``fairness.gender.women_only.selection_rate_at_100``.

    Per dimension also ``min_selection_ratio_at_k`` and ``n_flagged_at_k`` (small groups
    included: a reader sees them in the table). NaN values are left out, as for the other
    metrics of a run.
    """
    out: dict[str, float] = {}
    for dimension, table in audit.items():
        for _, row in table.iterrows():
            for column in ("selection_rate", "selection_ratio", "exposure_share", "exposure_ratio"):
                out[_key("fairness", dimension, str(row["group"]), f"{column}@{k}")] = float(
                    row[column]
                )
        ratios = table["selection_ratio"].dropna()
        out[_key("fairness", dimension, f"min_selection_ratio@{k}")] = (
            float(ratios.min()) if len(ratios) else math.nan
        )
        out[_key("fairness", dimension, f"n_flagged@{k}")] = float(table["flagged"].sum())
    return {key: value for key, value in out.items() if not math.isnan(value)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def fairness_document(
    audit: Mapping[str, pd.DataFrame],
    config: FairnessConfig,
    regional_floor: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``fairness.json`` artifact: definitions, the tables, the flags, the floor's cost."""
    dimensions: dict[str, Any] = {}
    for dimension, table in audit.items():
        reference = table.loc[table["reference"].astype(bool), "group"]
        dimensions[dimension] = {
            "reference_group": str(reference.iloc[0]) if len(reference) else None,
            "flagged": sorted(table.loc[table["flagged"].astype(bool), "group"].astype(str)),
            "groups": [
                {column: _jsonable(row[column]) for column in table.columns}
                for _, row in table.iterrows()
            ],
        }
    return {
        "k": config.k,
        "four_fifths": config.four_fifths,
        "min_group_size": config.min_group_size,
        "min_expected_selected": config.min_expected_selected,
        "definitions": {
            "selection_rate": "share of the group's candidates that are in the top k",
            "selection_ratio": "selection_rate / the reference group's selection_rate",
            "reference_group": "highest selection_rate among known groups that are not small",
            "small": "fewer than min_group_size candidates, or fewer than "
            "min_expected_selected expected in the top k at the overall rate k/N",
            "flagged": "selection_ratio < four_fifths",
            "exposure": "sum over the group's candidates of 1/log2(1 + rank), rank <= k",
            "exposure_share": "group exposure / total exposure of the top k",
            "mean_exposure": "group exposure / group size",
            "exposure_ratio": "mean_exposure / the reference group's mean_exposure",
        },
        "dimensions": dimensions,
        "regional_floor": dict(regional_floor) if regional_floor is not None else None,
    }
