"""Network families: co-investors, founders' networks and programme cohorts (issue 9).

Three families, one module; each looks at *other* companies' outcomes, always through the
milestone of the training rules (``PromiseRules``, as in the investors family): a
company's first milestone is its first round of a milestone type or of at least the
large-round amount, or its first exit of a labelled kind, dated by when the source listed
it (``Prepared.listed_day``: never before the company's ``first_seen_on``). A milestone
dated after d never counts at d, nor does a company, role or membership listed after d.

``coinvestors`` (needs ``investments``; NaN without it). An investor's record at d is the
share of its portfolio companies (rounds listed on or before d) whose first milestone is
on or before d, over all of them (n) and reached (m). It is *successful* at d when it
has at least ``SUCCESS_MIN_COMPANIES`` portfolio companies and a record of at least
``SUCCESS_RECORD``. Two investors are co-investors from the first round, listed on or
before d, that both invested in. For the company's investors at d (rounds listed on or
before d):

- ``n_investors_coinvested_successful``: how many co-invested with a successful investor
  (another investor, successful at d);
- ``coinvestors_track_record_max``: the best record at d among the co-investors of its
  investors that have at least ``SUCCESS_MIN_COMPANIES`` portfolio companies (NaN when
  none does).

Records include every portfolio company, the company itself too (it only lowers them
while it has no milestone; the candidates of the label have none). As in the investors
family, recomputing every company whenever any co-investor's company moves grows with
the square of the data, so the values are refreshed on the company's investment days
and at each month end, a row written only when they changed: the investors' sets are
exact at each refresh, the co-investment network and the records are those of the last
month end on or before it (exact at month ends, at most a month old in between, never
ahead). The joins run in DuckDB.

``founder_network`` (needs ``roles``; NaN without it; without ``exits`` only rounds are
milestones). For a founder f of the company (a founder role started on or before d), f's
*earlier companies* are the other companies f founded with a start before f's start at
this company (the founders family's prior ventures), known from the later of the two
starts and the earlier company's listing. f's *co-founders* are the other founders of an
earlier company (known once both roles started and it is listed); their *other
companies* are the companies they founded, this one excepted, known once that role
started and that company is listed. The company's founders' network is the union of its
founders' earlier companies and their co-founders' other companies, each known from the
earliest day one path to it is known:

- ``n_founders_prior_milestone``: founders with an earlier company whose first milestone
  is on or before d (and on or after the day that company is known);
- ``founders_network_size``: companies in the network at d;
- ``founders_network_milestone_rate``: the share of them with a first milestone on or
  before d (NaN for an empty network).

Every change is an event of the company's own network, so this family is exact every day.

``program_cohort`` (needs ``programs``; NaN without it). A cohort is a programme and the
calendar year a membership started (``program_id`` and the year of ``started_on``). The
company's cohorts at d are those of its memberships started on or before d; their other
members are the other companies with a membership of that cohort started, and listed, on
or before d. Summed over the company's cohorts (a company sharing two cohorts with it
counts twice):

- ``cohort_alumni_n_milestone``: other members whose first milestone is on or before d;
- ``cohort_alumni_milestone_rate``: that count over the number of other members (NaN with
  none).

Cohort counts move whenever any member joins or reaches a milestone, so, as for the
investors, the company's values are refreshed on its own membership start days and at
each month end from its first membership (exact on those days), a row written when they
changed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import duckdb
import numpy as np
import pandas as pd

from talentmap.features.catalog import FAMILIES
from talentmap.features.events import DAY, align, to_day
from talentmap.features.family_investors import (
    CHUNK_INVESTMENTS,
    IN_CHUNK,
    INVESTOR_RECORD_TABLES,
    REFRESH,
    listed_investments,
    milestone_days,
    run_by_orgs,
)
from talentmap.features.prepare import Prepared, org_start_rows

COINVESTOR_COLUMNS = FAMILIES["coinvestors"].numeric
NETWORK_COLUMNS = FAMILIES["founder_network"].numeric
COHORT_COLUMNS = FAMILIES["program_cohort"].numeric

# A successful investor: enough portfolio companies to judge by, and a good share of them
# with a milestone (about twice the 24-month label's base rate of the generated world).
SUCCESS_MIN_COMPANIES = 3
SUCCESS_RECORD = 0.25
# Chunks of organisation ids (None: every company) for the chunked build.
Chunks = Sequence[Sequence[str] | None]


def _run(query: str, frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    with duckdb.connect() as con:
        for name, frame in frames.items():
            con.register(name, frame)
        out = con.execute(query).df()
    out[DAY] = out[DAY].astype("datetime64[ns]")
    out["org_id"] = out["org_id"].astype(object)
    return out.reset_index(drop=True)


def _changes(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Rows whose values differ from the company's previous row (NaN equal to NaN).

    ``frame`` is sorted by org_id then day.
    """
    values = frame[list(columns)].to_numpy(dtype="float64")
    previous = np.roll(values, 1, axis=0)
    same = (values == previous) | (np.isnan(values) & np.isnan(previous))
    first = frame["org_id"].ne(frame["org_id"].shift()).to_numpy()
    return frame[first | ~same.all(axis=1)]


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    empty = {"org_id": pd.Series(dtype=object), DAY: pd.Series(dtype="M8[ns]")}
    return pd.DataFrame(empty | {c: pd.Series(dtype="float64") for c in columns})


