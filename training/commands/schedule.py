"""``talentmap schedule``: run ``retrain`` in-process on a cron schedule.

Redirected (systemd, ``> file``), it writes JSON lines (``talentmap.logs``): a ``wait``
line with the next due time, one line per retrain step, and a ``retrain`` line per run
with its outcome (``ok``, ``skipped`` or ``failed`` with the ``reason``).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from talentmap import logs
from talentmap.settings import get_settings

console = Console()
logger = logging.getLogger("talentmap.schedule")


def schedule_command(
    cron: Annotated[
        str | None, typer.Option(help="Cron expression in UTC (default: retrain.cron).")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Data directory (default: retrain.data_dir).")
    ] = None,
    max_runs: Annotated[
        int | None, typer.Option(help="Stop after this many runs (default: run forever).")
    ] = None,
    tune_budget: Annotated[
        float | None,
        typer.Option(
            "--tune-budget",
            min=0,
            metavar="SECONDS",
            help="Seconds each retrain may spend on a hyperparameter search before fitting, "
            "as `retrain --tune-budget` (default: retrain.tune_budget_seconds, 0 = off).",
        ),
    ] = None,
) -> None:
    """Run `retrain` in-process on a cron schedule; a failed run is reported, not fatal.

    Each run passes retrain.tune_budget_seconds (or --tune-budget) to retrain: with a
    budget it searches hyperparameters first and keeps the searched values only if they
    beat the configured ones.
    """
    from croniter import croniter

    from talentmap.training.pipeline.retrain import RetrainBusyError, RetrainError, retrain

    with logs.structured_output("schedule") as structured:
        settings = get_settings()
        expression = cron or settings.retrain.cron
        if not croniter.is_valid(expression):
            raise typer.BadParameter(f"not a valid cron expression: {expression!r}")
        data_dir = data or settings.path(settings.retrain.data_dir)
        budget = settings.retrain.tune_budget_seconds if tune_budget is None else tune_budget
        schedule = croniter(expression, datetime.now(UTC))
        runs = 0
        while max_runs is None or runs < max_runs:
            due = schedule.get_next(datetime)
            if structured:
                logger.info(
                    "next retrain at %s",
                    due.isoformat(),
                    extra={"step": "wait", "due": due.isoformat(), "cron": expression},
                )
            else:
                console.print(f"Next retrain at {due:%Y-%m-%d %H:%M} UTC ({expression})")
            time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
            runs += 1
            clock = logs.StepClock(logger)
            started = time.perf_counter()
            try:
                outcome = retrain(
                    settings,
                    data_dir,
                    on_step=clock.begin if structured else None,
                    on_facts=clock.note if structured else None,
                    tune_budget_seconds=budget,
                )
            except (RetrainError, RetrainBusyError) as failure:
                if structured:
                    if clock.current is None:  # refused before the first step (the lock)
                        clock.begin("lock")
                    clock.fail(str(failure))
                    _run_line(runs, started, "failed", str(failure))
                else:
                    console.print(f"[red]✗[/] {datetime.now(UTC):%H:%M:%S} {failure}")
                continue
            if structured:
                clock.end()
                _run_line(runs, started, "skipped" if outcome.skipped else "ok", outcome.reason)
            else:
                console.print(f"[green]✓[/] {datetime.now(UTC):%H:%M:%S} {outcome.reason}")


def _run_line(run: int, started: float, outcome: str, reason: str) -> None:
    logger.log(
        logging.ERROR if outcome == "failed" else logging.INFO,
        "retrain run %d %s",
        run,
        outcome,
        extra={
            "step": "retrain",
            "run": run,
            "duration_s": round(time.perf_counter() - started, 3),
            "outcome": outcome,
            "reason": " ".join(reason.split()),
        },
    )
