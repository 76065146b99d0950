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

from talentmap.features.age import age_anchor
from talentmap.features.events import DAY, align, running_sum, to_day
from talentmap.features.prepare import Prepared, org_start_rows

YEAR = pd.Timedelta(days=365)
QUARTER = pd.Timedelta(days=90)
HEADCOUNT_COLUMNS = (
    "headcount_latest",
    "headcount_12m_ago",
    "headcount_growth_12m",
    "headcount_growth_per_year",
)
MIN_GROWTH_YEARS = 0.25
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
    latest = obs.assign(
        _latest_on=obs[DAY], headcount_growth_per_year=_growth_per_year(p, obs)
    ).rename(columns={"value": "headcount_latest"})
    ago = obs.assign(**{DAY: obs[DAY] + YEAR, "_ago_on": obs[DAY]})
    ago = ago.rename(columns={"value": "headcount_12m_ago"})
    return [(latest, {}), (ago, {})]


def _founders_by(p: Prepared, obs: pd.DataFrame) -> np.ndarray:
    """Founder roles of each observation's company started on or before its day (>= 1)."""
    if p.roles is None:
        return np.ones(len(obs))
    founders = p.roles.loc[p.roles["role"] == "founder", ["org_id", "start"]]
    pairs = obs[["org_id", DAY]].reset_index(names="_obs").merge(founders, on="org_id")
    counts = pairs.loc[pairs["start"] <= pairs[DAY]].groupby("_obs").size()
    return np.maximum(counts.reindex(range(len(obs)), fill_value=0).to_numpy(), 1)


def _growth_per_year(p: Prepared, obs: pd.DataFrame) -> np.ndarray:
    """Average yearly headcount growth from the founding team to each observation.

    ``(headcount / founders) ** (1 / years since the age anchor) - 1``, all known on the
    observation's day: the founders in post by then and the age anchor at that day (the
    founding date once reached, else the first dated event, as ``company_age_days``).
    A company's whole growth path, not one noisy year: headcount is observed every few
    months with error, and its growth since founding tracks how well it does over time.
    Unknown without an anchor; ages under a quarter count as a quarter (a team of 3 that
    is 5 a week later did not grow 10,000% a year).
    """
    obs = obs.reset_index(drop=True)
    orgs = p.orgs.drop_duplicates("org_id").set_index("org_id")
    day = obs[DAY].to_numpy(dtype="datetime64[ns]")
    anchor, _ = age_anchor(
        obs["org_id"].map(orgs["founded"]).to_numpy(dtype="datetime64[ns]"),
        obs["org_id"].map(orgs["first_event"]).to_numpy(dtype="datetime64[ns]"),
        day,
        p.age_fallback,
    )
    years = (day - anchor) / np.timedelta64(1, "D") / 365.25
    years = np.where(np.isnat(anchor), np.nan, np.maximum(years, MIN_GROWTH_YEARS))
    ratio = np.maximum(obs["value"].to_numpy(dtype=np.float64), 1.0) / _founders_by(p, obs)
    with np.errstate(invalid="ignore"):
        return np.exp(np.log(ratio) / years) - 1.0


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
