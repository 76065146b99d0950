"""Momentum family: how fast rounds follow each other and how much each one steps up.

Rounds on the same day count as one round day, as in the funding family, whose
``round_gap_days`` already holds the gap between the last two round days; this family
adds the mean gap over all of them. A round day's amount is the sum of its known
amounts, as ``amount_last_eur``, so the step-up is NaN when either day's amounts are all
unknown (or the previous one is 0). ``last_round_amount_eur`` is the amount of the one
round that stands for the last day (the largest known amount); the ``relative_amount``
on-demand view divides it by the median of its round pool.
"""

from __future__ import annotations

import pandas as pd

from talentmap.features.catalog import FAMILIES
from talentmap.features.events import DAY, align
from talentmap.features.prepare import Prepared, org_start_rows

DAYS_PER_MONTH = 365.25 / 12


def build_momentum(p: Prepared) -> pd.DataFrame:
    rounds = p.rounds
    grouped = rounds.groupby(["org_id", DAY], sort=True)["amount"]
    daily = pd.DataFrame(
        {"amount_day": grouped.sum(min_count=1), "amount_top": grouped.max()}
    ).reset_index()
    by_org = daily.groupby("org_id", sort=False)
    n_days = by_org.cumcount().astype("float64")  # gaps so far: round days minus one
    span = (daily[DAY] - by_org[DAY].transform("min")) / pd.Timedelta(days=1)
    previous = by_org["amount_day"].shift(1)
    values = pd.DataFrame(
        {
            "org_id": daily["org_id"],
            DAY: daily[DAY],
            "round_gap_months_mean": (span / n_days / DAYS_PER_MONTH).where(n_days > 0),
            "amount_step_up": daily["amount_day"] / previous.where(previous > 0),
            "last_round_amount_eur": daily["amount_top"],
        }
    )
    keys = pd.concat([org_start_rows(p), values[["org_id", DAY]]], ignore_index=True)
    out = align(keys, "org_id", [(values, {})])
    for column in FAMILIES["momentum"].numeric:
        out[column] = out[column].astype("float64")
    return out
