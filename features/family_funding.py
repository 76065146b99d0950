"""Funding family: rounds so far by type, amounts, stage, momentum and investors.

``funding_rounds`` is a required table, so an organisation without rounds has true zeros
from its first known day. Investor features need the optional ``investments`` table and
are NaN without it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from talentmap.features.catalog import ROUND_TYPES, STAGE_ORDINAL
from talentmap.features.events import DAY, align, count_distinct, epoch_days, running_sum
from talentmap.features.prepare import Prepared, org_start_rows

INVESTOR_COLUMNS = (
    "n_distinct_investors",
    "n_distinct_vc_investors",
    "n_rounds_with_vc",
    "n_rounds_with_lead",
)


def _day_sums(rounds: pd.DataFrame) -> np.ndarray:
    """Known amounts summed per (org, day), NaN when none is known, in sorted group order.

    A Python ``sum(min_count=1)`` per group took most of the family's build time (one
    call per round day); a day with one round is its amount, so only days with several
    rounds are summed, by the same call (the same floating-point result as before).
    """
    groups = rounds.groupby(["org_id", DAY], sort=True)["amount"]
    sums = groups.max().to_numpy(dtype=np.float64, copy=True)
    several = groups.size().to_numpy() > 1
    if several.any():
        shared = groups.transform("size").to_numpy() > 1
        summed = (
            rounds.loc[shared]
            .groupby(["org_id", DAY], sort=True)["amount"]
            .agg(lambda s: s.sum(min_count=1))
        )
        sums[several] = summed.to_numpy(dtype=np.float64)
    return sums


def _round_parts(rounds: pd.DataFrame) -> list[tuple[pd.DataFrame, dict[str, float]]]:
    counts = rounds[["org_id", DAY]].assign(n_rounds=1.0)
    for t in ROUND_TYPES:
        counts[f"n_rounds_{t}"] = (rounds["round_type"] == t).astype("float64")
    counts["amount_total_eur"] = rounds["amount"].fillna(0.0)
    count_cols = [c for c in counts.columns if c not in ("org_id", DAY)]
    totals = running_sum(counts, "org_id", count_cols)

    staged = rounds.assign(
        stage=rounds["round_type"].map(STAGE_ORDINAL).fillna(0).astype("float64")
    )
    daily = (
        staged.groupby(["org_id", DAY], sort=True)
        .agg(amount_day_max=("amount", "max"), stage=("stage", "max"))
        .reset_index()
    )
    daily.insert(2, "amount_day", _day_sums(staged))
    by_org = daily.groupby("org_id", sort=False)
    derived = pd.DataFrame(
        {
            "org_id": daily["org_id"],
            DAY: daily[DAY],
            # cummax skips NaN but leaves NaN in place: carry the running max forward.
            "amount_max_eur": by_org["amount_day_max"].cummax().groupby(daily["org_id"]).ffill(),
            "amount_last_eur": daily["amount_day"],
            "stage_ordinal": by_org["stage"].cummax(),
            "round_gap_days": (daily[DAY] - by_org[DAY].shift(1)) / pd.Timedelta(days=1),
            "first_round_day": epoch_days(by_org[DAY].transform("min")),
            "last_round_day": epoch_days(daily[DAY]),
        }
    )
    zeros = dict.fromkeys(count_cols, 0.0)
    return [(totals, zeros), (derived, {"stage_ordinal": 0.0})]


def _investor_parts(p: Prepared, rounds: pd.DataFrame) -> list[tuple[pd.DataFrame, dict]]:
    raw = p.table("investments")
    inv = pd.DataFrame(
        {
            "round_id": raw["round_id"].astype(object),
            "investor_id": raw["investor_id"].astype(object),
            "kind": raw["investor_kind"].astype(object) if "investor_kind" in raw else None,
            "lead": raw["is_lead"].astype("boolean").fillna(False).astype(bool)
            if "is_lead" in raw
            else False,
        }
    ).merge(rounds[["round_id", "org_id", DAY]], on="round_id", how="inner")
    vc = inv[inv["kind"] == "vc"]
    per_round = (
        inv.assign(vc=inv["kind"] == "vc")
        .groupby(["org_id", "round_id", DAY], sort=False)[["vc", "lead"]]
        .any()
        .reset_index()
    )
    per_round = per_round.astype({"vc": "float64", "lead": "float64"}).rename(
        columns={"vc": "n_rounds_with_vc", "lead": "n_rounds_with_lead"}
    )
    zeros = dict.fromkeys(INVESTOR_COLUMNS, 0.0)
    return [
        (count_distinct(inv, "org_id", ["org_id", "investor_id"], "n_distinct_investors"), zeros),
        (count_distinct(vc, "org_id", ["org_id", "investor_id"], "n_distinct_vc_investors"), zeros),
        (
            running_sum(
                per_round[["org_id", DAY, "n_rounds_with_vc", "n_rounds_with_lead"]],
                "org_id",
                ["n_rounds_with_vc", "n_rounds_with_lead"],
            ),
            zeros,
        ),
    ]


def build_funding(p: Prepared) -> pd.DataFrame:
    rounds = p.rounds
    parts = _round_parts(rounds)
    if p.has("investments"):
        parts += _investor_parts(p, rounds)
    keys = pd.concat([org_start_rows(p), rounds[["org_id", DAY]]], ignore_index=True)
    out = align(keys, "org_id", parts)
    for column in INVESTOR_COLUMNS:
        if column not in out.columns:
            out[column] = np.nan
    return out
