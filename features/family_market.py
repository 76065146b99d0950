"""Market families: what a company's market is doing, kept once per market, not per company.

A company's market heat (rounds raised in its sector and region over the last 365 days)
changes whenever anyone in that cell raises a round. Stored on the company's own rows,
that would be one row per company and per day any of its neighbours raised, a table
growing with the square of the number of companies. So the values live on their own
entities, one row per cell (or round pool) and change day, and ``links`` stores which
cell and which pool each organisation points to at each day; retrieval joins them point
in time (``EntitySpec.link``, ``store``).

- ``links`` (organisation): ``market_cell`` ('sector|country|region') and
  ``sector_cell`` ('sector|country') from the first known day, when sector, country
  (and region) are known; ``round_pool`` ('type|year') of the last round day's round.
- ``market``, ``sector_market``: rounds dated in (t - 365 days, t] in the cell. A round
  adds a row on its day and on the day it leaves the window.
- ``round_pool``: the median known amount of the pool's rounds dated on or before the
  day, one row per day the pool gains a round with a known amount. A past year's pool is
  complete; the current year's median only holds the rounds dated so far.

Besides its change days, every cell and pool has a row on the first of each month (cells
from the first round in the data, so a quiet market is a true zero; pools from their
first round), because these views expire after ``LINKED_TTL`` (31 days, see the catalogue):
within the data nothing expires, and a month after the data ends the values are missing.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from talentmap.features.catalog import (
    FAMILIES,
    HEAT_WINDOW,
    LINKED_TTL,
    MARKET_KEY,
    POOL_KEY,
    SECTOR_KEY,
)
from talentmap.features.events import DAY, align, running_sum
from talentmap.features.prepare import Prepared, org_start_rows

HEAT_DELTA = pd.Timedelta(HEAT_WINDOW)
# Refresh days of every cell and pool: no two rows of a key are further apart than the TTL.
REFRESH = "MS"
assert pd.Timedelta(days=31) <= pd.Timedelta(LINKED_TTL)


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(None, index=frame.index, dtype=object)
    values = frame[column].astype(object)
    return values.where(values.notna(), None)


def cells(p: Prepared) -> pd.DataFrame:
    """org_id, market_cell, sector_cell (None when a part is unknown)."""
    organizations = p.table("organizations")
    sector = _text(organizations, "sector")
    country = _text(organizations, "country")
    region = _text(organizations, "region")
    sector_cell = (sector + "|" + country).where(sector.notna() & country.notna(), None)
    market_cell = (sector_cell + "|" + region).where(sector_cell.notna() & region.notna(), None)
    return pd.DataFrame(
        {
            "org_id": organizations["org_id"].astype(object),
            MARKET_KEY: market_cell.astype(object),
            SECTOR_KEY: sector_cell.astype(object),
        }
    )


def pool_keys(round_type: pd.Series, day: pd.Series) -> pd.Series:
    return round_type.astype(str) + "|" + day.dt.year.astype(str)


def build_links(p: Prepared) -> pd.DataFrame:
    static = org_start_rows(p).merge(cells(p), on="org_id", how="left")
    # The round that stands for a day of several: the largest known amount, then a fixed
    # order, so the pool (and the ratio's numerator) is the same whatever the row order.
    last = p.rounds.sort_values(
        ["org_id", DAY, "amount", "round_type", "round_id"],
        ascending=[True, True, False, True, True],
        na_position="last",
        kind="stable",
    ).drop_duplicates(["org_id", DAY])
    pools = pd.DataFrame(
        {
            "org_id": last["org_id"],
            DAY: last[DAY],
            POOL_KEY: pool_keys(last["round_type"], last[DAY]),
        }
    )
    keys = pd.concat([static[["org_id", DAY]], pools[["org_id", DAY]]], ignore_index=True)
    out = align(keys, "org_id", [(static, {}), (pools, {})])
    for column in FAMILIES["links"].strings:
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out


def _refresh_rows(first: pd.Series, snapshot: pd.Timestamp, key: str) -> pd.DataFrame:
    """(key, day) on the first of every month after each key's ``first`` day, to the snapshot.

    Nothing before ``first``: a row before the first round would only exist because of a
    round after it.
    """
    first = first.dropna()
    first = first[first <= snapshot]
    if first.empty:
        return pd.DataFrame({key: pd.Series(dtype=object), DAY: pd.Series(dtype="M8[ns]")})
    months = pd.date_range(first.min().to_period("M").start_time, snapshot, freq=REFRESH)
    grid = pd.MultiIndex.from_product([first.index, months], names=[key, DAY]).to_frame(index=False)
    grid = grid[grid[DAY] > grid[key].map(first)]
    return grid.astype({DAY: "datetime64[ns]"}).reset_index(drop=True)


def _heat(p: Prepared, key: str, column: str) -> pd.DataFrame:
    located = cells(p)[["org_id", key]].dropna()
    # Other companies' rounds: counted from when the source listed them.
    dated = p.listed_rounds[["org_id", DAY]].merge(located, on="org_id", how="inner")
    events = pd.concat(
        [
            pd.DataFrame({key: dated[key], DAY: dated[DAY], column: 1.0}),
            pd.DataFrame({key: dated[key], DAY: dated[DAY] + HEAT_DELTA, column: -1.0}),
        ],
        ignore_index=True,
    )
    counts = running_sum(events, key, [column])
    # Every cell from the first round in the data on: a market without rounds is a zero.
    start = pd.Series(p.listed_rounds[DAY].min(), index=pd.Index(located[key].unique(), name=key))
    refresh = _refresh_rows(start, p.snapshot, key)
    keys = pd.concat([refresh, counts[[key, DAY]]], ignore_index=True)
    if keys.empty:
        return _empty(key, column)
    return align(keys, key, [(counts, {column: 0.0})])


def _empty(key: str, *columns: str) -> pd.DataFrame:
    frame = {key: pd.Series(dtype=object), DAY: pd.Series(dtype="M8[ns]")}
    return pd.DataFrame(frame | {c: pd.Series(dtype="float64") for c in columns})


def build_market(p: Prepared) -> pd.DataFrame:
    return _heat(p, MARKET_KEY, "market_rounds_12m")


def build_sector_market(p: Prepared) -> pd.DataFrame:
    return _heat(p, SECTOR_KEY, "sector_rounds_12m")


def build_round_pool(p: Prepared) -> pd.DataFrame:
    known = p.listed_rounds.dropna(subset=["amount"])
    if known.empty:
        return _empty(POOL_KEY, "pool_median_amount_eur")
    pooled = pd.DataFrame(
        {
            POOL_KEY: pool_keys(known["round_type"], known[DAY]),
            DAY: known[DAY],
            "amount": known["amount"],
        }
    )
    with duckdb.connect() as con:
        con.register("pooled", pooled)
        # RANGE over the day takes in every round of the same day (its peers) at once.
        out = con.execute(
            f"""
            SELECT DISTINCT {POOL_KEY}, {DAY},
                median(amount) OVER (
                    PARTITION BY {POOL_KEY} ORDER BY {DAY}
                    RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
                ) AS pool_median_amount_eur
            FROM pooled
            ORDER BY {POOL_KEY}, {DAY}
            """
        ).df()
    out[DAY] = out[DAY].astype("datetime64[ns]")
    out["pool_median_amount_eur"] = out["pool_median_amount_eur"].astype("float64")
    refresh = _refresh_rows(out.groupby(POOL_KEY)[DAY].min(), p.snapshot, POOL_KEY)
    keys = pd.concat([out[[POOL_KEY, DAY]], refresh], ignore_index=True)
    return align(keys, POOL_KEY, [(out, {})])
