"""An optional regional floor for shortlists, and what it costs in precision@k.

The first French Tech 120 required at least two start-ups from each region, overseas
included. ``apply_regional_floor`` is that rule on a ranking: at least ``m`` candidates
from each region in the top ``k``, for every region that has at least ``m`` candidates in
the ranked list (a region with fewer is not floored: the rule cannot hold for it, and
promoting its only candidate would be a different rule).

Behaviour, deterministic for given inputs:

- the ranking is the rows sorted by score, descending, ties in input order;
- a floored region's *required* candidates are its ``m`` best-ranked ones; those already
  in the plain top k simply stay;
- the shortlist is every required candidate, then the best-ranked others until ``k`` rows:
  so the best-ranked candidates of under-represented regions are promoted and the
  lowest-ranked candidates that no floor protects (from regions above their floor) are
  demoted, one for one;
- the shortlist keeps score order;
- when ``k < m x floored regions`` the floor cannot hold everywhere. Required candidates
  are then taken level by level: every floored region's best candidate first, then every
  region's second best, and so on; within a level, the better-ranked candidate first. The
  first ``k`` of that sequence form the shortlist (so with k = 10 and 13 floored regions,
  the 10 regions with the best-ranked leaders get one candidate each).

Regions outside ``floored`` (``None``: every region present) and missing regions are
never floored; their candidates compete for the remaining places on score alone.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from talentmap.training.evaluation.metrics import precision_at_k

RANK = "rank"
PROMOTED = "promoted"


def floor_positions(
    regions: Sequence[Any] | np.ndarray,
    k: int,
    m: int,
    floored: Collection[str] | None = None,
) -> np.ndarray:
    """Positions (0-based, ascending) of the shortlist in a list already in rank order.

    ``regions[i]`` is the region of the candidate ranked ``i + 1`` (None/NaN: no region).
    """
    if k < 0 or m < 0:
        raise ValueError(f"k and m must be non-negative, got k={k}, m={m}")
    labels = pd.Series(np.asarray(regions, dtype=object))
    n = len(labels)
    size = min(k, n)
    if m == 0 or size == 0:
        return np.arange(size, dtype=np.int64)
    eligible = labels.notna()
    if floored is not None:
        eligible &= labels.isin(list(floored))
    counts = labels[eligible].value_counts()
    floored_now = counts.index[counts >= m]
    in_floor = labels.isin(floored_now)
    mask = in_floor.to_numpy()
    level = np.full(n, m, dtype=np.int64)  # m = not required
    inside = labels[mask]
    level[mask] = inside.groupby(inside, sort=False).cumcount().to_numpy()  # 0 = region's best
    required = np.flatnonzero(level < m)
    # Level by level, then by rank: the order in which places go when k is too small.
    required = required[np.lexsort((required, level[required]))]
    chosen = required[:size]
    if len(chosen) < size:
        free = np.setdiff1d(np.arange(n), chosen, assume_unique=True)
        chosen = np.concatenate([chosen, free[: size - len(chosen)]])
    return np.sort(chosen).astype(np.int64)


def apply_regional_floor(
    ranked: pd.DataFrame,
    k: int,
    m: int,
    floored: Collection[str] | None = None,
) -> pd.DataFrame:
    """The top-``k`` shortlist of ``ranked`` under a floor of ``m`` per region.

    ``ranked`` holds at least ``org_id``, ``region`` and ``score`` (any row order). The
    result has ``min(k, len(ranked))`` rows in score order with the input columns plus
    ``rank`` (1-based rank in the whole ranking) and ``promoted`` (True when the row is
    there only because of the floor). ``m = 0`` gives the plain top k.
    """
    missing = [c for c in ("org_id", "region", "score") if c not in ranked.columns]
    if missing:
        raise KeyError(f"ranked lacks columns: {missing}")
    order = np.argsort(-ranked["score"].to_numpy(dtype=np.float64), kind="stable")
    in_order = ranked.iloc[order].reset_index(drop=True)
    positions = floor_positions(in_order["region"].to_numpy(dtype=object), k, m, floored)
    out = in_order.iloc[positions].reset_index(drop=True)
    out[RANK] = positions + 1
    out[PROMOTED] = positions >= min(k, len(in_order))
    return out


def regional_floor_cost(
    y_true: Sequence[int] | np.ndarray,
    score: Sequence[float] | np.ndarray,
    regions: Sequence[Any] | np.ndarray,
    k: int,
    m: int,
    floored: Collection[str] | None = None,
) -> dict[str, Any]:
    """precision@k of the plain top k and of the floored shortlist, and the difference.

    ``cost`` = precision without - precision with (positive: the floor costs precision).
    Also: how many candidates the floor promoted, how many regions it applied to, and
    whether it could hold for all of them (``feasible``: k >= m x floored regions).
    """
    y = np.asarray(y_true, dtype=np.int64)
    s = np.asarray(score, dtype=np.float64)
    frame = pd.DataFrame(
        {"org_id": np.arange(len(s)), "region": np.asarray(regions, dtype=object), "score": s}
    )
    shortlist = apply_regional_floor(frame, k, m, floored)
    without = precision_at_k(y, s, k) if len(y) else float("nan")
    with_floor = float(y[shortlist["org_id"].to_numpy()].mean()) if len(shortlist) else float("nan")
    labels = frame["region"]
    eligible = labels.notna() if floored is None else labels.isin(list(floored))
    counts = labels[eligible].value_counts()
    n_floored = int((counts >= m).sum()) if m > 0 else 0
    return {
        "m": m,
        "k": k,
        "precision_at_k_without": _finite(without),
        "precision_at_k_with": _finite(with_floor),
        "cost": _finite(round(without - with_floor, 12)),
        "promoted": int(shortlist[PROMOTED].sum()),
        "regions_floored": n_floored,
        "feasible": k >= m * n_floored,
    }


def _finite(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def french_regions(organizations: pd.DataFrame, org_ids: Sequence[str] | np.ndarray) -> np.ndarray:
    """The official French region of each org (None abroad or unknown), aligned with ids.

    The floor is a rule about French regions; a foreign company's region text is
    free-form and never floored.
    """
    from talentmap.contract import FR_REGIONS

    orgs = organizations.drop_duplicates("org_id").set_index("org_id")
    meta = orgs.reindex(pd.Index(np.asarray(org_ids, dtype=object)))
    region = meta["region"] if "region" in meta else pd.Series(None, index=meta.index)
    french = region.isin(list(FR_REGIONS))
    if "country" in meta:
        french &= meta["country"].eq("FR")
    return region.where(french, None).to_numpy(dtype=object)


def floor_summary(report: Mapping[str, Any]) -> str:
    """One sentence for the model card."""
    if report.get("precision_at_k_without") is None:
        return "The regional floor could not be evaluated (no labelled candidates)."
    return (
        f"With at least {report['m']} candidates from each of the {report['regions_floored']} "
        f"French regions that have that many, the top {report['k']} promotes "
        f"{report['promoted']} companies; precision@{report['k']} goes from "
        f"{report['precision_at_k_without']:.3f} to {report['precision_at_k_with']:.3f} "
        f"(cost {report['cost']:+.3f})."
        + ("" if report["feasible"] else " The floor cannot hold for every region at this k.")
    )
