"""What the ranking is computed from: the lake snapshot behind the online features, the
candidates at the serving date, and their online features.

The lake snapshot is the one the feature tables were built from (``snapshot.json`` of the
feature tables), so names, founders and features describe the same data. Opt-outs are
read from that snapshot *and* from the latest one: an opt-out recorded after the features
were built must bind at once, and so do the ``talentmap forget`` register's (read at every
load): opted-out persons' rows are removed from the tables before anything is ranked.

The serving date ("now", issue 6): by default the snapshot date, i.e. the latest date the
data describes — ranking at today's date would treat every month since the extraction as
a month without news. ``as_of = "today"`` or a fixed date can be configured.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd
from feast import FeatureStore

from talentmap.features.store import (
    get_online_features,
    pin_feature_dtypes,
    promise_columns,
    read_lineage,
)
from talentmap.lake import Lake
from talentmap.optouts import apply_opt_outs, read_settings_register
from talentmap.serving.ranking import OptOuts
from talentmap.settings import Settings
from talentmap.settings.serving import ServingConfig
from talentmap.training.pipeline.candidates import candidates

ONLINE_CHUNK = 5000


@dataclass(frozen=True)
class ServingInputs:
    tables: dict[str, pd.DataFrame]
    lake_snapshot_id: str
    feature_snapshot_id: str | None
    snapshot_date: date
    as_of: date
    candidate_ids: tuple[str, ...]
    opt_outs: OptOuts


class InputsUnavailableError(RuntimeError):
    """The lake or the feature tables are missing: nothing can be ranked."""


def serving_date(config: ServingConfig, snapshot_date: date, today: date | None = None) -> date:
    return config.serving_date(snapshot_date, today)


def load_inputs(settings: Settings, config: ServingConfig) -> ServingInputs:
    """Tables, ids and dates of the next ranking (reads the lake; no Feast call)."""
    lake = Lake(settings.lake_dir)
    lineage = read_lineage(settings.feature_tables_dir) or {}
    feature_snapshot = lineage.get("snapshot_id")
    latest = lake.latest()
    if latest is None:
        raise InputsUnavailableError(f"the lake {settings.lake_dir} holds no snapshot")
    snapshot_id = feature_snapshot if feature_snapshot and lake.has(feature_snapshot) else None
    snapshot_id = snapshot_id or latest.snapshot_id
    tables = lake.load(snapshot_id)
    ref = lake.get(snapshot_id)
    snapshot_date = ref.snapshot_date or pd.Timestamp(lineage.get("snapshot_date")).date()
    extra = [read_settings_register(settings)]  # `talentmap forget`, binding at once
    if latest.snapshot_id != snapshot_id:
        extra.append(lake.load(latest.snapshot_id, ["opt_outs"]).get("opt_outs"))
    frames = [f for f in extra if f is not None and len(f)]
    # Opted-out persons' rows leave every table; opt_outs becomes lake ∪ newer ∪ register.
    tables = apply_opt_outs(tables, pd.concat(frames, ignore_index=True) if frames else None)
    opt_outs = OptOuts.from_table(tables.get("opt_outs"))
    when = serving_date(config, snapshot_date)
    rules = settings.training.rules
    picked = candidates(tables, when, rules)["org_id"].astype(str)
    ids = tuple(o for o in picked if o not in opt_outs.org_ids)
    return ServingInputs(
        tables=tables,
        lake_snapshot_id=snapshot_id,
        feature_snapshot_id=feature_snapshot,
        snapshot_date=snapshot_date,
        as_of=when,
        candidate_ids=ids,
        opt_outs=opt_outs,
    )


def pin_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Text features as object (None missing), the rest float64, exactly as in training."""
    return pin_feature_dtypes(frame)


def online_features(
    settings: Settings,
    org_ids: Sequence[str],
    as_of: date,
    store: FeatureStore | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """``[org_id, *promise features]`` from the online store, in ``org_ids`` order."""
    if not org_ids:
        return pd.DataFrame({"org_id": [], **{c: [] for c in promise_columns()}})
    parts = []
    for start in range(0, len(org_ids), ONLINE_CHUNK):
        chunk = list(org_ids[start : start + ONLINE_CHUNK])
        parts.append(get_online_features(settings, chunk, as_of, store))
        if on_chunk is not None:
            on_chunk(min(start + ONLINE_CHUNK, len(org_ids)), len(org_ids))
    return pin_dtypes(pd.concat(parts, ignore_index=True))