def _missing(
    p: Prepared, columns: tuple[str, ...], orgs: Sequence[str] | None = None
) -> pd.DataFrame:
    out = org_start_rows(p, orgs)
    for column in columns:
        out[column] = np.nan
    return out


def _milestones(p: Prepared) -> pd.DataFrame:
    return milestone_days(p).astype({"org_id": str})


def _grid(first: pd.Timestamp, p: Prepared) -> pd.DataFrame:
    return pd.DataFrame({DAY: pd.date_range(first, p.snapshot, freq=REFRESH)})


def _finish(
    p: Prepared, rows: pd.DataFrame, zeros: dict[str, float], orgs: Sequence[str] | None = None
) -> pd.DataFrame:
    base = org_start_rows(p, orgs)
    keys = pd.concat([base, rows[["org_id", DAY]]], ignore_index=True)
    return align(keys, "org_id", [(rows, zeros)])


# ------------------------------------------------------------------------ coinvestors

# Each investor's co-investment network at every month end: computed once per build.
COINVESTORS_SETUP = (
    *INVESTOR_RECORD_TABLES,
    f"""
CREATE TEMP TABLE network AS
-- Each investor's record at every month end once it has enough companies to judge by
-- (the portfolio only grows; smaller ones take part in neither feature).
WITH investor_grid AS (
    SELECT i.investor_id, g.{DAY}
    FROM (
        SELECT investor_id, min({DAY}) AS first FROM record
        WHERE n >= {SUCCESS_MIN_COMPANIES} GROUP BY investor_id
    ) i
    JOIN grid g ON g.{DAY} >= i.first
),
record_grid AS (
    SELECT ig.investor_id, ig.{DAY}, r.m / r.n AS rate, r.m / r.n >= {SUCCESS_RECORD} AS good
    FROM investor_grid ig ASOF JOIN record r
        ON ig.investor_id = r.investor_id AND ig.{DAY} >= r.{DAY}
),
edges AS (
    SELECT a.investor_id AS i, b.investor_id AS j, min(a.{DAY}) AS since
    FROM inv a JOIN inv b ON a.round_id = b.round_id AND a.investor_id <> b.investor_id
    GROUP BY a.investor_id, b.investor_id
)
-- Per investor and month end: did it co-invest with a successful investor, and the best
-- record among its co-investors with enough companies.
SELECT e.i AS investor_id, rg.{DAY},
    bool_or(rg.good) AS linked,
    max(rg.rate) AS best
FROM edges e JOIN record_grid rg ON rg.investor_id = e.j AND rg.{DAY} >= e.since
GROUP BY e.i, rg.{DAY}
""",
)

COINVESTORS_QUERY = (
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
    -- The network of the last month end on or before the day. It only grows (co-investors
    -- are added, portfolios grow), so an investor without a row then had none before.
    SELECT r.org_id, r.{DAY}, f.investor_id,
        CASE WHEN r.{DAY}::DATE = last_day(r.{DAY}) THEN r.{DAY}::DATE
            ELSE last_day(r.{DAY} - INTERVAL 1 MONTH) END AS month_end
    FROM refresh r JOIN chunk_inv f ON f.org_id = r.org_id AND f.joined <= r.{DAY}
),
scored AS (
    SELECT p.org_id, p.{DAY}, n.linked, n.best
    FROM pairs p LEFT JOIN network n
        ON p.investor_id = n.investor_id AND p.month_end = n.{DAY}::DATE
)
SELECT org_id, {DAY},
    count(*) FILTER (WHERE linked)::DOUBLE AS {COINVESTOR_COLUMNS[0]},
    max(best) AS {COINVESTOR_COLUMNS[1]}
