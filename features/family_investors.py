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

from collections.abc import Iterable, Iterator, Mapping, Sequence

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
# Statements run once per build (``run_by_orgs``): they read every company.
INVESTOR_RECORD_TABLES = (
    f"""
CREATE TEMP TABLE first_inv AS
SELECT investor_id, org_id, min({DAY}) AS joined FROM inv GROUP BY investor_id, org_id
""",
    f"""
CREATE TEMP TABLE record AS
WITH steps AS (
    SELECT investor_id, joined AS {DAY}, 1.0 AS dn, 0.0 AS dm FROM first_inv
    UNION ALL
    SELECT f.investor_id, greatest(f.joined, m.ms_day), 0.0, 1.0
    FROM first_inv f JOIN ms m USING (org_id)
)
SELECT investor_id, {DAY},
    sum(sum(dn)) OVER w AS n, sum(sum(dm)) OVER w AS m
FROM steps GROUP BY investor_id, {DAY}
WINDOW w AS (PARTITION BY investor_id ORDER BY {DAY} ROWS UNBOUNDED PRECEDING)
""",
)

# The companies of one chunk (table ``chunk``: org_id) and their investors: the values of
# a company read its own investments and the investors' records, so a build can run the
# companies chunk by chunk, the records computed once.
IN_CHUNK = "__IN_CHUNK__"
CHUNK_FILTER = "org_id IN (SELECT org_id FROM chunk)"
CHUNK_INVESTMENTS = """
chunk_inv AS (
    SELECT * FROM first_inv WHERE __IN_CHUNK__
),
"""

QUERY = (
    "WITH "
    + CHUNK_INVESTMENTS
    + f"""
refresh AS (
    SELECT org_id, joined AS {DAY} FROM chunk_inv
    UNION
    SELECT c.org_id, g.{DAY}
    FROM (SELECT org_id, min(joined) AS first FROM chunk_inv GROUP BY org_id) c
    JOIN grid g ON g.{DAY} >= c.first
),
pairs AS (
    SELECT r.org_id, r.{DAY}, f.investor_id,
        -- The company's own milestone is in its investor's count: take it out.
        -- (greatest() skips NULLs in DuckDB: a company without a milestone must say so.)
        CASE WHEN m.ms_day IS NOT NULL AND greatest(f.joined, m.ms_day) <= r.{DAY}
            THEN 1.0 ELSE 0.0 END AS own
    FROM refresh r
    JOIN chunk_inv f ON f.org_id = r.org_id AND f.joined <= r.{DAY}
    LEFT JOIN ms m ON m.org_id = r.org_id
),
-- Many companies ask for one investor's record on one day (a month end): look each
-- (investor, day) up once, then join by equality (the ASOF join over every pair was most
-- of the family's time). Every pair finds a record: its investor joined on or before.
asked AS (
    SELECT nd.investor_id, nd.{DAY}, rec.n, rec.m
    FROM (SELECT DISTINCT investor_id, {DAY} FROM pairs) nd ASOF JOIN record rec
        ON nd.investor_id = rec.investor_id AND nd.{DAY} >= rec.{DAY}
),
scored AS (
    SELECT p.org_id, p.{DAY}, a.n - 1.0 AS others, a.m - p.own AS reached
    FROM pairs p JOIN asked a ON p.investor_id = a.investor_id AND p.{DAY} = a.{DAY}
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


def run_by_orgs(
    setup: Sequence[str],
    query: str,
    frames: Mapping[str, pd.DataFrame],
    chunks: Iterable[Sequence[str] | None],
) -> Iterator[pd.DataFrame]:
    """``query``'s rows for each chunk of organisations, ``setup`` run once before.

    ``setup`` builds the tables every company reads (investors' records, networks,
    cohorts); ``query`` reads the companies of the table ``chunk`` only. One connection
    holds both, so the shared tables are computed once however many chunks there are.
    """
    with duckdb.connect() as con:
        for name, frame in frames.items():
            con.register(name, frame)
        for statement in setup:
            con.execute(statement)
        for orgs in chunks:
            if orgs is None:  # every company
                out = con.execute(query.replace(IN_CHUNK, "TRUE")).df()
            else:
                con.register("chunk", pd.DataFrame({"org_id": pd.Series(orgs, dtype=object)}))
                out = con.execute(query.replace(IN_CHUNK, CHUNK_FILTER)).df()
                con.unregister("chunk")
            out[DAY] = out[DAY].astype("datetime64[ns]")
            out["org_id"] = out["org_id"].astype(object)
            yield out.reset_index(drop=True)


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


def _empty_records() -> pd.DataFrame:
    empty = {"org_id": pd.Series(dtype=object), DAY: pd.Series(dtype="M8[ns]")}
    return pd.DataFrame(empty | {c: pd.Series(dtype="float64") for c in COLUMNS})


def _records(p: Prepared, chunks: Sequence[Sequence[str] | None]) -> Iterator[pd.DataFrame]:
    inv = listed_investments(p)
    if inv.empty:
        for _ in chunks:
            yield _empty_records()
        return
    inv = inv[["investor_id", "org_id", DAY]].astype({"investor_id": str, "org_id": str})
    ms = milestone_days(p).astype({"org_id": str})
    grid = pd.DataFrame({DAY: pd.date_range(inv[DAY].min(), p.snapshot, freq=REFRESH)})
    frames = {"inv": inv, "ms": ms, "grid": grid}
    for out in run_by_orgs(INVESTOR_RECORD_TABLES, QUERY, frames, chunks):
        yield _changes(out)


def iter_investors(p: Prepared, chunks: Sequence[Sequence[str] | None]) -> Iterator[pd.DataFrame]:
    """``build_investors`` restricted to each chunk of organisation ids, in turn.

    The chunks' rows together are ``build_investors``'s; the records every company reads
    are computed once.
    """
    if not p.has("investments"):
        for orgs in chunks:
            yield _missing_for(p, orgs, COLUMNS)
        return
    for orgs, records in zip(chunks, _records(p, chunks), strict=True):
        yield _aligned(org_start_rows(p, orgs), records, {COLUMNS[2]: 0.0})


def _missing_for(p: Prepared, orgs: Sequence[str] | None, columns: Sequence[str]) -> pd.DataFrame:
    out = org_start_rows(p, orgs)
    for column in columns:
        out[column] = np.nan
    return out


def _aligned(base: pd.DataFrame, rows: pd.DataFrame, zeros: dict[str, float]) -> pd.DataFrame:
    keys = pd.concat([base, rows[["org_id", DAY]]], ignore_index=True)
    return align(keys, "org_id", [(rows, zeros)])


def build_investors(p: Prepared) -> pd.DataFrame:
    return next(iter_investors(p, [None]))
