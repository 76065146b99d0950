"""Time and peak memory per step of ``talentmap retrain`` on an existing world.

``benchmarks.scale`` generates its worlds; this runs the same measurement (the command in
its own process, per-step peak RSS read from outside: ``VmHWM`` reset at each step line,
plus the process tree's resident memory polled twice a second) on a world already on
disk, in a fresh home, so a before/after comparison of the retrain chain reuses one world.

    python -m benchmarks.retrain_world --world /tmp/ss/w100k --out results.json

The fresh home is deleted and recreated (``--home``, a temporary folder by default).
Linux only (``/proc``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from benchmarks.scale import _run_measured, _talentmap

app = typer.Typer(add_completion=False)


@app.command()
def main(
    world: Annotated[Path, typer.Option(help="The data directory to retrain on.")],
    out: Annotated[Path, typer.Option(help="Results JSON.")],
    home: Annotated[Path | None, typer.Option(help="Fresh TALENTMAP_HOME (recreated).")] = None,
    kill_gb: Annotated[float, typer.Option(help="Kill the run above this (GB).")] = 6.0,
) -> None:
    home = home or Path(tempfile.mkdtemp(prefix="retrain-world-"))
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = {
        **os.environ,
        "TALENTMAP_HOME": str(home),
        "TALENTMAP_CONFIG": str(home / "talentmap.toml"),  # none: the defaults
        "TALENTMAP_LOG_FORMAT": "json",
    }
    command = [_talentmap(), "retrain", "--data", str(world)]
    record = _run_measured("retrain", command, env, home, kill_gb * 1024)
    record["load_average_at_end"] = list(os.getloadavg())
    record["home"] = str(home)
    out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    typer.echo(json.dumps(record, indent=1))


if __name__ == "__main__":
    app()
