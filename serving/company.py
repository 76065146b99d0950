"""The company page's answer (``GET /api/company/<org_id>``) as plain JSON-ready data.

For one organisation: its profile, its founders, a timeline of every dated signal from the
lake snapshot the served features came from (rounds, programmes, job postings, headcount
observations, organisation publications, exits, and the founding date), its current
score, rank, percentile and reasons, and its score and rank in every earlier ranking
still found (``history.py``: published version folders and the rankings logged to the
MLflow runs of every version that was ever champion), each with links to its MLflow run
and the lineage (feature snapshot) behind it.

Privacy, as everywhere: an opted-out or forgotten organisation is not shown at all (the
answer is None, the route says 404, exactly as for an unknown id); opted-out persons never
appear among the founders. Publications are organisation-level only (a founder's own
papers are personal data the page does not need). Nothing dated after the ranking's
serving date is shown (point in time: the page shows what the score saw).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from talentmap.serving.history import HistoricRanking, read_frame
from talentmap.serving.ranking import Ranking
from talentmap.training.pipeline import ranking_file

# (table, its date column, the event kind shown, the columns that describe it)
SIGNALS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("funding_rounds", "announced_on", "round", ("round_type", "amount_eur", "n_investors")),
    ("programs", "started_on", "programme", ("program_name", "program_kind", "ended_on")),
    ("job_postings", "posted_on", "job_posting", ("category",)),
    ("headcount", "observed_on", "headcount", ("headcount",)),
    ("publications", "published_on", "publication", ("kind", "venue")),
    ("exits", "exited_on", "exit", ("exit_kind", "amount_eur")),
)
LAKE_TABLES = ("organizations", "roles", "people", *(t for t, *_ in SIGNALS))


def _plain(value: Any) -> Any:
    """A JSON-ready scalar (dates as ISO days, NaN/NaT as None, numpy as Python)."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, date)):
        return pd.Timestamp(value).date().isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def timeline(tables: Mapping[str, pd.DataFrame], org_id: str, as_of: date) -> list[dict[str, Any]]:
    """Every dated signal of ``org_id`` on or before ``as_of``, oldest first."""
    events: list[dict[str, Any]] = []
    orgs = tables.get("organizations")
    if orgs is not None and "founded_on" in orgs:
        founded = orgs.loc[orgs["org_id"].astype(str) == org_id, "founded_on"].dropna()
        for day in founded:
            if pd.Timestamp(day).date() <= as_of:
                events.append({"date": _plain(day), "kind": "founded", "detail": {}})
    cut = pd.Timestamp(as_of)
    for table, column, kind, described in SIGNALS:
        frame = tables.get(table)
        if frame is None or "org_id" not in frame or column not in frame:
            continue
        rows = frame.loc[frame["org_id"].astype(str) == org_id]
        rows = rows.loc[pd.to_datetime(rows[column], errors="coerce") <= cut]
        for _, row in rows.iterrows():
            detail = {c: _plain(row[c]) for c in described if c in row.index}
            events.append({"date": _plain(row[column]), "kind": kind, "detail": detail})
    order = {kind: i for i, (_, _, kind, _) in enumerate(SIGNALS)}
    return sorted(events, key=lambda e: (e["date"], order.get(e["kind"], -1)))


def _profile(ranking: Ranking, row: int | None, tables: Mapping[str, pd.DataFrame], org_id: str):
    if row is not None:
        base = ranking.row(row)
        return {
            k: base[k]
            for k in ("org_id", "name", "country", "region", "city", "sector", "founded_on")
        }
    orgs = tables["organizations"]
    found = orgs.loc[orgs["org_id"].astype(str) == org_id]
    if found.empty:
        return None
    first = found.iloc[0]
    from talentmap.serving.regions import map_region

    return {
        "org_id": org_id,
        "name": _plain(first.get("name")) or org_id,
        "country": _plain(first.get("country")),
        "region": map_region(_plain(first.get("country")), _plain(first.get("region"))),
        "city": _plain(first.get("city")),
        "sector": _plain(first.get("sector")),
        "founded_on": _plain(first.get("founded_on")),
    }


def _founders(
    ranking: Ranking, row: int | None, tables: Mapping[str, pd.DataFrame], org_id: str
) -> list[dict[str, str]]:
    if row is not None:
        return [{"name": name, "role": role} for _, name, role in ranking.founders_of([row])[0]]
    found = ranking_file.founder_rows(tables, [org_id], ranking.opt_outs.person_ids)
    return [{"name": n, "role": r} for n, r in zip(found["name"], found["role"], strict=True)]


def history_rows(
    org_id: str, history: list[HistoricRanking], links: Any = None
) -> list[dict[str, Any]]:
    """The organisation's score and rank in each earlier ranking (oldest first).

    Rankings that did not rank it are listed with ``rank`` None (it was not a candidate
    then), so the page can show when it entered and left.
    """
    out = []
    for entry in history:
        frame = read_frame(entry)
        mine = frame.loc[frame["org_id"].astype(str) == org_id]
        item: dict[str, Any] = {**entry.describe(), "candidates": len(frame)}
        if mine.empty:
            item.update({"rank": None, "score": None, "percentile": None})
        else:
            first = mine.iloc[0]
            item.update(
                {
                    "rank": int(first["rank"]) if "rank" in first else None,
                    "score": float(first["score"]),
                    "percentile": _plain(first.get("percentile")),
                }
            )
        if links is not None:
            item.update(links(entry.run_id))
        out.append(item)
    return out


def company_answer(
    served: Any,
    org_id: str,
    tables: Mapping[str, pd.DataFrame],
    history: list[HistoricRanking],
    links: Any = None,
) -> dict[str, Any] | None:
    """The company page's JSON, or None when the organisation may not be shown (unknown,
    opted out or forgotten: the same answer for each, so a 404 reveals nothing)."""
    ranking: Ranking = served.ranking
    if org_id in ranking.opt_outs.org_ids or org_id not in served.known_org_ids:
        return None
    row = ranking.row_of(org_id)
    profile = _profile(ranking, row, tables, org_id)
    if profile is None:
        return None
    lineage = ranking.lineage
    current: dict[str, Any] = {"ranked": row is not None, "candidates": len(ranking)}
    if row is not None:
        reasons = ranking.reasons([row])[0]
        scored = ranking.row(row, reasons)
        current.update(
            {
                "rank": scored["rank"],
                "score": scored["score"],
                "percentile": scored["percentile"],
                "reasons": scored["reasons"],
            }
        )
    served_lineage = {**lineage.as_dict(), "lake_snapshot_id": lineage.lake_snapshot_id}
    if links is not None:
        served_lineage.update(links(lineage.run_id))
    return {
        "org_id": org_id,
        "profile": profile,
        "founders": _founders(ranking, row, tables, org_id),
        "current": current,
        "lineage": served_lineage,
        "timeline": timeline(tables, org_id, lineage.as_of),
        "history": history_rows(org_id, history, links),
    }
