"""Long-running local servers started for a user (by ``make demo``) and stopped on request.

Each server runs detached in its own session, with its pid and log under one folder,
so ``make stop`` (``talentmap stop``) can end exactly what the demo started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx


def _pid_file(folder: Path, name: str) -> Path:
    return folder / f"{name}.pid"


def running_pid(folder: Path, name: str) -> int | None:
    """The pid of ``name`` if its pid file names a live process."""
    path = _pid_file(folder, name)
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def start(
    folder: Path, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None
) -> int:
    """Start ``argv`` detached; its output goes to ``<folder>/<name>.log``."""
    folder.mkdir(parents=True, exist_ok=True)
    log = (folder / f"{name}.log").open("ab")
    process = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,  # survives the terminal; stopped as a group
    )
    _pid_file(folder, name).write_text(str(process.pid))
    return process.pid


def stop(folder: Path, name: str, grace_seconds: float = 10.0) -> bool:
    """Stop ``name``'s process group: SIGTERM, then SIGKILL after the grace period."""
    pid = running_pid(folder, name)
    if pid is None:
        _pid_file(folder, name).unlink(missing_ok=True)
        return False
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline and running_pid(folder, name) is not None:
        time.sleep(0.2)
    if running_pid(folder, name) is not None:
        os.killpg(pid, signal.SIGKILL)
    _pid_file(folder, name).unlink(missing_ok=True)
    return True


def wait_http(url: str, timeout_seconds: float, ok_status: int = 200) -> bool:
    """Poll ``url`` until it answers ``ok_status`` or the time runs out."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2.0).status_code == ok_status:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False
