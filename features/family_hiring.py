"""Hiring family: headcount, its 12-month growth, and job postings in rolling windows.

Windowed values change when an event leaves the window, so those days are event days too:
a posting adds a row on the day it is posted and on the days it drops out of the 90- and
365-day windows; a headcount observation adds a row on its day and 365 days later, when it
becomes the "12 months ago" reference. Growth is known only if there is an observation
newer than that reference. Every value stays a function of events on or before
the row's day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from talentmap.features.events import DAY, align, running_sum, to_day
from talentmap.features.prepare import Prepared, org_start_rows

YEAR = pd.Timedelta(days=365)
QUARTER = pd.Timedelta(days=90)
HEADCOUNT_COLUMNS = ("headcount_latest", "headcount_12m_ago", "headcount_growth_12m")
POSTING_COLUMNS = ("job_postings_total", "job_postings_90d", "job_postings_365d")


def _headcount_parts(p: Prepared) -> list[tuple[pd.DataFrame, dict[str, float]]]:
    raw = p.table("headcount")
    obs = pd.DataFrame(
        {
            "org_id": raw["org_id"].astype(object),
            DAY: to_day(raw["observed_on"]),
            "value": pd.to_numeric(raw["headcount"], errors="coerce").astype("float64"),
        }
    ).dropna()
    # Two observations on one day: keep the larger (a source revision rarely shrinks).
    obs = obs.groupby(["org_id", DAY], sort=True)["value"].max().reset_index()
    latest = obs.assign(_latest_on=obs[DAY]).rename(columns={"value": "headcount_latest"})
    ago = obs.assign(**{DAY: obs[DAY] + YEAR, "_ago_on": obs[DAY]})
    ago = ago.rename(columns={"value": "headcount_12m_ago"})
    return [(latest, {}), (ago, {})]


def _posting_parts(p: Prepared) -> list[tuple[pd.DataFrame, dict[str, float]]]:
    raw = p.table("job_postings")
    posted = pd.DataFrame({"org_id": raw["org_id"].astype(object), DAY: to_day(raw["posted_on"])})
    posted = posted.dropna()
    events = pd.concat(
        [
            posted.assign(job_postings_total=1.0, job_postings_90d=1.0, job_postings_365d=1.0),
            posted.assign(**{DAY: posted[DAY] + QUARTER}, job_postings_90d=-1.0),
            posted.assign(**{DAY: posted[DAY] + YEAR}, job_postings_365d=-1.0),
        ],
        ignore_index=True,
    ).fillna(0.0)
    totals = running_sum(events, "org_id", list(POSTING_COLUMNS))
    return [(totals, dict.fromkeys(POSTING_COLUMNS, 0.0))]


def build_hiring(p: Prepared) -> pd.DataFrame:
    parts: list[tuple[pd.DataFrame, dict[str, float]]] = []
    if p.has("headcount"):
        parts += _headcount_parts(p)
    if p.has("job_postings"):
        parts += _posting_parts(p)
    keys = pd.concat(
        [org_start_rows(p), *(part[["org_id", DAY]] for part, _ in parts)], ignore_index=True
    )
    out = align(keys, "org_id", parts)
    if p.has("headcount"):
        ago = out["headcount_12m_ago"]
        # Growth needs a newer observation than the reference one, else it is unknown.
        fresh = out["_latest_on"] > out["_ago_on"]
        growth = out["headcount_latest"] / ago - 1.0
        out["headcount_growth_12m"] = growth.where((ago > 0) & fresh)
    for column in (*HEADCOUNT_COLUMNS, *POSTING_COLUMNS):
        if column not in out.columns:
            out[column] = np.nan
    return out
