"""``talentmap retrain`` with its output redirected to a file (as from cron or systemd): every
line is JSON, the steps are named with their durations, rows and outcome, a refused run
says why, and no ANSI code reaches the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

from talentmap.settings import Settings
from talentmap.training.pipeline.retrain import RETRAIN_STEPS

pytestmark = pytest.mark.e2e


def _run(home: Path, data: Path, log: Path) -> tuple[int, list[dict]]:
    env = {
        **os.environ,
        "TALENTMAP_HOME": str(home),
        "TALENTMAP_TRAINING__MODEL__NUM_THREADS": "1",
        "FORCE_COLOR": "",  # the file must stay free of colour whatever the caller's shell
    }
    env.pop("TALENTMAP_LOG_FORMAT", None)
    with log.open("wb") as out:
        done = subprocess.run(
            [sys.executable, "-m", "talentmap.app.cli", "retrain", "--data", str(data)],
            env=env,
            cwd=home,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=600,
        )
    text = log.read_text(encoding="utf-8")
    assert "\x1b[" not in text
    lines = [line for line in text.splitlines()]
    assert lines, "the run wrote nothing"
    return done.returncode, [json.loads(line) for line in lines]  # every line is JSON


def test_redirected_retrain_writes_json_lines_per_step(small_world: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    code, records = _run(home, small_world, tmp_path / "retrain.log")
    assert code == 0, records[-3:]
    steps = {r["step"]: r for r in records if "step" in r}
    assert set(RETRAIN_STEPS) <= set(steps), sorted(steps)
    for step in RETRAIN_STEPS:
        assert steps[step]["outcome"] == "ok" and steps[step]["duration_s"] >= 0
        assert steps[step]["command"] == "retrain"
    assert steps["ingest"]["rows"] > 0 and steps["train"]["rows"] > 0
    verdict = steps["retrain"]
    assert verdict["outcome"] == "ok" and verdict["promoted"] is True
    assert verdict["model_version"] == "1"
    # The online load says what it wrote, view by view, as JSON lines.
    loaded = [r for r in records if r.get("message", "").startswith("materialized ")]
    assert loaded and all(r["rows"] >= 0 and "view" in r for r in loaded)
    assert any(r["view"] == "profile" and r["rows"] > 0 for r in loaded)
    # No third-party deprecation noise.
    assert not any("DeprecationWarning" in r.get("message", "") for r in records)

    # A refused run (another retrain holds the lock) says which step failed and why.
    lock = Settings(home=home).retrain.lock_file
    with FileLock(str(home / lock)):
        code, records = _run(home, small_world, tmp_path / "busy.log")
    assert code == 75
    failed = [r for r in records if r.get("outcome") == "failed"]
    assert len(failed) == 1 and failed[0]["step"] == "lock"
    assert "another retrain is running" in failed[0]["reason"]
    assert failed[0]["level"] == "error"
