"""``talentmap train``: one training run, registered as challenger."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from talentmap.settings import get_settings
from talentmap.training.commands.failures import Debug, reported

console = Console()


def train_command(
    data: Annotated[Path, typer.Option(help="Data directory that follows the contract.")],
    out: Annotated[
        Path | None, typer.Option(help="Where to write predictions.csv and metrics.json.")
    ] = None,
    debug: Debug = False,
) -> None:
    """Train on the latest fully labelled window, log to MLflow, register the challenger.

    Exit codes: 0 done, 1 refused (e.g. a corrupt lake file), 65 unusable data (too few
    rows or positives; the message says what to change), 70 internal error.
    """
    from talentmap.training.pipeline.train import train

    settings = get_settings()
    out_dir = out or settings.path(settings.retrain.runs_dir) / "manual"
    with (
        reported("train", debug),
        console.status("[bold]Training (ingest, features, backtest, MLflow)…"),
    ):
        run = train(settings, data, out_dir)
    _print_training(run.logged.model_version, run.logged.run_id, run.backtest.metrics)


def _print_training(version: str | None, run_id: str, metrics: dict) -> None:
    scorers = metrics["evaluation"].get("scorers", {})
    console.print(f"[green]✓[/] registered talent-promise v{version} as challenger (run {run_id})")
    for name, report in scorers.items():
        console.print(
            f"  {name:<20} AUC-PR {report.get('auc_pr')}  precision@100 "
            f"{report.get('precision@100')}  lift@100 {report.get('lift@100')}"
        )
