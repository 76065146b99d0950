"""Shared helpers for the generator tests: load a generated world and compute the
contract's candidates and label from its tables (independently of the generator)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from talentmap import contract

SERIES = ("series_a", "series_b", "series_c_plus")
MILESTONE_EUR = 5_000_000


def load_world(path: Path) -> dict[str, pd.DataFrame]:
    """Every table of a CSV world, dates parsed."""
    tables = {}
    for table in contract.TABLES:
        dates = list(contract.DATE_COLUMNS[table])
        tables[table] = pd.read_csv(path / f"{table}.csv", parse_dates=dates, keep_default_na=True)
    return tables


def first_milestone(tables: dict[str, pd.DataFrame]) -> pd.Series:
    """org_id -> date of its first series A+ round, round of >= €5M, or exit."""
    fr, ex = tables["funding_rounds"], tables["exits"]
    big = fr[fr.round_type.isin(SERIES) | (fr.amount_eur >= MILESTONE_EUR)]
    events = pd.concat(
        [
            big[["org_id", "announced_on"]].set_axis(["org_id", "day"], axis=1),
            ex[["org_id", "exited_on"]].set_axis(["org_id", "day"], axis=1),
        ]
    )
    return events.groupby("org_id").day.min()


def candidates(
    tables: dict[str, pd.DataFrame], as_of: pd.Timestamp, *, require_visible: bool = True
) -> pd.DataFrame:
    """The training issue's default candidates at ``as_of`` (with issue 6's visibility)."""
    orgs = tables["organizations"]
    ms = orgs.org_id.map(first_milestone(tables))
    ok = (
        (orgs.founded_on <= as_of)
        & (orgs.founded_on > as_of - pd.DateOffset(years=5))
        & ~(orgs.closed_on <= as_of)
        & ~(ms <= as_of)
    )
    if require_visible:
        ok &= orgs.first_seen_on <= as_of
    out = orgs.loc[ok, ["org_id"]].copy()
    out["milestone_on"] = ms[ok]
    return out


def labelled(
    tables: dict[str, pd.DataFrame], as_of: pd.Timestamp, horizon_months: int = 24
) -> pd.DataFrame:
    out = candidates(tables, as_of)
    end = as_of + pd.DateOffset(months=horizon_months)
    out["label"] = ((out.milestone_on > as_of) & (out.milestone_on <= end)).astype(int)
    return out
