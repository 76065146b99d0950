"""What changed between two rankings: entrants to and leavers of the top k, and the largest
moves, per region. Pure: two frames in, plain data out (no I/O, no server, no MLflow).

A ranking frame is one row per ranked organisation with at least ``org_id`` and ``score``
(or ``rank``), and ideally ``name``, ``region`` (the service's map region: one of the 18
official names or ``International``), ``sector`` and ``founded_on``: the published ranking
file (``training/pipeline/ranking_file.py``) after ``map_region``, or a served ``Ranking``
(``frame_of_ranking``). Order comes from ``rank`` when present, else from the score (ties
by org id, as the ranking itself).

``ranking_changes(previous, current, k, ...)`` compares, in each *scope*, the top k of the
previous ranking with the top k of the current one. A scope is the whole filtered ranking
(``overall``) and each region of it (``regions``, when ``per_region``). Ranks are positions
within the scope: rank 1 in Occitanie is Occitanie's first. For every scope:

- ``entrants``: in the current top k, not in the previous one (``rank_before`` says where
  it was, None when it was not ranked in that scope at all);
- ``leavers``: in the previous top k, not in the current one (``rank_after`` None when it
  is no longer ranked in the scope: aged out, exited, moved region, or filtered out);
- ``up`` / ``down``: in the top k both times, by how many places they moved (largest
  first, ``moves`` of each at most; unchanged ranks are not moves).

Organisations listed in ``exclude`` (opted out, forgotten) are removed from BOTH rankings
first: an older ranking may still hold a company that has since been forgotten, and it
must not reappear as a "leaver". Callers pass the served ranking's opt-outs.

The watchlist events (``watch_events.py``) share ``diff_ranks``, the comparison of two
ranked lists; they keep their own ``Filters`` (a saved shortlist: ``k`` and a maximum age,
over global ranks) and their own threshold rule for moves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_MOVES = 5


@dataclass(frozen=True)
class Filters:
    """The shortlist's filters (all optional); ``region`` restricts every scope to it."""

    region: str | None = None
    sector: str | None = None
    founded_after: date | None = None
    min_score: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["founded_after"] = self.founded_after.isoformat() if self.founded_after else None
        return out


@dataclass(frozen=True)
class Change:
    """One organisation's place in a scope before and after (None: not ranked there)."""

    org_id: str
    name: str | None
    region: str | None
    sector: str | None
    rank_before: int | None
    rank_after: int | None
    score_before: float | None
    score_after: float | None

    @property
    def places(self) -> int | None:
        """Places gained (positive: up), when ranked both times."""
        if self.rank_before is None or self.rank_after is None:
            return None
        return self.rank_before - self.rank_after

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "places": self.places}


@dataclass(frozen=True)
class ScopeChanges:
    """The changes of one scope's top k."""

    scope: str | None  # a region name; None for the whole (filtered) ranking
    k: int
    ranked_before: int  # organisations of the scope in each ranking
    ranked_after: int
    entrants: tuple[Change, ...] = ()
    leavers: tuple[Change, ...] = ()
    up: tuple[Change, ...] = ()
    down: tuple[Change, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.entrants or self.leavers or self.up or self.down)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "k": self.k,
            "ranked_before": self.ranked_before,
            "ranked_after": self.ranked_after,
            "entrants": [c.as_dict() for c in self.entrants],
            "leavers": [c.as_dict() for c in self.leavers],
            "up": [c.as_dict() for c in self.up],
            "down": [c.as_dict() for c in self.down],
        }


@dataclass(frozen=True)
class RankingChanges:
    """The changes overall and per region, with what was compared."""

    k: int
    filters: Filters
    overall: ScopeChanges
    regions: dict[str, ScopeChanges] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "filters": self.filters.as_dict(),
            "overall": self.overall.as_dict(),
            "regions": {name: scope.as_dict() for name, scope in self.regions.items()},
        }


@dataclass(frozen=True)
class Diff:
    """A ranked list compared with the previous one (org id -> rank in both)."""

    entrants: list[str]
    leavers: list[str]
    moves: list[tuple[str, int, int]]  # (org id, previous rank, current rank)


def diff_ranks(previous: Mapping[str, int], current: Mapping[str, int]) -> Diff:
    """Entrants (current order), leavers (previous order) and every rank change."""
    entrants = sorted((o for o in current if o not in previous), key=lambda o: current[o])
    leavers = sorted((o for o in previous if o not in current), key=lambda o: previous[o])
    moves = [
        (o, previous[o], current[o])
        for o in sorted(current, key=lambda o: current[o])
        if o in previous and previous[o] != current[o]
    ]
    return Diff(entrants, leavers, moves)


