"""``talentmap train``, ``retrain``, ``schedule`` and ``mlflow-ui``: the data team's commands."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from talentmap.commands.options import PolicyOption
from talentmap.settings import get_settings

console = Console()


def register(app: typer.Typer) -> None:
    """Add the retraining commands to the application."""
    app.command("train")(train_command)
    app.command("retrain")(retrain_command)
    app.command("schedule")(schedule_command)
    app.command("mlflow-ui")(mlflow_ui_command)


def train_command(
    data: Annotated[Path, typer.Option(help="Data directory that follows the contract.")],
    out: Annotated[
        Path | None, typer.Option(help="Where to write predictions.csv and metrics.json.")
    ] = None,
) -> None:
    """Train on the latest fully labelled window, log to MLflow, register the challenger."""
    from talentmap.training.train import train

    settings = get_settings()
    out_dir = out or settings.path(settings.retrain.runs_dir) / "manual"
    with console.status("[bold]Training (ingest, features, backtest, MLflow)…"):
        run = train(settings, data, out_dir)
    _print_training(run.logged.model_version, run.logged.run_id, run.backtest.metrics)


def retrain_command(
    data: Annotated[
        Path | None,
        typer.Option(help="Data directory to retrain from (default: retrain.data_dir)."),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Retrain even if the champion already matches the data.")
    ] = False,
    policy: PolicyOption = None,
) -> None:
    """The whole chain: ingest, validate, build, materialize, train, evaluate, promote gate.

    Safe from cron: a lock prevents two runs at once, and a failed step leaves the
    champion and the live feature store untouched (exit code 1, with the reason).
    """
    from talentmap.training.retrain import RetrainBusyError, RetrainError, retrain

    settings = get_settings().with_policy(policy)
    data_dir = data or settings.path(settings.retrain.data_dir)
    try:
        with console.status("[bold]Retraining…") as status:
            outcome = retrain(
                settings,
                data_dir,
                force=force,
                on_step=lambda step: status.update(f"[bold]Retraining: {step}…"),
            )
    except RetrainBusyError as busy:
        console.print(f"[yellow]{busy}[/]")
        raise typer.Exit(75) from busy  # EX_TEMPFAIL: cron may simply retry
    except RetrainError as failure:
        console.print(f"[red]✗ {failure}[/]")
        console.print("The champion and the live feature store are unchanged.")
        raise typer.Exit(1) from failure
    if outcome.skipped:
        console.print(f"[green]✓[/] {outcome.reason}")
        return
    verdict = "promoted to champion" if outcome.promoted else "kept as challenger"
    console.print(
        f"[green]✓[/] snapshot {outcome.snapshot_id}: model v{outcome.model_version} "
        f"(run {outcome.run_id}) {verdict}. {outcome.decision_reason}"
    )


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
) -> None:
    """Run `retrain` in-process on a cron schedule; a failed run is reported, not fatal."""
    from croniter import croniter

    from talentmap.training.retrain import RetrainBusyError, RetrainError, retrain

    settings = get_settings()
    expression = cron or settings.retrain.cron
    if not croniter.is_valid(expression):
        raise typer.BadParameter(f"not a valid cron expression: {expression!r}")
    data_dir = data or settings.path(settings.retrain.data_dir)
    schedule = croniter(expression, datetime.now(UTC))
    runs = 0
    while max_runs is None or runs < max_runs:
        due = schedule.get_next(datetime)
        console.print(f"Next retrain at {due:%Y-%m-%d %H:%M} UTC ({expression})")
        time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
        runs += 1
        try:
            outcome = retrain(settings, data_dir)
            console.print(f"[green]✓[/] {datetime.now(UTC):%H:%M:%S} {outcome.reason}")
        except (RetrainError, RetrainBusyError) as failure:
            console.print(f"[red]✗[/] {datetime.now(UTC):%H:%M:%S} {failure}")


def mlflow_ui_command(
    host: Annotated[str | None, typer.Option(help="Interface (default: tracking.ui_host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: tracking.ui_port).")] = None,
) -> None:
    """Start the MLflow server and its UI on the embedded tracking store."""
    from talentmap.training.tracking import resolve_target, ui_command

    settings = get_settings()
    target = resolve_target(settings)
    if host is not None or port is not None:
        target = replace(target, ui_host=host or target.ui_host, ui_port=port or target.ui_port)
    # The venv's own mlflow, whatever PATH says: the store was written by this version.
    command = ui_command(target, mlflow_bin=str(Path(sys.executable).parent / "mlflow"))
    console.print(f"MLflow UI: http://{target.ui_host}:{target.ui_port}")
    os.execv(command[0], command)  # the UI replaces this process: Ctrl-C stops it


def _print_training(version: str | None, run_id: str, metrics: dict) -> None:
    scorers = metrics["evaluation"].get("scorers", {})
    console.print(f"[green]✓[/] registered talent-promise v{version} as challenger (run {run_id})")
    for name, report in scorers.items():
        console.print(
            f"  {name:<20} AUC-PR {report.get('auc_pr')}  precision@100 "
            f"{report.get('precision@100')}  lift@100 {report.get('lift@100')}"
        )
