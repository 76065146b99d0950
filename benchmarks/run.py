"""``make bench``: run every benchmark step in its own process and collect the results."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

RESULTS_DIR = Path(__file__).parent / "results"
console = Console()


def _run_step(step: str, *args: str) -> dict:
    """Run one step of ``benchmarks.stages`` and return its JSON record."""
    command = [sys.executable, "-m", "benchmarks.stages", step, *args]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        console.print(f"[red]{step} failed[/]\n{completed.stderr[-3000:]}")
        return {"step": step, "error": completed.stderr[-3000:]}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def foundation(sizes: list[int]) -> list[dict]:
    """Generation, ingest, feature build and historical retrieval per world size."""
    records: list[dict] = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix=f"talentmap-bench-{n}-") as tmp:
            world, work = Path(tmp) / "world", Path(tmp) / "home"
            steps = [
                ("generate", "--world", str(world), "--orgs", str(n)),
                ("ingest", "--world", str(world), "--work", str(work)),
                ("build", "--work", str(work)),
                ("retrieve-feast", "--work", str(work)),
                ("retrieve-duckdb", "--work", str(work)),
            ]
            for step, *args in steps:
                console.print(f"[dim]{n:,} organisations: {step}…[/]")
                record = {"orgs": n, **_run_step(step, *args)}
                records.append(record)
    feast = {
        r["orgs"]: r for r in records if r.get("step", "").endswith("(Feast)") and "seconds" in r
    }
    duck = {r["orgs"]: r for r in records if "DuckDB" in r.get("step", "") and "seconds" in r}
    for n in sizes:
        if n in feast and n in duck:
            records.append(
                {
                    "orgs": n,
                    "step": "Feast / DuckDB retrieval time ratio",
                    "ratio": round(feast[n]["seconds"] / duck[n]["seconds"], 2),
                }
            )
    return records


def _print(records: list[dict]) -> None:
    table = Table(title="Foundation benchmark")
    for column in ("orgs", "step", "seconds", "rows", "rows/s", "peak MB", "ratio"):
        table.add_column(column, justify="right" if column != "step" else "left")
    for r in records:
        table.add_row(
            f"{r['orgs']:,}",
            r.get("step", ""),
            str(r.get("seconds", "error" if "error" in r else "")),
            f"{r['rows']:,}" if "rows" in r else "",
            f"{r['rows_per_second']:,.0f}" if r.get("rows_per_second") else "",
            str(r.get("peak_rss_mb", "")),
            str(r.get("ratio", "")),
        )
    console.print(table)


def main(
    sizes: Annotated[
        str, typer.Option(help="Comma-separated world sizes, in organisations.")
    ] = "10000,100000",
) -> None:
    """Run the benchmarks and write benchmarks/results/foundation.json."""
    records = foundation([int(s) for s in sizes.split(",")])
    _print(records)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / "foundation.json"
    payload = {
        "suite": "foundation",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "results": records,
    }
    out.write_text(json.dumps(payload, indent=2))
    console.print(f"Written to {out}")


if __name__ == "__main__":
    typer.run(main)
