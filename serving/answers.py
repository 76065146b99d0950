"""The answers of ``/shortlist``, ``/score`` and ``/model`` as plain JSON-ready data.

Kept apart from the BentoML service so that the benchmark's plain Starlette reference
serves exactly the same work, and so the unit tests need no server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from talentmap.serving.regions import FRENCH_REGIONS
from talentmap.serving.schemas import ShortlistRequest

if TYPE_CHECKING:  # numpy and the ranking (pyarrow, pandas): not with the service module
    import numpy as np

    from talentmap.serving.audit import AuditLog
    from talentmap.serving.auth import Principal
    from talentmap.serving.ranking import Ranking
    from talentmap.serving.state import Served

N_REASONS = 3
# What every route answers (503) before the first ranking is loaded: the APIs and the page.
NOT_READY = "no ranking loaded yet; see /readyz for the reason"


def filters_of(request: ShortlistRequest, default_k: int) -> dict[str, Any]:
    """The filters as applied (k resolved), JSON-ready: echoed and audited."""
    return {
        "k": request.k or default_k,
        "region": request.region,
        "sector": request.sector,
        "founded_after": request.founded_after.isoformat() if request.founded_after else None,
        "min_score": request.min_score,
        "include_explanations": request.include_explanations,
        "region_floor": request.region_floor,
    }


def _selected(
    ranking: Ranking, request: ShortlistRequest, k: int
) -> tuple[np.ndarray, int, np.ndarray | None]:
    """(rows in rank order, how many match, promoted flags or None without a floor)."""
    filters = {
        "region": request.region,
        "sector": request.sector,
        "founded_after": request.founded_after,
        "min_score": request.min_score,
    }
    if not request.region_floor:
        rows, matching = ranking.select(k=k, **filters)
        return rows, matching, None
    # The floor needs every matching row: promoted candidates can come from far down.
    from talentmap.training.evaluation.regional_floor import floor_positions

    everything, matching = ranking.select(k=max(1, len(ranking)), **filters)
    keep = floor_positions(ranking.regions[everything], k, request.region_floor, FRENCH_REGIONS)
    return everything[keep], matching, keep >= min(k, len(everything))


def shortlist(ranking: Ranking, request: ShortlistRequest, default_k: int) -> dict[str, Any]:
    """The ``ShortlistResponse`` body for ``request`` over ``ranking``."""
    filters = filters_of(request, default_k)
    rows, matching, promoted = _selected(ranking, request, filters["k"])
    reasons = ranking.reasons(rows) if request.include_explanations else None
    candidates = ranking.rows(rows, reasons)
    if promoted is not None:
        for candidate, flag in zip(candidates, promoted, strict=True):
            candidate["promoted"] = bool(flag)
    return {
        "lineage": ranking.lineage.as_dict(),
        "filters": filters,
        "total_candidates": len(ranking),
        "matching": matching,
        "candidates": candidates,
    }


def audited_shortlist(
    served: Served,
    request: ShortlistRequest,
    default_k: int,
    audit: AuditLog,
    who: Principal,
) -> dict[str, Any]:
    """``shortlist`` over ``served``, recorded in ``audit`` before it is returned.

    No audit line, no shortlist: raises ``OSError`` when the line cannot be written. One
    function does both so that no caller can get the answer without its line.
    """
    body = shortlist(served.ranking, request, default_k)
    audit.write(
        "shortlist",
        who.name,
        who.role,
        filters=body["filters"],
        model_version=served.champion.version,
        run_id=served.champion.run_id,
        feature_snapshot_id=served.ranking.lineage.feature_snapshot_id,
        ranking_id=served.ranking.ranking_id,
        matching=body["matching"],
        org_ids=[c["org_id"] for c in body["candidates"]],
    )
    return body


def score_items(
    ranking: Ranking,
    requested: Sequence[str],
    known: frozenset[str],
    features: Any,
) -> list[dict[str, Any]]:
    """``ScoreItem``s in the requested order; ``features`` holds the known ids' rows."""
    scored: dict[str, dict[str, Any]] = {}
    if features is not None and len(features):
        frame = features.reset_index(drop=True)  # dtypes pinned by inputs.online_features
        probabilities = ranking.model.predict_proba(frame)[:, 1]
        import numpy as np

        from talentmap.serving.ranking import reason_dict
        from talentmap.training.model.explain import top_reasons

        reasons = top_reasons(ranking.model, frame, N_REASONS)
        for org_id, p, why in zip(frame["org_id"], probabilities, reasons, strict=True):
            rank = ranking.rank_of(org_id)
            score = float(p) if np.isfinite(p) else None
            scored[org_id] = {
                "org_id": org_id,
                "status": "scored",
                "candidate": rank is not None,
                "score": score,
                "rank": rank,
                "percentile": ranking.percentile(score) if score is not None else None,
                "reasons": [reason_dict(x) for x in why],
            }
    out = []
    for org_id in requested:
        if org_id in known and org_id in scored:
            out.append(scored[org_id])
        else:
            out.append({"org_id": org_id, "status": "unknown"})
    return out


def model_info(served: Any) -> dict[str, Any]:
    """``GET /model``: the champion, the ranking it produced, and any warning."""
    from talentmap.serving.state import timestamp

    ranking = served.ranking
    return {
        **served.champion.to_dict(),
        "ranking": {
            **ranking.lineage.as_dict(),
            "lake_snapshot_id": ranking.lineage.lake_snapshot_id,
            "candidates": len(ranking),
            "loaded_at": timestamp(served.loaded_at),
            "build_seconds": round(served.build_seconds, 3),
            "source": getattr(served, "source", "computed"),
        },
    }