FROM scored
GROUP BY org_id, {DAY}
ORDER BY org_id, {DAY}
"""
)


def _coinvestor_rows(p: Prepared, chunks: Chunks) -> Iterator[pd.DataFrame]:
    inv = listed_investments(p)
    if inv.empty:
        for _ in chunks:
            yield _empty(COINVESTOR_COLUMNS)
        return
    inv = inv[["round_id", "investor_id", "org_id", DAY]].astype(
        {"round_id": str, "investor_id": str, "org_id": str}
    )
    frames = {"inv": inv, "ms": _milestones(p), "grid": _grid(inv[DAY].min(), p)}
    for out in run_by_orgs(COINVESTORS_SETUP, COINVESTORS_QUERY, frames, chunks):
        yield _changes(out, COINVESTOR_COLUMNS)


def iter_coinvestors(p: Prepared, chunks: Chunks) -> Iterator[pd.DataFrame]:
    """``build_coinvestors`` restricted to each chunk of organisation ids, in turn (the
    co-investment network computed once)."""
    if not p.has("investments"):
        for orgs in chunks:
            yield _missing(p, COINVESTOR_COLUMNS, orgs)
        return
    zeros = {COINVESTOR_COLUMNS[0]: 0.0}
    for orgs, rows in zip(chunks, _coinvestor_rows(p, chunks), strict=True):
        yield _finish(p, rows, zeros, orgs)


def build_coinvestors(p: Prepared) -> pd.DataFrame:
    return next(iter_coinvestors(p, [None]))


# -------------------------------------------------------------------- founder_network

NETWORK_QUERY = f"""
WITH f AS (
    -- Founder roles, each known from its start, and from the company's listing.
    SELECT org_id, person_id, start, greatest(start, listed) AS known FROM founders
),
earlier AS (
    -- f's earlier companies o, for the company c.
    SELECT c.org_id, c.person_id, o.org_id AS via, o.start AS via_start,
        greatest(c.start, o.known) AS known
    FROM f c JOIN f o ON o.person_id = c.person_id
        AND o.org_id <> c.org_id AND o.start < c.start
),
reach AS (
    SELECT org_id, via AS other, known FROM earlier
    UNION ALL
    -- Co-founders q of an earlier company, and the other companies q founded.
    SELECT e.org_id, x.org_id, greatest(e.known, q.known, x.known)
    FROM earlier e
    JOIN f q ON q.org_id = e.via AND q.person_id <> e.person_id
    JOIN f x ON x.person_id = q.person_id AND x.org_id <> e.via AND x.org_id <> e.org_id
),
network AS (
    SELECT r.org_id, r.other, min(r.known) AS known FROM reach r GROUP BY r.org_id, r.other
),
prior AS (
    -- The day each founder first has an earlier company with a milestone.
    SELECT e.org_id, e.person_id, min(greatest(e.known, m.ms_day)) AS {DAY}
    FROM earlier e JOIN ms m ON m.org_id = e.via
    GROUP BY e.org_id, e.person_id
),
steps AS (
    SELECT org_id, known AS {DAY}, 0.0 AS dp, 1.0 AS dn, 0.0 AS dm FROM network
    UNION ALL
    SELECT n.org_id, greatest(n.known, m.ms_day), 0.0, 0.0, 1.0
    FROM network n JOIN ms m ON m.org_id = n.other
    UNION ALL
    SELECT org_id, {DAY}, 1.0, 0.0, 0.0 FROM prior
),
totals AS (
    SELECT org_id, {DAY},
        sum(sum(dp)) OVER w AS p, sum(sum(dn)) OVER w AS n, sum(sum(dm)) OVER w AS m
    FROM steps GROUP BY org_id, {DAY}
    WINDOW w AS (PARTITION BY org_id ORDER BY {DAY} ROWS UNBOUNDED PRECEDING)
)
SELECT org_id, {DAY}, p AS {NETWORK_COLUMNS[0]}, n AS {NETWORK_COLUMNS[1]},
    CASE WHEN n > 0 THEN m / n END AS {NETWORK_COLUMNS[2]}
FROM totals
ORDER BY org_id, {DAY}
"""


def _network_rows(p: Prepared) -> pd.DataFrame:
    assert p.roles is not None
    roles = p.roles[p.roles["role"] == "founder"]
    founders = roles.groupby(["org_id", "person_id"], sort=False)["start"].min().reset_index()
    if founders.empty:
        return _empty(NETWORK_COLUMNS)
    first_seen = p.orgs.drop_duplicates("org_id").set_index("org_id")["first_seen"]
    listed = founders["org_id"].map(first_seen).astype("datetime64[ns]")
    founders = pd.DataFrame(
        {
            "org_id": founders["org_id"].astype(str),
            "person_id": founders["person_id"].astype(str),
            "start": founders["start"].astype("datetime64[ns]"),
            # No listing date: the role's own start.
            "listed": listed.fillna(founders["start"]),
        }
    )
    return _run(NETWORK_QUERY, {"founders": founders, "ms": _milestones(p)})


def build_founder_network(p: Prepared) -> pd.DataFrame:
    if p.roles is None:
        return _missing(p, NETWORK_COLUMNS)
    zeros = {NETWORK_COLUMNS[0]: 0.0, NETWORK_COLUMNS[1]: 0.0}
    return _finish(p, _network_rows(p), zeros)


# --------------------------------------------------------------------- program_cohort

COHORT_SETUP = (
    f"""
