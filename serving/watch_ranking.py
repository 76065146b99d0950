"""The served ranking as watchlist derivation reads it (``watch_events.RankingView``).

Shortlists come from ``Ranking.select``, the very code behind ``POST /shortlist``, so a
watchlist's shortlist is what staff get with the same filters. ``max_age_years`` becomes
``founded_after`` = the ranking's date minus that many years, so a saved "under 5 years"
keeps its meaning as time passes. Rounds of followed companies come from the lake
snapshot behind the ranking, dated on or before the ranking's date (nothing later leaks
in).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import pandas as pd

from talentmap.serving.ranking import Ranking
from talentmap.serving.watch_events import Filters, RankingView, Round, Row

logger = logging.getLogger("talentmap.serving")


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _row(ranking: Ranking, r: int) -> Row:
    return Row(
        org_id=str(ranking.org_ids[r]),
        rank=int(r) + 1,
        name=str(ranking.names[r]),
        region=ranking.regions[r],
        sector=ranking.sectors[r],
    )


def lake_rounds(
    lake_dir: Any, snapshot_id: str | None, as_of: date, org_ids: list[str]
) -> list[Round]:
    """Funding rounds of ``org_ids`` in the lake snapshot, dated on or before ``as_of``."""
    if not snapshot_id or not org_ids:
        return []
    from talentmap.lake import Lake  # the contract (pandera): not at the service's start

    lake = Lake(lake_dir)
    if not lake.has(snapshot_id):
        logger.warning("watchlists: lake snapshot %s is gone; no round events", snapshot_id)
        return []
    table = lake.load(snapshot_id, ["funding_rounds"]).get("funding_rounds")
    if table is None or table.empty:
        return []
    table = table.loc[table["org_id"].astype(str).isin(set(org_ids))]
    announced = pd.to_datetime(table["announced_on"]).dt.date
    table = table.assign(_on=announced).loc[announced <= as_of]
    amounts = table["amount_eur"] if "amount_eur" in table else pd.Series(None, index=table.index)
    return [
        Round(
            round_id=str(rid),
            org_id=str(org),
            announced_on=on,
            round_type=None if pd.isna(kind) else str(kind),
            amount_eur=None if pd.isna(amount) else float(amount),
        )
        for rid, org, on, kind, amount in zip(
            table["round_id"],
            table["org_id"],
            table["_on"],
            table["round_type"],
            amounts,
            strict=True,
        )
    ]


def view(ranking: Ranking, lake_dir: Any) -> RankingView:
    """``ranking`` for derivation; rounds are read from the lake only when asked for."""
    as_of = ranking.lineage.as_of

    def shortlist(filters: Filters) -> list[Row]:
        if not filters.k:
            return []
        after = years_before(as_of, filters.max_age_years) if filters.max_age_years else None
        rows, _ = ranking.select(
            k=filters.k, region=filters.region, sector=filters.sector, founded_after=after
        )
        return [_row(ranking, int(r)) for r in rows]

    def lookup(org_id: str) -> Row | None:
        r = ranking.row_of(org_id)
        return None if r is None else _row(ranking, r)

    return RankingView(
        ranking_id=ranking.ranking_id,
        as_of=as_of,
        shortlist=shortlist,
        lookup=lookup,
        opted_out=ranking.opt_outs.org_ids,
        rounds=lambda ids: lake_rounds(lake_dir, ranking.lineage.lake_snapshot_id, as_of, ids),
    )
