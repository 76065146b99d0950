"""The scaling benchmark's outside measurement: each step gets its own peak, not the max so far."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

# The benchmarks are a folder at the repository root, not an installed package.
sys.path.insert(0, str(Path(__file__).parents[2]))

from benchmarks.scale import _run_measured, plot

pytestmark = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux only")

# A child that logs two steps like `talentmap retrain` does: a big one, then a small one.
CHILD = """
import json, sys, time
def line(step, seconds):
    print(json.dumps({"step": step, "duration_s": seconds}), file=sys.stderr, flush=True)
big = bytearray(400 * 2**20)
big[:: 4096] = b"x" * len(big[:: 4096])
del big
time.sleep(0.3)
line("big", 0.3)
time.sleep(1.5)  # the parent resets the peak after reading the line
small = bytearray(20 * 2**20)
small[:: 4096] = b"x" * len(small[:: 4096])
line("small", 1.5)
time.sleep(0.3)
line("whole", 2.0)
"""


def test_each_step_gets_its_own_peak(tmp_path: Path) -> None:
    record = _run_measured(
        "whole", [sys.executable, "-c", CHILD], dict(os.environ), tmp_path, kill_mb=10_000
    )
    assert record["returncode"] == 0
    steps = {s["step"]: s for s in record["steps"]}
    assert set(steps) == {"big", "small"}  # the command's own summary line is not a step
    assert steps["big"]["peak_rss_mb"] > 400
    assert steps["small"]["peak_rss_mb"] < 200  # the 400 MB of the first step were reset
    assert record["peak_rss_mb"] >= steps["big"]["peak_rss_mb"]


def test_a_command_over_the_limit_is_killed(tmp_path: Path) -> None:
    hog = (
        "import time\nb = bytearray(600 * 2**20)\nb[::4096] = b'x' * len(b[::4096])\ntime.sleep(30)"
    )
    record = _run_measured("hog", [sys.executable, "-c", hog], dict(os.environ), tmp_path, 300)
    assert "killed" in record
    assert record["returncode"] != 0


def test_plot_writes_a_png(tmp_path: Path) -> None:
    def command(name: str, seconds: float, peak: float) -> dict:
        step = {"step": name, "seconds": seconds, "peak_rss_mb": peak}
        return {"command": name, "seconds": seconds, "peak_rss_mb": peak, "steps": [step]}

    sizes = [
        {"orgs": n, "commands": [command("generate", n / 1e3, n / 50), command("retrain", n, n)]}
        for n in (10_000, 100_000)
    ]
    out = tmp_path / "scale.png"
    plot(sizes, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    json.dumps(sizes)  # the records the JSON file holds are plain data
