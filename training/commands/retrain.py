"""``talentmap retrain``: the whole locked chain, safe to run from cron."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from talentmap.cli_options import PolicyOption
from talentmap.settings import get_settings

console = Console()


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
    from talentmap.training.pipeline.retrain import RetrainBusyError, RetrainError, retrain

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
