"""``talentmap retrain``: the whole locked chain, safe to run from cron."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from talentmap.cli_options import PolicyOption
from talentmap.settings import get_settings
from talentmap.training.commands.failures import Debug, reported

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
    tune_budget: Annotated[
        float | None,
        typer.Option(
            "--tune-budget",
            min=0,
            metavar="SECONDS",
            help="Before fitting, search hyperparameters for up to this many seconds on the "
            "rows about to be fitted (the [tune] space; tune.n_trials caps the trials); fit "
            "the best values only if they beat the configured ones on the search's inner "
            "evaluation. 0 = no search (default: retrain.tune_budget_seconds, 0).",
        ),
    ] = None,
    debug: Debug = False,
) -> None:
    """The whole chain: ingest, validate, build, materialize, train, evaluate, promote gate.

    Safe from cron: a lock prevents two runs at once, and a failed step leaves the
    champion and the live feature store untouched. Exit codes: 0 done (or nothing to
    do), 1 a step failed (the line names it), 65 unusable data (too few rows or
    positives, or a directory that breaks the contract), 75 another retrain holds the
    lock (cron may simply retry), 70 internal error.

    With --tune-budget (or retrain.tune_budget_seconds) the train step first runs a
    budgeted search; the choice (tuned or configured, both inner scores, trials, seconds)
    is logged to the MLflow run and metrics.json. The promotion gate is unchanged.
    """
    from talentmap.training.pipeline.retrain import retrain

    settings = get_settings().with_policy(policy)
    data_dir = data or settings.path(settings.retrain.data_dir)
    budget = settings.retrain.tune_budget_seconds if tune_budget is None else tune_budget

    def shown(step: str) -> str:
        if step == "train" and budget > 0:
            return f"train (after a hyperparameter search of up to {budget:g} s)"
        return step

    with reported("retrain", debug), console.status("[bold]Retraining…") as status:
        outcome = retrain(
            settings,
            data_dir,
            force=force,
            on_step=lambda step: status.update(f"[bold]Retraining: {shown(step)}…"),
            tune_budget_seconds=budget,
        )
    if outcome.skipped:
        console.print(f"[green]✓[/] {outcome.reason}")
        return
    verdict = "promoted to champion" if outcome.promoted else "kept as challenger"
    console.print(
        f"[green]✓[/] snapshot {outcome.snapshot_id}: model v{outcome.model_version} "
        f"(run {outcome.run_id}) {verdict}. {outcome.decision_reason}"
    )
    if outcome.tuning is not None:
        console.print(f"Tuning: {outcome.tuning.card_note()}", markup=False)
