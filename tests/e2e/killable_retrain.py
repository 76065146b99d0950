"""Retrains that die by SIGKILL at a chosen point: the subprocesses of the fault tests.

SIGKILL cannot be caught: no ``finally``, no ``except``, no ``atexit`` runs, exactly as
when the OOM killer or ``kill -9`` stops a cron job mid-run. Two ways to die:

- ``kill_at=STEP``: the process sends itself SIGKILL as soon as ``retrain``'s ``on_step``
  hook announces STEP, i.e. after every earlier step has done all its work and before
  STEP does any (deterministic, unlike a kill from outside racing a fast step);
- ``ingest_writes=N``: SIGKILL once the lake's ingest has written N Parquet files into
  its staging folder, in the middle of the ingest step.

With neither, the retrain runs to its end (the "next retrain" of the tests).

Importing MLflow, Feast and LightGBM takes most of a short retrain's time, so the tests
start one ``Zygote``: a process that imports them once (and does nothing else: no
thread, no open store) and then forks one child per retrain. Each child is a separate
process with its own pid, killed for real.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from talentmap.settings import Settings
from talentmap.settings.model import ModelConfig
from talentmap.settings.training import TrainingConfig

HERE = Path(__file__).resolve()


def fault_settings(home: Path) -> Settings:
    """The settings of a fault-test home (one LightGBM thread: deterministic and light)."""
    return Settings(home=home, training=TrainingConfig(model=ModelConfig(num_threads=1)))


@dataclass(frozen=True)
class ChildResult:
    pid: int
    killed: bool  # died of SIGKILL
    exit_code: int | None
    marker: str | None  # where it died, as it wrote just before


def _die(marker: Path, where: str) -> None:
    marker.write_text(where, encoding="utf-8")
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_in_ingest(after_writes: int, marker: Path) -> None:
    from talentmap import ingest as ingest_module

    real = ingest_module.write_parquet
    written = {"n": 0}

    def write_then_maybe_die(frame: Any, table: str, path: Path) -> None:
        real(frame, table, path)
        written["n"] += 1
        if written["n"] >= after_writes:
            _die(marker, f"ingest:{path.parent.parent.name}")  # the staging folder

    ingest_module.write_parquet = write_then_maybe_die  # type: ignore[assignment]


def run_child(job: dict[str, Any]) -> None:
    """Body of a forked child: one retrain, maybe killed; never returns."""
    code = 0
    try:
        log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        from talentmap.training.pipeline.retrain import retrain

        marker = Path(job["marker"])
        if job.get("ingest_writes"):
            _kill_in_ingest(int(job["ingest_writes"]), marker)

        def on_step(step: str) -> None:
            if step == job.get("kill_at"):
                _die(marker, step)

        outcome = retrain(
            fault_settings(Path(job["home"])), Path(job["data"]), force=True, on_step=on_step
        )
        print(f"retrained: {outcome.reason}; promoted={outcome.promoted}", flush=True)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> None:
    """The zygote: import once, then fork a child per JSON job read from stdin."""

    print("ready", flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:
            run_child(job)
        _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        print(json.dumps({"pid": pid, "killed": killed, "exit_code": code}), flush=True)


class Zygote:
    """The parent's handle on a zygote process."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, str(HERE), "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log.open("ab"),
            text=True,
        )
        first = self.process.stdout.readline().strip() if self.process.stdout else ""
        if first != "ready":
            raise RuntimeError(f"zygote failed to start: {first!r}; see {log}")

    def retrain(
        self,
        home: Path,
        data: Path,
        marker: Path,
        kill_at: str | None = None,
        ingest_writes: int | None = None,
    ) -> ChildResult:
        assert self.process.stdin is not None and self.process.stdout is not None
        marker.unlink(missing_ok=True)
        job = {
            "home": str(home),
            "data": str(data),
            "marker": str(marker),
            "kill_at": kill_at,
            "ingest_writes": ingest_writes,
            "log": str(self.log),
        }
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        where = marker.read_text(encoding="utf-8") if marker.exists() else None
        return ChildResult(answer["pid"], answer["killed"], answer["exit_code"], where)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    else:
        sys.exit("usage: killable_retrain.py serve   (jobs as JSON lines on stdin)")