CREATE TEMP TABLE stats AS
-- Per cohort: members and members with a milestone, as known (listed) day by day.
SELECT cohort, {DAY},
    sum(sum(dn)) OVER w AS n, sum(sum(dm)) OVER w AS m
FROM (
    SELECT cohort, listed AS {DAY}, 1.0 AS dn, 0.0 AS dm FROM mem
    UNION ALL
    SELECT x.cohort, greatest(x.listed, ms.ms_day), 0.0, 1.0
    FROM mem x JOIN ms USING (org_id)
)
GROUP BY cohort, {DAY}
WINDOW w AS (PARTITION BY cohort ORDER BY {DAY} ROWS UNBOUNDED PRECEDING)
""",
)

COHORT_QUERY = f"""
WITH chunk_mem AS (
    SELECT * FROM mem WHERE {IN_CHUNK}
),
refresh AS (
    SELECT org_id, start AS {DAY} FROM chunk_mem
    UNION
    SELECT c.org_id, g.{DAY}
    FROM (SELECT org_id, min(start) AS first FROM chunk_mem GROUP BY org_id) c
    JOIN grid g ON g.{DAY} >= c.first
),
pairs AS (
    SELECT r.org_id, r.{DAY}, x.cohort,
        -- The company itself is in its cohorts' counts once listed: take it out.
        CASE WHEN x.listed <= r.{DAY} THEN 1.0 ELSE 0.0 END AS own_n,
        CASE WHEN ms.ms_day IS NOT NULL AND greatest(x.listed, ms.ms_day) <= r.{DAY}
            THEN 1.0 ELSE 0.0 END AS own_m
    FROM refresh r
    JOIN chunk_mem x ON x.org_id = r.org_id AND x.start <= r.{DAY}
    LEFT JOIN ms ON ms.org_id = r.org_id
),
-- Each (cohort, day) looked up once, then joined by equality (as the investors family).
asked AS (
    SELECT nd.cohort, nd.{DAY}, s.n, s.m
    FROM (SELECT DISTINCT cohort, {DAY} FROM pairs) nd ASOF LEFT JOIN stats s
        ON nd.cohort = s.cohort AND nd.{DAY} >= s.{DAY}
),
scored AS (
    SELECT p.org_id, p.{DAY},
        coalesce(a.n, 0.0) - p.own_n AS others, coalesce(a.m, 0.0) - p.own_m AS reached
    FROM pairs p LEFT JOIN asked a ON p.cohort = a.cohort AND p.{DAY} = a.{DAY}
)
SELECT org_id, {DAY},
    sum(reached) AS {COHORT_COLUMNS[0]},
    CASE WHEN sum(others) > 0 THEN sum(reached) / sum(others) END AS {COHORT_COLUMNS[1]}
FROM scored
GROUP BY org_id, {DAY}
ORDER BY org_id, {DAY}
"""


def _cohort_rows(p: Prepared, chunks: Chunks) -> Iterator[pd.DataFrame]:
    raw = p.table("programs")
    mem = pd.DataFrame(
        {
            "org_id": raw["org_id"].astype(object),
            "program_id": raw["program_id"].astype(object),
            DAY: to_day(raw["started_on"]),
        }
    ).dropna()
    if mem.empty:
        for _ in chunks:
            yield _empty(COHORT_COLUMNS)
        return
    # One membership per company and cohort: the earliest.
    mem["cohort"] = mem["program_id"].astype(str) + "|" + mem[DAY].dt.year.astype(str)
    mem = mem.groupby(["org_id", "cohort"], sort=False)[DAY].min().reset_index()
    mem = pd.DataFrame(
        {
            "org_id": mem["org_id"].astype(str),
            "cohort": mem["cohort"],
            "start": mem[DAY],
            "listed": p.listed_day(mem),
        }
    )
    frames = {"mem": mem, "ms": _milestones(p), "grid": _grid(mem["start"].min(), p)}
    for out in run_by_orgs(COHORT_SETUP, COHORT_QUERY, frames, chunks):
        yield _changes(out, COHORT_COLUMNS)


def iter_program_cohort(p: Prepared, chunks: Chunks) -> Iterator[pd.DataFrame]:
    """``build_program_cohort`` restricted to each chunk of organisation ids, in turn (the
    cohorts' counts computed once)."""
    if not p.has("programs"):
        for orgs in chunks:
            yield _missing(p, COHORT_COLUMNS, orgs)
        return
    zeros = {COHORT_COLUMNS[0]: 0.0}
    for orgs, rows in zip(chunks, _cohort_rows(p, chunks), strict=True):
        yield _finish(p, rows, zeros, orgs)


def build_program_cohort(p: Prepared) -> pd.DataFrame:
    return next(iter_program_cohort(p, [None]))
