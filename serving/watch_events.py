"""Watchlist events: what changed for one watchlist between two served rankings.

Pure functions over plain data, so they are tested without a server or a database. A
watchlist remembers (as JSON, in the store) what it saw in the last ranking it was
evaluated against: its shortlist (org id -> rank), the rank of each followed company, the
rounds of followed companies it already reported, and the name, region and sector of each
of them (what the shortlist shows, so that an exit can still be named). Against the
current ranking it yields:

- ``entry`` / ``exit``: a company entered or left the watchlist's shortlist (its filters'
  top k);
- ``move``: a company of the shortlist, or a followed company, moved by at least the
  threshold (ranks, ``serving.watchlists.move_threshold``);
- ``round``: a followed company has a funding round, dated on or before the ranking's
  date, that the watchlist did not know yet (the rounds it had when it was followed are
  known; a round that arrives late, dated before, is news when it is first seen).

Opted-out and forgotten companies produce no event and leave the state at once: they are
not "leavers", they are gone. Events carry only what a shortlist row shows (name, region,
sector, rank) and, for rounds, the round's kind, date and amount: never a founder.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

# Event ids are deterministic (uuid5 in this namespace): deriving the same change twice,
# in two workers, gives the same ids, and the store keeps one.
EVENT_NAMESPACE = uuid.UUID("6f1c7e0a-7a53-4f0e-9a41-3b1d2c5e8f10")
KINDS = ("entry", "exit", "move", "round")


def diff_ranks(before: Any, after: Any) -> Any:
    """``changes.diff_ranks``, imported on first use (it brings pandas, which the
    service's start does not need)."""
    from talentmap.serving.changes import diff_ranks as diff

    return diff(before, after)


@dataclass(frozen=True)
class Filters:
    """A watchlist's saved shortlist: ``k`` None means it follows companies only."""

    region: str | None = None
    sector: str | None = None
    max_age_years: int | None = None
    k: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "sector": self.sector,
            "max_age_years": self.max_age_years,
            "k": self.k,
        }


@dataclass(frozen=True)
class Row:
    """One ranked company, as a shortlist row shows it (no founder)."""

    org_id: str
    rank: int
    name: str
    region: str | None
    sector: str | None


@dataclass(frozen=True)
class Round:
    round_id: str
    org_id: str
    announced_on: date
    round_type: str | None
    amount_eur: float | None


@dataclass(frozen=True)
class RankingView:
    """What derivation reads from the served ranking (``watch_ranking.view`` builds it)."""

    ranking_id: str
    as_of: date
    shortlist: Callable[[Filters], list[Row]]
    lookup: Callable[[str], Row | None]
    opted_out: frozenset[str]
    rounds: Callable[[list[str]], list[Round]]  # rounds of these orgs dated <= as_of


@dataclass(frozen=True)
class Event:
    id: str
    kind: str
    org_id: str
    details: dict[str, Any]


@dataclass
class WatchState:
    """What a watchlist saw in the ranking it was last evaluated against."""

    ranking_id: str | None = None
    as_of: str | None = None
    shortlist: dict[str, int] = field(default_factory=dict)
    followed: dict[str, int | None] = field(default_factory=dict)
    rounds: dict[str, list[str]] = field(default_factory=dict)
    shown: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "ranking_id": self.ranking_id,
            "as_of": self.as_of,
            "shortlist": self.shortlist,
            "followed": self.followed,
            "rounds": self.rounds,
            "shown": self.shown,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> WatchState | None:
        if not data:
            return None
        return cls(
            ranking_id=data.get("ranking_id"),
            as_of=data.get("as_of"),
            shortlist={str(k): int(v) for k, v in (data.get("shortlist") or {}).items()},
            followed={
                str(k): (None if v is None else int(v))
                for k, v in (data.get("followed") or {}).items()
            },
            rounds={str(k): list(v) for k, v in (data.get("rounds") or {}).items()},
            shown={str(k): dict(v) for k, v in (data.get("shown") or {}).items()},
        )

    def without(self, org_ids: Iterable[str]) -> WatchState:
        gone = set(org_ids)
        return WatchState(
            ranking_id=self.ranking_id,
            as_of=self.as_of,
            shortlist={o: r for o, r in self.shortlist.items() if o not in gone},
            followed={o: r for o, r in self.followed.items() if o not in gone},
            rounds={o: r for o, r in self.rounds.items() if o not in gone},
            shown={o: r for o, r in self.shown.items() if o not in gone},
        )


