"""Investors family: how often a company's investors backed companies that went on to a
milestone.

At day d, the company's investors are those in its rounds dated on or before d. An
investor's track record at d is the share of its other portfolio companies (invested in
on or before d, the company itself left out) whose first milestone is dated on or before
d. A milestone is what the training label calls one (``PromiseRules``): a round of a
milestone type or of at least the large-round amount, or an exit of a labelled kind. An
investor without another portfolio company has no track record. The family holds the
best and the mean record over the company's investors that have one, and how many do.

Every record changes whenever one of the investor's companies raises, exits or gains a
co-investee, and a large investor backs thousands of companies: recomputing every backed
company on each such day would grow with the square of the data. So a company's values
are refreshed on its own investment days and at each month end (records as of that day,
from events on or before it), and a row is written only when the values changed. The
value at t is exact at month ends, the training as-of dates, and at most a month old in
between. The join runs in DuckDB.

Without an ``investments`` table the family is NaN; with one, a company without known
investors has 0 investors with a track record and NaN records. Without ``exits``, only
rounds can be milestones.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from talentmap.features.catalog import FAMILIES
from talentmap.features.events import DAY, align, to_day
from talentmap.features.prepare import Prepared, org_start_rows

COLUMNS = FAMILIES["investors"].numeric
REFRESH = "ME"


def _listed(p: Prepared, frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(**{DAY: p.listed_day(frame)})


def milestone_days(p: Prepared) -> pd.DataFrame:
    """org_id, ms_day: each organisation's first milestone (rounds and exits, per rules)."""
    # Other companies' milestones: known from when the source listed them.
    rules, rounds = p.rules, p.listed_rounds
    # NaN >= x is False: a round of unknown amount is never a milestone by its amount.
    hit = rounds["round_type"].isin(list(rules.milestone_round_types)) | (
        rounds["amount"] >= rules.large_round_eur
    )
    parts = [rounds.loc[hit, ["org_id", DAY]]]
    if p.has("exits"):
        raw = p.table("exits")
        exits = raw[raw["exit_kind"].isin(list(rules.exit_kinds))]
        parts.append(
            _listed(
                p,
                pd.DataFrame(
                    {"org_id": exits["org_id"].astype(object), DAY: to_day(exits["exited_on"])}
                ).dropna(),
            )
        )
    dated = pd.concat(parts, ignore_index=True)
    return dated.groupby("org_id", sort=False)[DAY].min().rename("ms_day").reset_index()


# Each investor's portfolio size (n) and milestones among it (m), from every day either
# changes on: tables ``inv`` (investor_id, org_id, day) and ``ms`` (org_id, ms_day).
# Shared with the co-investors family (``family_network``), which judges investors alike.
INVESTOR_RECORD_CTES = f"""
WITH first_inv AS (
    SELECT investor_id, org_id, min({DAY}) AS joined FROM inv GROUP BY investor_id, org_id
),
steps AS (
    SELECT investor_id, joined AS {DAY}, 1.0 AS dn, 0.0 AS dm FROM first_inv
    UNION ALL
    SELECT f.investor_id, greatest(f.joined, m.ms_day), 0.0, 1.0
    FROM first_inv f JOIN ms m USING (org_id)
),
record AS (
    SELECT investor_id, {DAY},
        sum(sum(dn)) OVER w AS n, sum(sum(dm)) OVER w AS m
    FROM steps GROUP BY investor_id, {DAY}
    WINDOW w AS (PARTITION BY investor_id ORDER BY {DAY} ROWS UNBOUNDED PRECEDING)
),
"""

