"""The real-data path on a messy export (issue 13 §5): ``python -m benchmarks.real_data``.

Makes a Crunchbase 2013 Snapshot-format export of about ``--orgs`` companies with
``tests/fixtures/messy_crunchbase.py`` (a generated world converted to the source's files
and spoiled the way real exports are), then runs the real commands on it, each in its own
process with ``TALENTMAP_HOME`` in a temporary folder: ``import crunchbase2013``,
``validate``, ``backtest --as-of`` (a date whose 24-month outcomes the export knows) and
``retrain``. Records the import report's counts per source table, the validator's verdict,
the backtest's table for the model and both baselines, and the wall time of each step, in
``benchmarks/results/real_data.json``.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results" / "real_data.json"
TESTS = Path(__file__).parents[1] / "tests"
SHOWN = ("auc_roc", "auc_pr", "precision@100", "lift@100")


def _maker() -> Any:
    # The maker is a test fixture; the benchmark reuses it rather than keep a second copy.
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    return importlib.import_module("fixtures.messy_crunchbase")


def _step(home: Path, *args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALENTMAP_")}
    # One training thread, as in the tests: the figures repeat exactly on a busy machine.
    env.update(
        TALENTMAP_HOME=str(home),
        TALENTMAP_TRAINING__MODEL__NUM_THREADS="1",
        COLUMNS="200",
        NO_COLOR="1",
    )
    talentmap = str(Path(sys.executable).parent / "talentmap")
    started = time.perf_counter()
    done = subprocess.run(
        [talentmap, *args], cwd=home, env=env, capture_output=True, text=True, check=False
    )
    seconds = round(time.perf_counter() - started, 1)
    if done.returncode != 0:
        raise RuntimeError(f"talentmap {args[0]} exited {done.returncode}: {done.stderr[-2000:]}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return {"command": f"talentmap {' '.join(args)}", "seconds": seconds, "last_line": lines[-1]}


def main(
    orgs: Annotated[int, typer.Option(help="Organisations simulated by the generator.")] = 5000,
    seed: Annotated[int, typer.Option(help="Seed of the world and of its mess.")] = 42,
    as_of: Annotated[str, typer.Option(help="Backtest date (YYYY-MM-DD).")] = "2023-06-30",
) -> None:
    """Make a messy export, run import, validate, backtest and retrain, record the figures."""
    maker = _maker()
    with tempfile.TemporaryDirectory(prefix="talentmap-bench-real-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        started = time.perf_counter()
        source = maker.build_source(seed, orgs, date(2025, 12, 31))
        files = source.write(Path(tmp) / "export")
        made = round(time.perf_counter() - started, 1)
        steps = {
            "import": _step(
                home, "import", "crunchbase2013", str(Path(tmp) / "export"), "--out", "data"
            ),
            "validate": _step(home, "validate", "data"),
            "backtest": _step(
                home, "backtest", "--data", "data", "--as-of", as_of, "--out", "backtest"
            ),
            "retrain": _step(home, "retrain", "--data", "data"),
        }
        report = json.loads((home / "data" / "import_report.json").read_text())
        metrics = json.loads((home / "backtest" / "metrics.json").read_text())
    evaluation = metrics["evaluation"]
    record = {
        "suite": "real_data",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": {
            "kind": "crunchbase2013 (messy, from a generated world)",
            "orgs_simulated": orgs,
            "seed": seed,
            "rows_written": files,
            "make_seconds": made,
            "mess": source.notes,
        },
        "import": {
            "seconds": steps["import"]["seconds"],
            "snapshot_date": report["snapshot_date"],
            "tables": {
                name: {k: t[k] for k in ("read", "mapped", "repaired", "dropped")}
                for name, t in report["tables"].items()
            },
            "written": report["written"],
            "validator_would_still_reject": report["validation"]["problems_by_rule"],
        },
        "validate": {
            "seconds": steps["validate"]["seconds"],
            "verdict": steps["validate"]["last_line"],
        },
        "backtest": {
            "seconds": steps["backtest"]["seconds"],
            "as_of": as_of,
            "training_rows": metrics["training"]["rows"],
            "training_dates": metrics["training"]["n_as_of_dates"],
            "candidates": evaluation["n"],
            "positives": evaluation["n_positive"],
            "base_rate": evaluation["base_rate"],
            "scorers": {
                name: {m: report_[m] for m in SHOWN}
                for name, report_ in evaluation["scorers"].items()
            },
        },
        "retrain": {
            "seconds": steps["retrain"]["seconds"],
            "outcome": steps["retrain"]["last_line"],
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    _print(record)


def _print(record: dict[str, Any]) -> None:
    console = Console()
    counts = Table("source table", "read", "mapped", "repaired", "dropped", title="import")
    for name, t in record["import"]["tables"].items():
        counts.add_row(name, *(f"{t[k]:,}" for k in ("read", "mapped", "repaired", "dropped")))
    console.print(counts)
    console.print(f"validate: {record['validate']['verdict']}")
    backtest = record["backtest"]
    scores = Table(
        "scorer",
        *SHOWN,
        title=(
            f"backtest at {backtest['as_of']}: {backtest['candidates']:,} candidates, "
            f"base rate {backtest['base_rate']:.3f}"
        ),
    )
    for name, values in backtest["scorers"].items():
        scores.add_row(name, *(f"{values[m]:.3f}" for m in SHOWN))
    console.print(scores)
    console.print(f"retrain: {record['retrain']['outcome']}")
    seconds = {k: record[k]["seconds"] for k in ("import", "validate", "backtest", "retrain")}
    console.print(f"wall time (s): make {record['source']['make_seconds']}, {seconds}")
    console.print(f"written to {RESULTS}")


if __name__ == "__main__":
    typer.run(main)
