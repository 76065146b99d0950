"""Reads the company page and "what changed" need beside the served ranking, cached.

- the lake tables of the snapshot the served features came from (the timeline's source),
  kept for the last two snapshots read: a snapshot is immutable, so its tables never change;
- links to the MLflow UI: a run's page and its ``lineage.json`` (the feature snapshot
  behind a score), with the run's experiment id looked up once per run.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import pandas as pd

from talentmap.serving.company import LAKE_TABLES
from talentmap.settings import Settings
from talentmap.training.tracking.target import activate, resolve_target


@lru_cache(maxsize=2)
def _tables(lake_dir: str, snapshot_id: str) -> dict[str, pd.DataFrame]:
    from talentmap.lake import Lake  # the contract (pandera): not at the service's start

    return Lake(lake_dir).load(snapshot_id, LAKE_TABLES)


def snapshot_tables(settings: Settings, snapshot_id: str | None) -> dict[str, pd.DataFrame]:
    """The snapshot's tables (the latest snapshot's when the lineage names none)."""
    from talentmap.lake import Lake

    lake = Lake(settings.lake_dir)
    if snapshot_id is None:
        latest = lake.latest()
        if latest is None:
            raise LookupError(f"no snapshot in the lake at {settings.lake_dir}")
        snapshot_id = latest.snapshot_id
    return _tables(str(settings.lake_dir), snapshot_id)


def ui_base(settings: Settings) -> str:
    configured = settings.serving.mlflow_ui_url
    if configured:
        return configured.rstrip("/")
    return f"http://{settings.tracking.ui_host}:{settings.tracking.ui_port}"


_EXPERIMENTS: dict[tuple[str, str], str] = {}


def _experiment_of(settings: Settings, run_id: str) -> str:
    key = (str(settings.home), run_id)
    if key not in _EXPERIMENTS:  # a run never changes experiment
        with activate(resolve_target(settings)) as client:
            _EXPERIMENTS[key] = str(client.get_run(run_id).info.experiment_id)
    return _EXPERIMENTS[key]


def run_links(settings: Settings) -> Callable[[str | None], dict[str, Any]]:
    """run id -> {"mlflow_run_url", "lineage_url"} (None values when unknown)."""
    base = ui_base(settings)

    def links(run_id: str | None) -> dict[str, Any]:
        if not run_id:
            return {"mlflow_run_url": None, "lineage_url": None}
        try:
            experiment = _experiment_of(settings, run_id)
        except Exception:  # MLflow unreachable: the ids are still shown
            experiment = None
        if experiment is None:
            return {"mlflow_run_url": None, "lineage_url": None}
        run = f"{base}/#/experiments/{experiment}/runs/{run_id}"
        return {"mlflow_run_url": run, "lineage_url": f"{run}/artifacts/lineage.json"}

    return links