QUERY = (
    INVESTOR_RECORD_CTES
    + f"""
refresh AS (
    SELECT org_id, joined AS {DAY} FROM first_inv
    UNION
    SELECT c.org_id, g.{DAY}
    FROM (SELECT org_id, min(joined) AS first FROM first_inv GROUP BY org_id) c
    JOIN grid g ON g.{DAY} >= c.first
),
pairs AS (
    SELECT r.org_id, r.{DAY}, f.investor_id,
        -- The company's own milestone is in its investor's count: take it out.
        -- (greatest() skips NULLs in DuckDB: a company without a milestone must say so.)
        CASE WHEN m.ms_day IS NOT NULL AND greatest(f.joined, m.ms_day) <= r.{DAY}
            THEN 1.0 ELSE 0.0 END AS own
    FROM refresh r
    JOIN first_inv f ON f.org_id = r.org_id AND f.joined <= r.{DAY}
    LEFT JOIN ms m ON m.org_id = r.org_id
),
scored AS (
    SELECT p.org_id, p.{DAY}, rec.n - 1.0 AS others, rec.m - p.own AS reached
    FROM pairs p ASOF JOIN record rec
        ON p.investor_id = rec.investor_id AND p.{DAY} >= rec.{DAY}
)
SELECT org_id, {DAY},
    max(reached / others) FILTER (WHERE others >= 1) AS {COLUMNS[0]},
    -- A parallel float avg() adds in any order and differs in the last bit from run to
    -- run; a DECIMAL sum is exact, so the mean (and which rows count as changes) is stable.
    avg(CASE WHEN others >= 1 THEN (reached / others)::DECIMAL(18, 15) END)::DOUBLE
        AS {COLUMNS[1]},
    count(*) FILTER (WHERE others >= 1)::DOUBLE AS {COLUMNS[2]}
FROM scored
GROUP BY org_id, {DAY}
ORDER BY org_id, {DAY}
"""
)


def _changes(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows whose values differ from the company's previous row (NaN equal to NaN)."""
    values = frame[list(COLUMNS)].to_numpy(dtype="float64")
    previous = np.roll(values, 1, axis=0)
    same = (values == previous) | (np.isnan(values) & np.isnan(previous))
    first = frame["org_id"].ne(frame["org_id"].shift()).to_numpy()
    return frame[first | ~same.all(axis=1)]


def listed_investments(p: Prepared) -> pd.DataFrame:
    """``round_id, investor_id, org_id, day``: each investment on its round's listed day.

    Shared with the co-investors family (``family_network``): both date an investment as
    the source listed its round, never earlier.
    """
    raw = p.table("investments")
    return (
        pd.DataFrame(
            {
                "round_id": raw["round_id"].astype(object),
                "investor_id": raw["investor_id"].astype(object),
            }
        )
        .dropna()
        .merge(p.listed_rounds[["round_id", "org_id", DAY]], on="round_id", how="inner")
    )


def _records(p: Prepared) -> pd.DataFrame:
    inv = listed_investments(p)
    if inv.empty:
        empty = {"org_id": pd.Series(dtype=object), DAY: pd.Series(dtype="M8[ns]")}
        return pd.DataFrame(empty | {c: pd.Series(dtype="float64") for c in COLUMNS})
    inv = inv[["investor_id", "org_id", DAY]].astype({"investor_id": str, "org_id": str})
    ms = milestone_days(p).astype({"org_id": str})
    grid = pd.DataFrame({DAY: pd.date_range(inv[DAY].min(), p.snapshot, freq=REFRESH)})
    with duckdb.connect() as con:
        for name, frame in (("inv", inv), ("ms", ms), ("grid", grid)):
            con.register(name, frame)
        out = con.execute(QUERY).df()
    out[DAY] = out[DAY].astype("datetime64[ns]")
    out["org_id"] = out["org_id"].astype(object)
    return _changes(out.reset_index(drop=True))


def build_investors(p: Prepared) -> pd.DataFrame:
    base = org_start_rows(p)
    if not p.has("investments"):
        out = base.copy()
        for column in COLUMNS:
            out[column] = np.nan
        return out
    records = _records(p)
    keys = pd.concat([base, records[["org_id", DAY]]], ignore_index=True)
    return align(keys, "org_id", [(records, {"n_investors_with_track_record": 0.0})])
