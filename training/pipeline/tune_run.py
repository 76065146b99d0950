"""``tune`` on a data directory: the backtest's training rows at an as-of date, searched.

The search itself (``tune.tune_on_rows``) works on any labelled rows; this module finds
the rows ``train`` would use, so ``talentmap tune`` and a scheduled retrain can run it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from talentmap.settings.tune import TuneConfig
from talentmap.training.pipeline.tune import TrialHook, TuneError, TuneResult, tune_on_rows

if TYPE_CHECKING:
    from talentmap.settings import Settings

StepHook = Callable[[str], None]


@dataclass(frozen=True)
class TuneRun:
    """``tune`` on a data directory: the search plus what it was run on."""

    result: TuneResult
    snapshot_id: str
    as_of: pd.Timestamp


def tune(
    settings: Settings,
    data_dir: Path,
    *,
    as_of: date | pd.Timestamp | str | None = None,
    config: TuneConfig | None = None,
    on_step: StepHook | None = None,
    on_trial: TrialHook | None = None,
) -> TuneRun:
    """Search on the training rows of the backtest at ``as_of`` (default: what ``train`` uses).

    ``as_of`` defaults to the latest date whose label window the snapshot covers, the
    window ``train`` registers a model on; the search only sees training rows whose
    windows close on or before it, never the candidates at ``as_of`` themselves. The
    features are built into a temporary folder, so the live feature store is not touched.
    """
    from talentmap.settings import FeatureSettings
    from talentmap.training.pipeline.backtest import (
        build_features,
        categorical_names,
        feature_names,
        load_snapshot,
        retrieve_features,
    )
    from talentmap.training.pipeline.rows import select_training_rows
    from talentmap.training.pipeline.train import latest_covered_as_of
    from talentmap.training.tracking.target import resolve_target

    def step(description: str) -> None:
        if on_step is not None:
            on_step(description)

    config = config or settings.tune
    rules = settings.training.rules
    horizon = rules.horizon_months
    step("Ingesting the data directory")
    snapshot = load_snapshot(settings, Path(data_dir))
    when = pd.Timestamp(
        as_of if as_of is not None else latest_covered_as_of(snapshot.snapshot_date, horizon)
    ).normalize()
    if when > pd.Timestamp(snapshot.snapshot_date):
        raise TuneError(
            f"--as-of {when.date()} is after the snapshot date {snapshot.snapshot_date}"
        )
    step("Assembling training rows")
    # The backtest's rows (history window, per-date and per-slice minimums), so a search
    # tunes the model on exactly what `train` would fit it on.
    training = select_training_rows(snapshot.tables, when, rules, settings.training)
    with tempfile.TemporaryDirectory(prefix="talentmap-tune-", ignore_cleanup_errors=True) as tmp:
        staged = settings.model_copy(
            update={
                "features": FeatureSettings(
                    repo_dir=settings.feature_repo_dir,
                    tables_dir=Path(tmp) / "features",
                    store_dir=Path(tmp) / "feast",
                )
            }
        )
        step("Building the features (temporary store)")
        store = build_features(staged, snapshot)
        step("Retrieving training features")
        frame = retrieve_features(staged, store, training.rows)
    features = feature_names()
    step("Searching")
    result = tune_on_rows(
        frame,
        training.rows["label"].to_numpy(),
        training.rows["as_of"],
        config,
        resolve_target(settings),
        base=settings.training.model,
        horizon_months=horizon,
        features=features,
        categorical_features=categorical_names(features),
        cutoff=when,
        run_name=f"tune-{snapshot.snapshot_id}",
        tags={
            "lineage.snapshot_id": snapshot.snapshot_id,
            "talentmap.tune.as_of": when.date().isoformat(),
        },
        on_trial=on_trial,
    )
    return TuneRun(result, snapshot.snapshot_id, when)
