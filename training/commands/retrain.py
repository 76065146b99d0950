"""``talentmap retrain``: the whole locked chain, safe to run from cron.

On a terminal it shows rich's status line; when the output is redirected (cron, systemd)
it writes JSON lines instead (``talentmap.logs``): one per step with ``step``,
``duration_s``, ``rows`` where known and ``outcome``, the failed step's ``reason``, and a
last ``retrain`` line with the verdict.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from talentmap import logs
from talentmap.cli_options import PolicyOption
from talentmap.settings import get_settings
from talentmap.training.commands.failures import Debug, exit_code_of, one_line, reported

console = Console()
logger = logging.getLogger("talentmap.retrain")


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
    settings = get_settings().with_policy(policy)
    data_dir = data or settings.path(settings.retrain.data_dir)
    budget = settings.retrain.tune_budget_seconds if tune_budget is None else tune_budget
    with logs.structured_output("retrain") as structured, logs.text_progress(not structured):
        if structured:
            _retrain_logged(settings, data_dir, force, debug, budget)
        else:
            _retrain_on_terminal(settings, data_dir, force, debug, budget)


def _retrain_on_terminal(
    settings: Any, data_dir: Path, force: bool, debug: bool, budget: float
) -> None:
    from talentmap.training.pipeline.retrain import retrain

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


def _retrain_logged(settings: Any, data_dir: Path, force: bool, debug: bool, budget: float) -> None:
    """The same run, as JSON lines: one per step, then the verdict (or the failure)."""
    from talentmap.training.pipeline.retrain import retrain

    clock = logs.StepClock(logger)
    started = time.perf_counter()
    try:
        outcome = retrain(
            settings,
            data_dir,
            force=force,
            on_step=clock.begin,
            on_facts=clock.note,
            tune_budget_seconds=budget,
        )
    except Exception as failure:
        if clock.current is None:  # refused before the first step (the lock)
            clock.begin("lock")
        clock.fail(one_line("retrain", failure))
        if debug:
            raise
        raise typer.Exit(code=exit_code_of(failure)) from None
    clock.end()
    summary = {
        "step": "retrain",
        "duration_s": round(time.perf_counter() - started, 3),
        "outcome": "skipped" if outcome.skipped else "ok",
        "reason": outcome.reason,
        "snapshot_id": outcome.snapshot_id,
    }
    if not outcome.skipped:
        summary |= {
            "model_version": outcome.model_version,
            "run_id": outcome.run_id,
            "promoted": outcome.promoted,
            "decision": outcome.decision_reason,
        }
        if outcome.tuning is not None:
            summary["tuning"] = outcome.tuning.card_note()
    logger.info("retrain %s", summary["outcome"], extra=summary)
