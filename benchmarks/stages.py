"""One benchmark step per process, so that peak memory is the step's own.

Run as ``python -m benchmarks.stages STEP --world DIR --work DIR``; prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import time
from datetime import UTC, date
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from talentmap.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True)

RETRIEVAL_AS_OF = [date(2019, 1, 1), date(2021, 1, 1), date(2023, 1, 1), date(2025, 1, 1)]


def _report(step: str, seconds: float, rows: int, **extra: object) -> None:
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    record = {
        "step": step,
        "seconds": round(seconds, 3),
        "rows": rows,
        "rows_per_second": round(rows / seconds, 1) if seconds > 0 else None,
        "peak_rss_mb": round(peak_mb, 1),
        **extra,
    }
    print(json.dumps(record))


def _settings(work: Path) -> Settings:
    return Settings(home=work)


@app.command()
def generate(
    world: Annotated[Path, typer.Option(help="Output folder of the world.")],
    orgs: Annotated[int, typer.Option(help="Number of organisations.")],
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """Time the generator."""
    from talentmap.generate.world import generate_world

    started = time.perf_counter()
    generate_world(world, orgs, seed, fmt="parquet")
    seconds = time.perf_counter() - started
    rows = sum(len(pd.read_parquet(p, columns=[])) for p in world.glob("*.parquet"))
    _report("generate", seconds, rows, orgs=orgs)


@app.command()
def ingest(
    world: Annotated[Path, typer.Option(help="World folder to ingest.")],
    work: Annotated[Path, typer.Option(help="Working home (lake, feature store).")],
) -> None:
    """Time validation plus ingest into a fresh lake."""
    from talentmap.ingest import ingest as run_ingest

    settings = _settings(work)
    started = time.perf_counter()
    result = run_ingest(world, settings.lake_dir)
    seconds = time.perf_counter() - started
    rows = sum(int(t["rows"]) for t in result.manifest["tables"].values())
    _report("validate+ingest", seconds, rows)


@app.command()
def build(
    work: Annotated[Path, typer.Option(help="Working home (lake, feature store).")],
) -> None:
    """Time the feature build from the latest lake snapshot, then write and apply."""
    from talentmap.features import store
    from talentmap.features.build import build_feature_tables
    from talentmap.lake import Lake

    settings = _settings(work)
    lake = Lake(settings.lake_dir)
    snapshot = lake.latest()
    assert snapshot is not None, "ingest first"
    tables = lake.load(snapshot.snapshot_id)
    input_rows = sum(len(t) for t in tables.values())
    snapshot_date = snapshot.snapshot_date
    assert snapshot_date is not None
    started = time.perf_counter()
    feature_tables = build_feature_tables(tables, snapshot_date)
    seconds = time.perf_counter() - started
    output_rows = sum(len(t) for t in feature_tables.values())
    store.write_feature_tables(feature_tables, settings.feature_tables_dir, snapshot.snapshot_id)
    store.apply(settings)
    _report("feature build", seconds, input_rows, output_rows=output_rows)


def _entity_frame(work: Path) -> pd.DataFrame:
    from talentmap.lake import Lake

    settings = _settings(work)
    lake = Lake(settings.lake_dir)
    snapshot = lake.latest()
    assert snapshot is not None
    orgs = lake.load(snapshot.snapshot_id, tables=["organizations"])["organizations"]
    frames = [
        pd.DataFrame({"org_id": orgs["org_id"], "as_of": pd.Timestamp(d)}) for d in RETRIEVAL_AS_OF
    ]
    entity = pd.concat(frames, ignore_index=True)
    entity["as_of"] = pd.to_datetime(entity["as_of"]).dt.tz_localize(UTC)
    return entity


@app.command()
def retrieve_feast(
    work: Annotated[Path, typer.Option(help="Working home (lake, feature store).")],
) -> None:
    """Time Feast's get_historical_features for the `promise` service."""
    from talentmap.features import store

    settings = _settings(work)
    entity = _entity_frame(work)
    started = time.perf_counter()
    frame = store.get_training_frame(settings, entity)
    seconds = time.perf_counter() - started
    _report("historical retrieval (Feast)", seconds, len(entity), columns=frame.shape[1])


@app.command()
def retrieve_duckdb(
    work: Annotated[Path, typer.Option(help="Working home (lake, feature store).")],
) -> None:
    """Time the hand-written DuckDB ASOF JOIN reference over the same tables."""
    from talentmap.features.asof_reference import asof_join_duckdb

    settings = _settings(work)
    entity = _entity_frame(work)
    started = time.perf_counter()
    frame = asof_join_duckdb(entity, settings.feature_tables_dir)
    seconds = time.perf_counter() - started
    _report(
        "historical retrieval (DuckDB ASOF reference)", seconds, len(entity), columns=frame.shape[1]
    )


if __name__ == "__main__":
    app()
