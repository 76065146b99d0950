"""``GET /api/changes``: the served ranking against the previous one, per region.

The previous ranking is ``history.previous_ranking``: the ranking published just before
the served one (the previous snapshot, while its version folder is on disk), else the
newest ranking logged to the MLflow run of another champion version (the previous
champion). Organisations opted out or forgotten since are removed from both sides first,
so an older list never brings a forgotten company back as a "leaver".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from talentmap.serving.changes import Filters, ranking_changes
from talentmap.serving.history import HistoricRanking, previous_ranking, read_frame
from talentmap.serving.ranking import Ranking


def frame_of_ranking(ranking: Ranking) -> pd.DataFrame:
    """The served ranking as a frame for ``changes.ranking_changes`` (rank order)."""
    return pd.DataFrame(
        {
            "org_id": ranking.org_ids.astype(object),
            "name": ranking.names.astype(object),
            "region": ranking.regions.astype(object),
            "sector": ranking.sectors.astype(object),
            "founded_on": ranking.founded_on,
            "score": ranking.scores,
            "rank": np.arange(1, len(ranking) + 1),
        }
    )


def changes_answer(
    served: Any,
    history: list[HistoricRanking],
    k: int,
    filters: Filters,
    moves: int,
) -> dict[str, Any]:
    """The JSON of ``GET /api/changes`` (``previous`` None: nothing to compare with yet)."""
    ranking: Ranking = served.ranking
    lineage = ranking.lineage
    current = {
        **lineage.as_dict(),
        "source": getattr(served, "source", "computed"),
        "candidates": len(ranking),
    }
    previous = previous_ranking(history, lineage.ranking_id, lineage.model_version, lineage.run_id)
    if previous is None:
        return {
            "current": current,
            "previous": None,
            "k": k,
            "filters": filters.as_dict(),
            "overall": None,
            "regions": {},
        }
    before = read_frame(previous)
    result = ranking_changes(
        before,
        frame_of_ranking(ranking),
        k,
        filters,
        moves=moves,
        exclude=ranking.opt_outs.org_ids,
    )
    return {
        "current": current,
        "previous": {**previous.describe(), "candidates": len(before)},
        **result.as_dict(),
    }
