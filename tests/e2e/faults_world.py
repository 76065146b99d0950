"""A small serving world for the fault, load and schema tests, prepared once per session.

No test lives here. ``pristine_world`` runs the real pipeline once (a 300-organisation
world: ingest, features, backtest, MLflow run, promotion, materialization) in a session
folder that nobody modifies; each test module takes its own ``copy_world`` of it, so one
module may break its online store or forget organisations without touching another.

A copy is self-contained for serving: settings, the lake, the online store, the Feast
registry, the MLflow database and the served-champion cache are all inside the home and
found through relative paths. Only the model artifacts of MLflow runs are recorded with
absolute paths, so a copy reads them from the pristine home, which never changes.

``launch`` starts ``talentmap serve`` without waiting for readiness (the fault tests
start servers that must *not* become ready).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from test_serving_world import (
    ServingWorld,
    _settings,
    free_port,
    prepare_world,
    stop_server,
)

FAULT_WORLD_ORGS, FAULT_WORLD_SEED = 300, 29
BOOT_TIMEOUT_S = 180

_PRISTINE: ServingWorld | None = None


def pristine_world(tmp_path_factory: pytest.TempPathFactory) -> ServingWorld:
    """The session's prepared world (built on first use); copy it, never modify it."""
    global _PRISTINE
    if _PRISTINE is None:
        _PRISTINE = _prepare_small(tmp_path_factory.mktemp("faults-pristine"))
    return _PRISTINE


def _prepare_small(home: Path) -> ServingWorld:
    """``test_serving_world.prepare_world`` on a smaller world, polling every second."""
    return prepare_world(home, FAULT_WORLD_ORGS, FAULT_WORLD_SEED, poll_seconds=1)


def copy_world(pristine: ServingWorld, home: Path) -> ServingWorld:
    """A private copy of the pristine world at ``home`` (which must not exist)."""
    shutil.copytree(pristine.home, home, symlinks=True)
    env = {**pristine.env, "TALENTMAP_HOME": str(home), "BENTOML_HOME": str(home / "bentoml")}
    return ServingWorld(home, _settings(home), env)


class Launched:
    """A ``talentmap serve`` process, ready or not."""

    def __init__(self, world: ServingWorld, log: Path, extra_env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {**os.environ, **world.env, **(extra_env or {})}
        argv = [sys.executable, "-m", "talentmap.serving.commands.serve", "--host", "127.0.0.1"]
        self.process = subprocess.Popen(
            [*argv, "--port", str(self.port)],
            env=env,
            cwd=world.home,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_up()

    def _wait_up(self) -> None:
        """Until the HTTP server answers (liveness), ready or not."""
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_text()}")
            try:
                if httpx.get(f"{self.url}/livez", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"server not up in time:\n{self.log_text()}")

    def wait_ready(self, ready: bool = True, timeout: float = BOOT_TIMEOUT_S) -> httpx.Response:
        """Poll /readyz until it says ``ready`` (200) or not (503); the last answer."""
        deadline = time.monotonic() + timeout
        last: httpx.Response | None = None
        while time.monotonic() < deadline:
            last = httpx.get(f"{self.url}/readyz", timeout=5)
            if (last.status_code == 200) == ready:
                return last
            time.sleep(0.3)
        raise AssertionError(
            f"/readyz never became {'ready' if ready else 'unready'}: "
            f"{last.status_code if last else '-'} {last.text if last else ''}\n{self.log_text()}"
        )

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        stop_server(self.process)
