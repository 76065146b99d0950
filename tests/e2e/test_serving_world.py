"""A real serving world for the serving and web-page tests, and the server they talk to.

No test lives here: the module prepares, once per session, a small generated world that
went through the real pipeline (``training.train.train``: ingest, features, backtest,
MLflow run, registered challenger; then the promotion gate and materialization) in a temporary home, and starts the real
BentoML server (``talentmap serve`` in a subprocess) on a free loopback port. Both
``test_serving.py`` and ``test_web_page.py`` use ``serving_server`` from here; it is
memoised in this module so one session starts one server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from talentmap.features.store import materialize
from talentmap.generate.world import generate_world
from talentmap.lake import Lake
from talentmap.serving.auth import hash_key
from talentmap.settings import Settings
from talentmap.settings.model import ModelConfig
from talentmap.settings.training import TrainingConfig
from talentmap.training.pipeline.train import train
from talentmap.training.tracking.registry import promote
from talentmap.training.tracking.target import activate, resolve_target

WORLD_ORGS, WORLD_SEED = 600, 23
STAFF_KEY = "staff-key-for-tests-only-0123456789abcdef"
ADMIN_KEY = "admin-key-for-tests-only-0123456789abcdef"
READY_TIMEOUT_S = 240


@dataclass
class ServingWorld:
    home: Path
    settings: Settings
    env: dict[str, str]

    @property
    def audit_path(self) -> Path:
        return self.home / "data" / "audit" / "shortlists.jsonl"


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    world: ServingWorld
    log_path: Path
    seconds_to_ready: float


def _settings(home: Path, seed: int = 0) -> Settings:
    return Settings(
        home=home,
        training=TrainingConfig(model=ModelConfig(num_threads=1, seed=seed)),
    )


def _with_an_org_opt_out(data: Path) -> None:
    """Opt-out tests need both kinds, but a small world draws company opt-outs at 0.5 %
    (about 3 in 600 companies) and may hold none: then the company with the most rounds,
    a likely candidate, opts out (dated after the GDPR, before the snapshot)."""
    path = data / "opt_outs.csv"
    opt_outs = pd.read_csv(path, dtype=str, keep_default_na=False)
    if (opt_outs["subject_kind"] == "org").any():
        return
    rounds = pd.read_csv(data / "funding_rounds.csv", dtype=str, keep_default_na=False)
    busiest = rounds.groupby("org_id").size().sort_index().idxmax()
    row = pd.DataFrame([{"subject_kind": "org", "subject_id": busiest, "since": "2019-01-01"}])
    pd.concat([opt_outs, row], ignore_index=True).to_csv(path, index=False)


def prepare_world(
    home: Path, orgs: int = WORLD_ORGS, seed: int = WORLD_SEED, poll_seconds: float = 2
) -> ServingWorld:
    """Generate, then the real pipeline: ``train`` (ingest, features, backtest at the latest
    labelled window, MLflow run, registered challenger), the promotion gate, materialize."""
    data = home / "world"
    generate_world(data, orgs, seed)
    _with_an_org_opt_out(data)
    settings = _settings(home)
    train(settings, data, home / "train-1")
    decision = promote(resolve_target(settings), margin=0.0)
    assert decision.promoted, decision.reason
    snapshot_date = Lake(settings.lake_dir).latest().snapshot_date
    materialize(settings, snapshot_date)
    keys = [
        {"name": "staff-tester", "role": "staff", "sha256": hash_key(STAFF_KEY)},
        {"name": "admin-tester", "role": "admin", "sha256": hash_key(ADMIN_KEY)},
    ]
    env = {
        "TALENTMAP_HOME": str(home),
        "TALENTMAP_SERVING__API_KEYS": json.dumps(keys),
        "TALENTMAP_SERVING__RELOAD_POLL_SECONDS": str(poll_seconds),
        "TALENTMAP_SERVING__MAX_BODY_BYTES": "4096",
        # The tests hammer one key from many threads; the limiter has its own server and
        # tests (test_serving_ops.py).
        "TALENTMAP_SERVING__RATE_LIMIT_PER_MINUTE": "0",
        "TALENTMAP_TRAINING__MODEL__NUM_THREADS": "1",
        "BENTOML_HOME": str(home / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "True",
    }
    return ServingWorld(home, settings, env)


def train_second_version(world: ServingWorld) -> str:
    """Another model (trees only, other seed and shape) registered as challenger; its version.

    Trees only: on this small world the scorer selection may serve the logistic regression,
    which another tree shape would not change, and the tests need two different rankings.
    """
    settings = Settings(
        home=world.home,
        training=TrainingConfig(
            model=ModelConfig(
                num_threads=1, seed=7, num_leaves=7, learning_rate=0.1, scorer="lightgbm"
            )
        ),
    )
    run = train(settings, world.home / "world", world.home / "train-2")
    assert run.logged.model_version is not None
    return run.logged.model_version


def move_champion(world: ServingWorld, version: str) -> None:
    """Point @champion at ``version`` (the event a reload must pick up)."""
    target = resolve_target(world.settings)
    with activate(target) as client:
        client.set_registered_model_alias(target.registered_model, "champion", version)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(world: ServingWorld, log_path: Path) -> Server:
    """``talentmap serve`` on a free loopback port; returns once /readyz says ready."""
    port = free_port()
    env = {**os.environ, **world.env}
    log = log_path.open("wb")
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "talentmap.serving.commands.serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        cwd=world.home,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    # Each answer comes from whichever worker accepts: with several workers, one ready
    # answer says nothing of the others, so ask until enough answers in a row are ready.
    workers = int(env.get("TALENTMAP_SERVING__WORKERS", "1"))
    needed, in_a_row = 1 + 8 * (workers - 1), 0
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text(errors='replace')}")
        try:
            ready = httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            ready = False
        in_a_row = in_a_row + 1 if ready else 0
        if in_a_row >= needed:
            return Server(url, process, world, log_path, time.perf_counter() - started)
        time.sleep(0.5 if not ready else 0.05)
    stop_server(process)
    raise RuntimeError(f"server not ready in time:\n{log_path.read_text(errors='replace')}")


def wait_confirmed(url: str, log_path: Path, timeout: float = READY_TIMEOUT_S) -> dict[str, Any]:
    """Poll ``/model`` until the registry has confirmed the champion; its answer.

    A worker answers from the published ranking as soon as it is mapped (``source`` =
    "published"), and asks the registry right after (issue 10's fast start): a test
    that checks what the registry says waits for that answer, however slow the machine.
    """
    headers = {"Authorization": f"Bearer {STAFF_KEY}"}
    deadline = time.monotonic() + timeout
    model: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = httpx.get(f"{url}/model", headers=headers, timeout=10)
        model = response.json() if response.status_code == 200 else {}
        if model.get("source") not in (None, "published"):
            return model
        time.sleep(0.2)
    raise RuntimeError(
        f"the registry never confirmed the champion: {model}\n"
        f"{log_path.read_text(errors='replace')[-5000:]}"
    )


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


_SERVER: Server | None = None


def serving_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Server:
    """The session's server (started on first use, stopped at the end of the session)."""
    global _SERVER
    if _SERVER is None:
        home = tmp_path_factory.mktemp("serving-home")
        world = prepare_world(home)
        _SERVER = start_server(world, home / "server.log")
        server = _SERVER
        wait_confirmed(server.url, server.log_path)

        def finish() -> None:
            global _SERVER
            stop_server(server.process)
            _SERVER = None

        request.addfinalizer(finish)  # the callers are session-scoped fixtures
    return _SERVER
