"""Scaling curve (issue 10 §2): time and peak memory per step at 10k, 100k (and 1M) organisations.

Runs the two commands the issue names, as an operator would, each in its own process:

    talentmap generate --orgs N --out WORLD
    talentmap retrain --data WORLD

and measures them from outside. ``retrain`` runs its chain in one process (ingest, build,
materialize, train, promote, publish), so the per-step peak comes from the kernel: the
process's high-water mark (``VmHWM`` in ``/proc/PID/status``) is read when the command
logs the end of a step (its JSON lines on stderr) and then reset by writing ``5`` to
``/proc/PID/clear_refs``. The command's peak is the largest step peak. A poller also
sums the resident memory of the whole process tree twice a second; above ``--kill-gb``
the run is killed (the machine is shared), and the record says at which step.

    python -m benchmarks.scale [--sizes 10000 --sizes 100000] [--with-1m] [--kill-gb 10]

Writes ``benchmarks/results/scale.json`` and ``benchmarks/results/scale.png``.
Linux only (``/proc``).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import psutil
import typer
from rich.console import Console
from rich.table import Table

RESULTS_DIR = Path(__file__).parent / "results"
ONE_MILLION = 1_000_000
# The limits for the 1M run, per command.
LIMIT_PEAK_GB = 8.0
LIMIT_MINUTES = 60.0
console = Console()
app = typer.Typer(add_completion=False)


def _talentmap() -> str:
    """The ``talentmap`` entry point next to this interpreter."""
    return str(Path(sys.executable).with_name("talentmap"))


def _status_kb(pid: int, key: str) -> int:
    """A ``kB`` field of ``/proc/PID/status`` (0 once the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _reset_peak(pid: int) -> None:
    """Reset the process's peak RSS (VmHWM), so the next reading is the next step's."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as clear:
            clear.write("5")
    except (FileNotFoundError, ProcessLookupError):
        pass


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


@dataclass
class _Watch:
    """What the poller saw of one command."""

    pid: int
    kill_mb: float
    step_started: float = field(default_factory=time.perf_counter)
    tree_peak_mb: float = 0.0
    killed_at_mb: float | None = None
    current_step: str = "start"


def _run_measured(
    name: str, command: list[str], env: dict[str, str], cwd: Path, kill_mb: float
) -> dict:
    """Run one command; per-step wall time and peak RSS from its step lines on stderr."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, so a kill takes the whole tree
    )
    watch = _Watch(proc.pid, kill_mb)
    steps: list[dict] = []
    tail: list[str] = []

    def read_steps() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            tail.append(line)
            del tail[:-40]
            try:
                record = json.loads(line)
            except ValueError:
                continue
            step = record.get("step")
            if not step or "duration_s" not in record or step == name:
                continue
            peak_mb = _status_kb(proc.pid, "VmHWM") / 1024
            _reset_peak(proc.pid)
            steps.append(
                {
                    "step": step,
                    "seconds": record["duration_s"],
                    "peak_rss_mb": round(max(peak_mb, watch.tree_peak_mb), 1),
                    "outcome": record.get("outcome"),
                    **({"rows": record["rows"]} if "rows" in record else {}),
                }
            )
            watch.tree_peak_mb = 0.0
            # Live, so that a long run (1M) shows how far it got even if it is stopped.
            console.print(
                f"[dim]  {name} {step}: {record['duration_s']:.1f} s, "
                f"peak {steps[-1]['peak_rss_mb']:,.0f} MB[/]"
            )

    reader = threading.Thread(target=read_steps, daemon=True)
    reader.start()
    while proc.poll() is None:
        rss = _tree_rss_mb(proc.pid)
        watch.tree_peak_mb = max(watch.tree_peak_mb, rss)
        if rss > kill_mb and watch.killed_at_mb is None:
            watch.killed_at_mb = rss
            os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(0.5)
    reader.join(timeout=10)
    seconds = time.perf_counter() - started
    final_peak = watch.tree_peak_mb
    record: dict = {
        "command": name,
        "argv": ["talentmap", *command[1:]],
        "seconds": round(seconds, 1),
        "returncode": proc.returncode,
        "steps": steps,
    }
    peaks = [s["peak_rss_mb"] for s in steps] + [final_peak]
    record["peak_rss_mb"] = round(max(peaks), 1)
    if steps and proc.returncode != 0:  # killed or failed mid-step: what it used until then
        done_s = sum(s["seconds"] for s in steps)
        record["steps"].append(
            {
                "step": "unfinished (after the last step line)",
                "seconds": round(seconds - done_s, 1),
                "peak_rss_mb": round(final_peak, 1),
            }
        )
    if not steps:  # generate logs no steps: the whole command is one step
        record["steps"] = [
            {"step": name, "seconds": record["seconds"], "peak_rss_mb": record["peak_rss_mb"]}
        ]
    if watch.killed_at_mb is not None:
        done = {s["step"] for s in steps}
        record["killed"] = (
            f"killed above {kill_mb / 1024:.1f} GB ({watch.killed_at_mb / 1024:.1f} GB) "
            f"after the steps {sorted(done) or 'none'}"
        )
    elif proc.returncode != 0:
        record["error"] = "".join(tail)[-3000:]
    return record


