"""The profile's server processes: started detached with a pid file, stopped by that pid.

Each server runs in its own session (process group), so stopping it reaches its workers
and nothing else. Only processes whose pid file this profile wrote are ever signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


def pid_file(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.pid"


def running_pid(run_dir: Path, name: str) -> int | None:
    """The pid recorded for ``name`` if that process is alive (and not a zombie)."""
    try:
        pid = int(pid_file(run_dir, name).read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return pid
    return None if status == "Z" else pid


def start(
    run_dir: Path,
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    user: str | None = None,
    cwd: Path | None = None,
) -> int:
    """Start ``argv`` detached (as ``user`` if given); output to ``<run_dir>/<name>.log``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            user=user,
            group=_group_of(user),
            extra_groups=[] if user else None,
            start_new_session=True,
        )
    pid_file(run_dir, name).write_text(str(process.pid))
    return process.pid


def _group_of(user: str | None) -> int | None:
    if user is None:
        return None
    import pwd

    return pwd.getpwnam(user).pw_gid


def stop(
    run_dir: Path, name: str, *, sig: int = signal.SIGTERM, grace_seconds: float = 30.0
) -> bool:
    """Stop ``name``'s process group with ``sig``, then SIGKILL after the grace period."""
    pid = running_pid(run_dir, name)
    if pid is None:
        pid_file(run_dir, name).unlink(missing_ok=True)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline and running_pid(run_dir, name) is not None:
        _reap(pid)
        time.sleep(0.2)
    if running_pid(run_dir, name) is not None:
        os.killpg(pid, signal.SIGKILL)
        time.sleep(0.2)
        _reap(pid)
    pid_file(run_dir, name).unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    """Collect ``pid`` if it is our own child that exited (``up`` and ``down`` in one process)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def wait_until(check: Callable[[], bool], timeout_seconds: float, interval: float = 0.3) -> bool:
    """Call ``check()`` until it returns true or the time runs out."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False
