"""Shared, cleaned inputs of the family builders: organisations' start days, dated roles,
dated rounds, and the milestone rules.

Dates are normalised once here. Gender is never read: the ``people`` table is not used by
any family (education, roles and exits carry everything the founders family needs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np
import pandas as pd

from talentmap.features.age import first_event_on
from talentmap.features.events import DAY, to_day
from talentmap.settings.training import PromiseRules

# Date columns read per table; the first one is the table's own event date.
DATED_TABLES: dict[str, str] = {
    "funding_rounds": "announced_on",
    "programs": "started_on",
    "headcount": "observed_on",
    "job_postings": "posted_on",
    "publications": "published_on",
    "exits": "exited_on",
}


@dataclass(frozen=True)
class Prepared:
    """Inputs for all families, with dates normalised and the snapshot day known."""

    tables: dict[str, pd.DataFrame]
    snapshot: pd.Timestamp
    orgs: pd.DataFrame  # org_id, founded, first_seen, closed, first_round, first_event, start
    roles: pd.DataFrame | None  # person_id, org_id, role, start, end (effective dates)
    # What a milestone is, for features that look at other companies' outcomes: the same
    # rules as the training label, so "reached a milestone" means one thing everywhere.
    rules: PromiseRules = field(default_factory=PromiseRules)

    @property
    def age_fallback(self) -> bool:
        # Company age falls back on the first dated event (``talentmap.features.age``).
        return self.rules.age_fallback

    def has(self, *names: str) -> bool:
        return all(n in self.tables for n in names)

    def table(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def listed_day(self, frame: pd.DataFrame) -> pd.Series:
        """``frame[DAY]``, but never before the source first listed the row's company.

        For features of *other* companies' events (market heat, the year's median, an
        investor's record): a source that lists a company late, its history back-filled,
        held none of those events before the listing, so an export taken then could not
        count them (``first_seen_on``; without one, the event's own date).
        """
        listed = frame["org_id"].map(
            self.orgs.drop_duplicates("org_id").set_index("org_id")["first_seen"]
        )
        listed = pd.to_datetime(listed).astype("datetime64[ns]")
        late = listed.notna() & (listed > frame[DAY])
        return frame[DAY].where(~late, listed)

    @cached_property
    def listed_rounds(self) -> pd.DataFrame:
        """``rounds`` dated as other companies' features may know them (``listed_day``)."""
        rounds = self.rounds
        return rounds.assign(**{DAY: self.listed_day(rounds)})

    @cached_property
    def rounds(self) -> pd.DataFrame:
        """Dated rounds: round_id, org_id, day, round_type, amount (NaN when unknown).

        Several families read them; normalised once (the frame is shared: do not mutate).
        """
        raw = self.table("funding_rounds")
        amount = (
            pd.to_numeric(raw["amount_eur"], errors="coerce").astype("float64")
            if "amount_eur" in raw.columns
            else pd.Series(np.nan, index=raw.index, dtype="float64")
        )
        return pd.DataFrame(
            {
                "round_id": raw["round_id"].astype(object),
                "org_id": raw["org_id"].astype(object),
                DAY: to_day(raw["announced_on"]),
                "round_type": raw["round_type"].astype(object),
                "amount": amount,
            }
        ).dropna(subset=[DAY])


def _col(frame: pd.DataFrame, column: str) -> pd.Series:
    if column in frame.columns:
        return to_day(frame[column])
    return pd.Series(pd.NaT, index=frame.index, dtype="M8[ns]")


def prepare(
    tables: dict[str, pd.DataFrame], snapshot_date: date, rules: PromiseRules | None = None
) -> Prepared:
    """Normalise dates and derive each organisation's first known day and first event.

    ``rules`` defines milestones (default: ``PromiseRules()``); pass the run's rules so
    that features and labels agree when they are configured.
    """
    organizations = tables["organizations"]
    orgs = pd.DataFrame(
        {
            "org_id": organizations["org_id"].astype(object),
            "founded": _col(organizations, "founded_on"),
            "first_seen": _col(organizations, "first_seen_on"),
            "closed": _col(organizations, "closed_on"),
        }
    )
    first_round = (
        tables["funding_rounds"]
        .assign(_d=lambda f: to_day(f["announced_on"]))
        .groupby("org_id")["_d"]
        .min()
    )
    orgs["first_round"] = orgs["org_id"].map(first_round)
    orgs["first_event"] = first_event_on(tables).to_numpy(dtype="datetime64[ns]")

    roles = None
    if "roles" in tables:
        raw = tables["roles"]
        roles = pd.DataFrame(
            {
                "person_id": raw["person_id"].astype(object),
                "org_id": raw["org_id"].astype(object),
                "role": raw["role"].astype(object),
                "start": _col(raw, "started_on"),
                "end": _col(raw, "ended_on"),
            }
        )
        # An undated role is taken to have started when the company first appears
        # (earliest of founding, first sighting, first round: a min, so that a date after
        # t can never stand in for one before t).
        fallback = roles["org_id"].map(
            orgs.set_index("org_id")[["founded", "first_seen", "first_round"]].min(axis=1)
        )
        roles["start"] = roles["start"].fillna(fallback)
        roles = roles.dropna(subset=["start"]).reset_index(drop=True)

    # The first day the organisation exists in any record: its families start there.
    candidates = [orgs.set_index("org_id")[["founded", "first_seen"]].min(axis=1)]
    for name, column in DATED_TABLES.items():
        if name in tables and "org_id" in tables[name].columns:
            frame = tables[name]
            candidates.append(
                pd.Series(_col(frame, column).to_numpy(), index=frame["org_id"].to_numpy())
                .dropna()
                .groupby(level=0)
                .min()
            )
    if roles is not None:
        candidates.append(roles.groupby("org_id")["start"].min())
    earliest = pd.concat(candidates).groupby(level=0).min()
    snapshot = pd.Timestamp(snapshot_date).normalize()
    orgs["start"] = orgs["org_id"].map(earliest).fillna(snapshot).astype("M8[ns]")
    return Prepared(
        tables=tables, snapshot=snapshot, orgs=orgs, roles=roles, rules=rules or PromiseRules()
    )


def org_start_rows(p: Prepared, orgs: Sequence[str] | None = None) -> pd.DataFrame:
    """One (org_id, day) row per organisation at its first known day (of ``orgs`` only,
    when given: a chunked build's companies)."""
    rows = pd.DataFrame({"org_id": p.orgs["org_id"], DAY: p.orgs["start"]})
    return rows if orgs is None else rows[rows["org_id"].isin(list(orgs))]
