"""Feature build: the Spark engine against the default one (issue 10 §3).

For each world size: generate a world (cached in ``benchmarks/cache/``), ingest it into a
temporary lake, load the snapshot, then time

- ``default``: ``build_feature_tables`` in this process (``features.engine = duckdb``);
- ``spark_start``: starting the Spark session (JVM, ``local[*]`` unless ``--master``);
- ``spark``: ``build_feature_tables_spark`` on that session, first run (Python workers
  start and receive the broadcast tables) and a second, warm run.

Both engines' tables are compared (rows per family) so a timing never stands for a
different output. Written to ``benchmarks/results/spark_build.json``. Run alone:
``python -m benchmarks.spark_build --sizes 5000`` (``--sizes 5000,100000`` for both; the
100k world takes a few minutes to generate the first time).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import psutil
import typer
from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).resolve().parent / "results"
CACHE = Path(__file__).resolve().parent / "cache"
SEED = 10
DEFAULT_SIZES = "5000"

app = typer.Typer(add_completion=False)
console = Console(markup=False)


def _world(orgs: int) -> Path:
    from talentmap.generate.world import generate_world

    path = CACHE / f"spark-world-{orgs}-{SEED}"
    if not path.is_dir():
        # Generated aside and renamed, so an interrupted run leaves no half world behind.
        partial = path.with_name(path.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        generate_world(partial, orgs, SEED)
        partial.rename(path)
    return path


def _tree_rss() -> int:
    """Resident memory of this process and its children (the JVM and Python workers)."""
    me = psutil.Process()
    total = me.memory_info().rss
    for child in me.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            continue
    return total


def measure(orgs: int, master: str, buckets: int) -> dict[str, Any]:
    from talentmap.features.build import build_feature_tables
    from talentmap.features.spark_build import build_feature_tables_spark, spark_session
    from talentmap.ingest import ingest
    from talentmap.lake import Lake
    from talentmap.settings.spark import SparkSettings

    world = _world(orgs)
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp:
        result = ingest(world, Path(tmp) / "lake")
        lake = Lake(Path(tmp) / "lake")
        snapshot_date = lake.get(result.snapshot_id).snapshot_date
        assert snapshot_date is not None
        tables = lake.load(result.snapshot_id)
    input_rows = sum(len(t) for t in tables.values())

    started = time.perf_counter()
    default = build_feature_tables(tables, snapshot_date)
    default_s = time.perf_counter() - started
    # Only the row counts are compared: the driver holds the Spark run's output next.
    default_rows = {family: len(frame) for family, frame in default.items()}
    del default

    started = time.perf_counter()
    spark = spark_session(SparkSettings(master=master, driver_memory="2g", buckets=buckets))
    start_s = time.perf_counter() - started
    try:
        runs = []
        got: dict[str, Any] = {}
        for _ in range(2):
            got.clear()  # the first run's tables go before the second is collected
            started = time.perf_counter()
            got = build_feature_tables_spark(spark, tables, snapshot_date, buckets=buckets)
            runs.append(time.perf_counter() - started)
        rss = _tree_rss()
    finally:
        spark.stop()
    same_rows = {f: len(got[f]) == n for f, n in default_rows.items()}
    return {
        "orgs": orgs,
        "seed": SEED,
        "input_rows": input_rows,
        "output_rows": sum(default_rows.values()),
        "default_s": round(default_s, 2),
        "spark_start_s": round(start_s, 2),
        "spark_first_s": round(runs[0], 2),
        "spark_warm_s": round(runs[1], 2),
        "spark_over_default": round(runs[1] / default_s, 2),
        "process_tree_rss_gib_after_spark": round(rss / 2**30, 2),
        "rows_equal_per_family": all(same_rows.values()),
        "master": master,
        "buckets": buckets,
        # The machine is shared: a high load makes every figure slower, Spark's most.
        "load_average_1m": round(os.getloadavg()[0], 1),
    }


@app.command()
def main(
    sizes: Annotated[str, typer.Option(help="Comma-separated world sizes.")] = DEFAULT_SIZES,
    master: Annotated[str, typer.Option(help="Spark master URL.")] = "local[*]",
    buckets: Annotated[int, typer.Option(help="Organisation buckets (Spark tasks).")] = 16,
) -> None:
    """Time the feature build on Spark against the default engine."""
    records = []
    for size in (int(s) for s in sizes.split(",") if s):
        records.append(measure(size, master, buckets))
        console.print(json.dumps(records[-1]))
    table = Table("orgs", "default s", "spark start s", "spark 1st s", "spark warm s", "equal rows")
    for r in records:
        table.add_row(
            f"{r['orgs']:,}",
            f"{r['default_s']}",
            f"{r['spark_start_s']}",
            f"{r['spark_first_s']}",
            f"{r['spark_warm_s']}",
            str(r["rows_equal_per_family"]),
        )
    console.print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "spark_build.json"
    # Sizes measured by an earlier run (e.g. 100k alone) are kept unless measured again.
    if out.is_file():
        measured = {r["orgs"] for r in records}
        earlier = json.loads(out.read_text(encoding="utf-8")).get("records", [])
        records = [r for r in earlier if r.get("orgs") not in measured] + records
        records.sort(key=lambda r: r["orgs"])
    payload = {
        "suite": "spark_build",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "records": records,
    }
    out.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    console.print(f"written {out}")


if __name__ == "__main__":
    app()
