"""Where retrain's memory goes: its chain split into sub-steps, each with its own peak RSS.

    python -m benchmarks.scale_profile --world WORLD --home EMPTY_DIR [--materialize]

Runs what ``talentmap retrain`` runs up to the fits (load the snapshot; prepare and each
family builder; write and apply; materialize if asked; training rows; the candidates;
the sample of ``training.max_rows``; the two historical retrievals; the model and the
baseline fits, the model's split into its boosters, linear parts, selection and
calibration by cProfile) in one process, and
resets the process's high-water mark (``/proc/self/clear_refs``) between sub-steps, so
each line's peak is that sub-step's. Also prints the in-memory size of the lake tables,
the feature tables and the training frame: the figures to scale up to 1M organisations.
Nothing is registered or published. Linux only.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import time
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False)


class _Clock:
    """Per sub-step wall time and peak RSS, one JSON line each."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.records: list[dict] = []

    @staticmethod
    def _status_mb(key: str) -> float:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def mark(self, step: str, **facts: object) -> None:
        record = {
            "step": step,
            "seconds": round(time.perf_counter() - self.started, 2),
            "peak_rss_mb": round(self._status_mb("VmHWM")),
            "rss_after_mb": round(self._status_mb("VmRSS")),
            **facts,
        }
        print(json.dumps(record), flush=True)
        self.records.append(record)
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        self.started = time.perf_counter()


def _frames_mb(frames: object) -> float:
    values = frames.values() if isinstance(frames, dict) else [frames]
    return round(sum(f.memory_usage(deep=True).sum() for f in values) / 2**20, 1)


@app.command()
def main(
    world: Annotated[Path, typer.Option(help="A generated (or imported) contract directory.")],
    home: Annotated[Path, typer.Option(help="A scratch home (lake, feature tables, store).")],
    materialize: Annotated[bool, typer.Option(help="Also materialize the online store.")] = False,
    fit: Annotated[bool, typer.Option(help="Also fit the model and the baseline.")] = True,
) -> None:
    """Profile the chain's sub-steps on WORLD."""
    import pandas as pd

    clock = _Clock()
    from talentmap.features import store as feature_store
    from talentmap.features.build import BUILDERS, finalize
    from talentmap.features.prepare import prepare
    from talentmap.optouts import drop_opted_out_features
    from talentmap.settings import Settings
    from talentmap.training.pipeline.backtest import (
        feature_names,
        fit_baselines,
        fit_model,
        load_snapshot,
        retrieve_features,
    )
    from talentmap.training.pipeline.candidates import CANDIDATE, candidate_status
    from talentmap.training.pipeline.retrain import _version_settings
    from talentmap.training.pipeline.rows import select_training_rows
    from talentmap.training.pipeline.sampling import WEIGHT, sample_training_rows
    from talentmap.training.pipeline.train import latest_covered_as_of

    clock.mark("imports")
    settings = Settings(home=home)
    snapshot = load_snapshot(settings, world)
    clock.mark("load snapshot (ingest + lake load)", tables_mb=_frames_mb(snapshot.tables))
    staged = _version_settings(settings, home / "profile-version")
    prepared = prepare(snapshot.tables, snapshot.snapshot_date, settings.training.rules)
    clock.mark("build: prepare")
    tables = {}
    for family, builder in BUILDERS.items():
        tables[family] = finalize(builder(prepared), family, prepared.snapshot)
        clock.mark(f"build: {family}", rows=len(tables[family]))
    del prepared
    tables = drop_opted_out_features(tables, snapshot.tables.get("opt_outs"))
    feature_mb = _frames_mb(tables)
    feature_store.write_feature_tables(
        tables, staged.feature_tables_dir, snapshot.snapshot_id, snapshot.snapshot_date
    )
    del tables
    clock.mark("build: write tables", feature_tables_mb=feature_mb)
    store = feature_store.apply(staged)
    clock.mark("build: apply")
    if materialize:
        feature_store.materialize(staged, snapshot.snapshot_date)
        clock.mark("materialize")
    rules, config = settings.training.rules, settings.training
    when = pd.Timestamp(latest_covered_as_of(snapshot.snapshot_date, rules.horizon_months))
    training = select_training_rows(snapshot.tables, when, rules, config)
    clock.mark("train: training rows", rows=len(training.rows))
    fit_rows, sample = sample_training_rows(training.rows, config.max_rows, config.model.seed)
    fit_rows = fit_rows.reset_index(drop=True)
    weights = fit_rows[WEIGHT].to_numpy() if sample.sampled else None
    clock.mark("train: sample (training.max_rows)", **sample.to_dict())
    status = candidate_status(snapshot.tables, [when], rules)
    current = status.loc[status["status"] == CANDIDATE, ["org_id", "as_of"]]
    clock.mark("train: candidates now", rows=len(current))
    frame = retrieve_features(staged, store, fit_rows)
    clock.mark("train: retrieve training frame", frame_mb=_frames_mb(frame))
    retrieve_features(staged, store, current.reset_index(drop=True))
    clock.mark("train: retrieve candidates' frame")
    if fit:
        features = feature_names()
        labels, as_of = fit_rows["label"], fit_rows["as_of"]
        profiler = cProfile.Profile()
        profiler.enable()
        fit_model(
            frame,
            labels,
            as_of,
            config.model,
            features,
            rules.horizon_months,
            sample_weight=weights,
        )
        profiler.disable()
        clock.mark("train: fit model", parts_seconds=_fit_parts(profiler))
        fit_baselines(frame, labels, features, config.model.seed, config.model.linear_c, weights)
        clock.mark("train: fit baseline")


# What a fit spends its time on: (file suffix, function) -> the name reported.
_FIT_PARTS = {
    ("model/trees.py", "early_stopped"): "trees: early-stopped fits",
    ("model/trees.py", "refit"): "trees: refits",
    ("model/trees.py", "raw_scores"): "trees: scoring the calib slice",
    ("model/linear.py", "fit"): "linear part: fits",
    ("model/selection.py", "select_scorer"): "selection",
    ("model/calibration.py", "fit_calibrator"): "calibration",
    ("model/estimator.py", "prepare"): "prepare (categories)",
}


def _fit_parts(profiler: cProfile.Profile) -> dict[str, float]:
    """Cumulative seconds of each part of ``PromiseModel.fit`` (``_FIT_PARTS``)."""
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    parts: dict[str, float] = {}
    for (filename, _, function), (_, _, _, cumulative, _) in stats.items():
        for (suffix, name), label in _FIT_PARTS.items():
            if function == name and filename.endswith(suffix):
                parts[label] = round(parts.get(label, 0.0) + cumulative, 2)
    return parts


if __name__ == "__main__":
    app()