def measure_size(n: int, root: Path, kill_gb: float, fmt: str) -> dict:
    """Generate an N-organisation world, then retrain on it, in a fresh home."""
    home, world = root / f"home-{n}", root / f"world-{n}"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "TALENTMAP_HOME": str(home),
        "TALENTMAP_CONFIG": str(home / "talentmap.toml"),  # none: the defaults
        "TALENTMAP_LOG_FORMAT": "json",
    }
    kill_mb = kill_gb * 1024
    size: dict = {"orgs": n, "commands": []}
    console.print(f"[dim]{n:,} organisations: generate…[/]")
    generate = [_talentmap(), "generate", "--orgs", str(n), "--out", str(world), "--format", fmt]
    size["commands"].append(_run_measured("generate", generate, env, home, kill_mb))
    if size["commands"][-1]["returncode"] == 0:
        console.print(f"[dim]{n:,} organisations: retrain…[/]")
        retrain = [_talentmap(), "retrain", "--data", str(world)]
        size["commands"].append(_run_measured("retrain", retrain, env, home, kill_mb))
    size["disk_mb"] = {
        "world": round(_du(world) / 2**20, 1),
        "home": round(_du(home) / 2**20, 1),
    }
    size["within_issue_limits"] = all(
        c["returncode"] == 0
        and c["peak_rss_mb"] <= LIMIT_PEAK_GB * 1024
        and c["seconds"] <= LIMIT_MINUTES * 60
        for c in size["commands"]
    )
    return size


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def _print(sizes: list[dict]) -> None:
    table = Table(title="Scaling curve (issue 10 §2)")
    for column in ("orgs", "command", "step", "seconds", "peak MB"):
        table.add_column(column, justify="left" if column in ("command", "step") else "right")
    for size in sizes:
        for command in size["commands"]:
            for step in command["steps"]:
                table.add_row(
                    f"{size['orgs']:,}",
                    command["command"],
                    step["step"],
                    f"{step['seconds']:.1f}",
                    f"{step['peak_rss_mb']:,.0f}",
                )
            table.add_row(
                f"{size['orgs']:,}",
                command["command"],
                "[bold]whole command[/]"
                + (" [red]killed[/]" if "killed" in command else "")
                + (" [red]failed[/]" if "error" in command else ""),
                f"{command['seconds']:.1f}",
                f"{command['peak_rss_mb']:,.0f}",
            )
    console.print(table)


def plot(sizes: list[dict], out: Path) -> None:
    """Two panels, time and peak memory against organisations, one line per step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, list[tuple[int, float, float]]] = {}
    for size in sizes:
        for command in size["commands"]:
            for step in command["steps"]:
                label = step["step"] if command["command"] == "retrain" else command["command"]
                series.setdefault(label, []).append(
                    (size["orgs"], step["seconds"], step["peak_rss_mb"] / 1024)
                )
            if command["command"] == "retrain":
                series.setdefault("retrain (whole)", []).append(
                    (size["orgs"], command["seconds"], command["peak_rss_mb"] / 1024)
                )
    fig, (ax_time, ax_mem) = plt.subplots(1, 2, figsize=(12, 5))
    for label, points in series.items():
        xs = [p[0] for p in points]
        style = {"linewidth": 2.5, "color": "black"} if label == "retrain (whole)" else {}
        ax_time.plot(xs, [p[1] for p in points], marker="o", label=label, **style)
        ax_mem.plot(xs, [p[2] for p in points], marker="o", label=label, **style)
    ax_time.axhline(LIMIT_MINUTES * 60, color="red", linestyle="--", label="60 min limit")
    ax_mem.axhline(LIMIT_PEAK_GB, color="red", linestyle="--", label="8 GB limit")
    for ax, title, unit in ((ax_time, "wall time", "seconds"), (ax_mem, "peak RSS", "GB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("organisations")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    ax_mem.legend(fontsize=8, loc="upper left")
    fig.suptitle("talentmap generate + retrain, per step")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


@app.command()
def main(
    sizes: Annotated[
        list[int] | None, typer.Option(help="World sizes in organisations (repeatable).")
    ] = None,
    with_1m: Annotated[
        bool, typer.Option("--with-1m", help="Also run one million organisations (~1 h).")
    ] = False,
    kill_gb: Annotated[
        float, typer.Option(help="Kill a command whose process tree exceeds this (GB).")
    ] = 10.0,
    fmt: Annotated[str, typer.Option("--format", help="generate's file format.")] = "csv",
    keep: Annotated[
        Path | None, typer.Option(help="Keep the worlds and homes in this folder.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Results JSON.")] = RESULTS_DIR / "scale.json",
) -> None:
    """Run generate + retrain per size; write the JSON and the PNG."""
    chosen = sorted(set(sizes or [10_000, 100_000]) | ({ONE_MILLION} if with_1m else set()))
    root = keep or Path(tempfile.mkdtemp(prefix="talentmap-scale-"))
    results: list[dict] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        for n in chosen:
            results.append(measure_size(n, root, kill_gb, fmt))
            payload = {
                "suite": "scale",
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
                },
                "limits": {"peak_gb_per_command": LIMIT_PEAK_GB, "minutes": LIMIT_MINUTES},
                "method": "per-step VmHWM read at each step line, then reset via clear_refs",
                "results": results,
            }
            out.write_text(json.dumps(payload, indent=2))  # after each size: partial runs count
            plot(results, out.with_suffix(".png"))
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
    _print(results)
    console.print(f"Written to {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    app()