def shown(row: Row) -> dict[str, Any]:
    return {"name": row.name, "region": row.region, "sector": row.sector}


def event_id(watchlist_id: str, ranking_id: str, kind: str, org_id: str, extra: str = "") -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{watchlist_id}/{ranking_id}/{kind}/{org_id}/{extra}"))


def derive(
    watchlist_id: str,
    filters: Filters,
    followed: Iterable[str],
    previous: WatchState | None,
    view: RankingView,
    threshold: int,
) -> tuple[list[Event], WatchState]:
    """(events, the new state) of one watchlist against ``view``.

    ``followed``: the followed org ids. ``previous`` None (a new watchlist) records the
    state and reports nothing. A round is news when its id is not among the rounds the
    state already holds for that company, whatever its date: data arrives late, and a
    round dated last month but first seen today is today's news.
    """
    gone = view.opted_out
    followed = list(dict.fromkeys(followed))
    listed = [r for r in view.shortlist(filters) if r.org_id not in gone] if filters.k else []
    current_list = {r.org_id: r.rank for r in listed}
    rows = {r.org_id: r for r in listed}
    followed_ids = [o for o in followed if o not in gone]
    for org in followed_ids:
        if org not in rows:
            found = view.lookup(org)
            if found is not None:
                rows[org] = found
    state = WatchState(
        ranking_id=view.ranking_id,
        as_of=view.as_of.isoformat(),
        shortlist=current_list,
        followed={o: (rows[o].rank if o in rows else None) for o in followed_ids},
    )
    before = previous.without(gone) if previous is not None else None
    state.shown = {o: shown(r) for o, r in rows.items() if o in current_list or o in followed}
    if before is not None:  # keep how a company that left was shown, to name it later
        for org in followed_ids:
            if org not in state.shown and org in before.shown:
                state.shown[org] = before.shown[org]

    events: list[Event] = []

    def add(kind: str, org: str, scope: str, extra: str = "", **details: Any) -> None:
        facts = state.shown.get(org) or (before.shown.get(org) if before else None) or {}
        events.append(
            Event(
                id=event_id(watchlist_id, view.ranking_id, kind, org, extra),
                kind=kind,
                org_id=org,
                details={"scope": scope, **facts, **details},
            )
        )

    seen_rounds = dict(before.rounds) if before is not None else {}
    rounds = view.rounds(followed_ids) if followed_ids else []
    by_org: dict[str, list[Round]] = {}
    for found in rounds:
        by_org.setdefault(found.org_id, []).append(found)
    for org in followed_ids:
        known = set(seen_rounds.get(org, ()))
        # First look at this company's rounds (a new watchlist, or followed before any
        # ranking was evaluated): they are what is known, not news.
        baseline = before is None or org not in before.rounds
        for found in sorted(by_org.get(org, ()), key=lambda x: (x.announced_on, x.round_id)):
            if found.round_id in known:
                continue
            known.add(found.round_id)
            if not baseline:
                add(
                    "round",
                    org,
                    "followed",
                    found.round_id,
                    round_type=found.round_type,
                    announced_on=found.announced_on.isoformat(),
                    amount_eur=found.amount_eur,
                    rank=state.followed.get(org),
                )
        state.rounds[org] = sorted(known)

    if before is None:
        return events, state

    if filters.k:
        change = diff_ranks(before.shortlist, current_list)
        for org in change.entrants:
            add("entry", org, "shortlist", rank=current_list[org], previous_rank=None)
        for org in change.leavers:
            now = rows.get(org) or view.lookup(org)
            add(
                "exit",
                org,
                "shortlist",
                rank=now.rank if now else None,
                previous_rank=before.shortlist[org],
            )
        for org, was, now_rank in change.moves:
            if abs(now_rank - was) >= threshold:
                add("move", org, "shortlist", rank=now_rank, previous_rank=was)
    # A followed company that entered, left or moved in the shortlist is reported once.
    reported = {e.org_id for e in events if e.details["scope"] == "shortlist"}
    for org in followed_ids:
        was = before.followed.get(org)
        now_rank = state.followed.get(org)
        if org in reported or org not in before.followed:
            continue
        if was is not None and now_rank is not None and abs(now_rank - was) >= threshold:
            add("move", org, "followed", rank=now_rank, previous_rank=was)
        elif was is not None and now_rank is None:
            add("exit", org, "followed", rank=None, previous_rank=was)
        elif was is None and now_rank is not None:
            add("entry", org, "followed", rank=now_rank, previous_rank=None)
    return events, state