_COLUMNS = ("org_id", "name", "region", "sector", "score", "founded_on")


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame in rank order with the columns the comparison reads (missing ones None)."""
    if "org_id" not in frame:
        raise ValueError("a ranking frame needs an org_id column")
    if "rank" not in frame and "score" not in frame:
        raise ValueError("a ranking frame needs a rank or a score column")
    out = pd.DataFrame(index=frame.index)
    for column in _COLUMNS:
        out[column] = frame.get(column, None)
    out["org_id"] = out["org_id"].astype(str)
    out["score"] = pd.to_numeric(out["score"], errors="coerce")
    if "rank" in frame:
        out = out.assign(_order=pd.to_numeric(frame["rank"])).sort_values(
            ["_order", "org_id"], kind="stable"
        )
    else:
        out = out.assign(_order=-out["score"]).sort_values(["_order", "org_id"], kind="stable")
    out = out.drop(columns="_order").drop_duplicates("org_id", keep="first")
    out = out.astype({c: object for c in ("name", "region", "sector")})
    return out.where(out.notna(), None).reset_index(drop=True)


def _filtered(frame: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    keep = np.ones(len(frame), dtype=bool)
    if filters.region is not None:
        keep &= (frame["region"] == filters.region).to_numpy(dtype=bool)
    if filters.sector is not None:
        keep &= (frame["sector"] == filters.sector).to_numpy(dtype=bool)
    if filters.founded_after is not None:
        founded = pd.to_datetime(frame["founded_on"], errors="coerce")
        keep &= (founded >= pd.Timestamp(filters.founded_after)).fillna(False).to_numpy(dtype=bool)
    if filters.min_score is not None:
        keep &= (frame["score"] >= filters.min_score).fillna(False).to_numpy(dtype=bool)
    return frame.loc[keep].reset_index(drop=True)


def _positions(frame: pd.DataFrame) -> dict[str, int]:
    return {org: i + 1 for i, org in enumerate(frame["org_id"])}


def _scope(
    scope: str | None, before: pd.DataFrame, after: pd.DataFrame, k: int, moves: int
) -> ScopeChanges:
    rank_before, rank_after = _positions(before), _positions(after)
    rows_before = before.set_index("org_id")
    rows_after = after.set_index("org_id")

    def change(org: str) -> Change:
        # Identity (name, region, sector) as the current ranking says, else the previous.
        row = rows_after.loc[org] if org in rows_after.index else rows_before.loc[org]
        return Change(
            org_id=org,
            name=row["name"],
            region=row["region"],
            sector=row["sector"],
            rank_before=rank_before.get(org),
            rank_after=rank_after.get(org),
            score_before=_score(rows_before, org),
            score_after=_score(rows_after, org),
        )

    diff = diff_ranks(
        {o: rank_before[o] for o in before["org_id"].iloc[:k]},
        {o: rank_after[o] for o in after["org_id"].iloc[:k]},
    )
    entrants = tuple(change(o) for o in diff.entrants)
    leavers = tuple(change(o) for o in diff.leavers)
    moved = [change(o) for o, _, _ in diff.moves]
    # Largest first; ties by current rank, so the order is reproducible.
    up = sorted(
        (c for c in moved if (c.places or 0) > 0), key=lambda c: (-(c.places or 0), c.rank_after)
    )
    down = sorted(
        (c for c in moved if (c.places or 0) < 0), key=lambda c: ((c.places or 0), c.rank_after)
    )
    return ScopeChanges(
        scope=scope,
        k=k,
        ranked_before=len(before),
        ranked_after=len(after),
        entrants=entrants,
        leavers=leavers,
        up=tuple(up[:moves]),
        down=tuple(down[:moves]),
    )


def _score(rows: pd.DataFrame, org: str) -> float | None:
    if org not in rows.index:
        return None
    value = rows.at[org, "score"]
    return None if value is None or pd.isna(value) else float(value)


def ranking_changes(
    previous: pd.DataFrame,
    current: pd.DataFrame,
    k: int,
    filters: Filters | None = None,
    *,
    per_region: bool = True,
    moves: int = DEFAULT_MOVES,
    exclude: Iterable[str] = (),
) -> RankingChanges:
    """Compare the top ``k`` of ``previous`` and ``current`` overall and in each region.

    ``filters`` apply to both rankings before anything is compared (a region filter leaves
    one region). ``exclude``: org ids removed from both first (opt-outs, forgets). Regions
    are those present in either ranking after filtering, in name order; organisations
    with no region known count overall only.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    if moves < 0:
        raise ValueError(f"moves must be 0 or more, not {moves}")
    filters = filters or Filters()
    gone = {str(o) for o in exclude}
    before = normalise(previous)
    after = normalise(current)
    if gone:
        before = before.loc[~before["org_id"].isin(gone)].reset_index(drop=True)
        after = after.loc[~after["org_id"].isin(gone)].reset_index(drop=True)
    before, after = _filtered(before, filters), _filtered(after, filters)
    overall = _scope(None, before, after, k, moves)
    regions: dict[str, ScopeChanges] = {}
    if per_region:
        names = sorted(
            {str(r) for r in pd.concat([before["region"], after["region"]]).dropna().unique()}
        )
        for name in names:
            regions[name] = _scope(
                name,
                before.loc[before["region"] == name].reset_index(drop=True),
                after.loc[after["region"] == name].reset_index(drop=True),
                k,
                moves,
            )
    return RankingChanges(k=k, filters=filters, overall=overall, regions=regions)
