"""``talentmap schedule``: run ``retrain`` in-process on a cron schedule."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from talentmap.settings import get_settings

console = Console()


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
        console.print(f"Next retrain at {due:%Y-%m-%d %H:%M} UTC ({expression})")
        time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
        runs += 1
        try:
            outcome = retrain(settings, data_dir, tune_budget_seconds=budget)
            console.print(f"[green]✓[/] {datetime.now(UTC):%H:%M:%S} {outcome.reason}")
        except (RetrainError, RetrainBusyError) as failure:
            console.print(f"[red]✗[/] {datetime.now(UTC):%H:%M:%S} {failure}")
