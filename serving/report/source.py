"""Where the report's figures come from: the lake snapshot behind the served features
(``serving.inputs.load_inputs``, opt-outs applied as for the ranking) and the ranking
itself — the running service's, or, for the CLI, the one the retrain chain published.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from talentmap.settings import Settings
from talentmap.training.pipeline.ranking_file import read_ranking


@dataclass(frozen=True)
class ReportSource:
    tables: dict[str, pd.DataFrame]
    as_of: date
    lake_snapshot_id: str
    excluded_orgs: frozenset[str]


def load_source(settings: Settings) -> ReportSource:
    from talentmap.serving.inputs import load_inputs  # Feast: on first use only

    inputs = load_inputs(settings, settings.serving)
    return ReportSource(
        tables=inputs.tables,
        as_of=inputs.as_of,
        lake_snapshot_id=inputs.lake_snapshot_id,
        excluded_orgs=frozenset(inputs.opt_outs.org_ids),
    )


def ranked_from_ranking(ranking: Any) -> pd.DataFrame:
    """``org_id``, ``country`` in rank order, from a served ``Ranking``."""
    return pd.DataFrame({"org_id": ranking.org_ids, "country": ranking.countries})


def published_ranked(settings: Settings) -> tuple[pd.DataFrame | None, dict[str, Any]]:
    """The published ranking's ``org_id``, ``country`` in rank order, and its metadata
    (None, {} when no ranking was published: the top-k share is then not in the data)."""
    published = read_ranking(settings.feature_tables_dir)
    if published is None:
        return None, {}
    frame = published.table.select(["org_id", "country", "rank"]).to_pandas()
    return frame.sort_values("rank", kind="stable")[["org_id", "country"]], dict(published.meta)
