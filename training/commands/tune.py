"""``talentmap tune``: the optional hyperparameter search; it recommends, it never deploys."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from talentmap.training.commands.failures import Debug, reported
from talentmap.training.commands.options import DataDir, parse_day

if TYPE_CHECKING:
    from talentmap.training.pipeline.tune import TrialOutcome
    from talentmap.training.pipeline.tune_run import TuneRun

SHOWN = ("auc_pr", "auc_roc", "precision@100", "lift@100")


def _parse_day(value: str | None) -> date | None:
    return None if value is None else parse_day(value)


def tune_command(
    data: DataDir,
    trials: Annotated[
        int | None,
        typer.Option("--trials", min=1, help="Number of trials (default: tune.n_trials, 30)."),
    ] = None,
    timeout_minutes: Annotated[
        float | None,
        typer.Option(
            "--timeout-minutes",
            min=0.01,
            help="Start no new trial after this many minutes (default: tune.timeout_minutes, "
            "no limit). With a timeout the result depends on the machine's speed.",
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Cut-off, YYYY-MM-DD: the search only uses training rows whose label "
            "windows close on or before it, never the candidates at that date (default: "
            "the latest date the snapshot covers, the window `train` evaluates on).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder for best_config.toml and best_config.json (default: "
            "<retrain.runs_dir>/tune-<snapshot id>).",
            file_okay=False,
        ),
    ] = None,
    debug: Debug = False,
) -> None:
    """Search LightGBM hyperparameters; log one MLflow run with a nested run per trial.

    Prints the best values as a TOML snippet for the training.model table of
    talentmap.toml. Nothing is registered or promoted: retrain with the snippet and let
    the promotion gate decide. Exit codes: 0 done, 1 refused (the line says why), 65
    unusable data, 70 internal error.
    """
    from talentmap.settings import get_settings
    from talentmap.settings.tune import TuneConfig
    from talentmap.training.pipeline.tune import write_recommendation
    from talentmap.training.pipeline.tune_run import tune

    day = _parse_day(as_of)
    console = Console()
    settings = get_settings()
    overrides: dict[str, object] = {}
    if trials is not None:
        overrides["n_trials"] = trials
    if timeout_minutes is not None:
        overrides["timeout_minutes"] = timeout_minutes
    config = TuneConfig.model_validate({**settings.tune.model_dump(), **overrides})

    with (
        reported("tune", debug),
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):
        preparing = progress.add_task("Starting", total=None)
        searching = progress.add_task("Trials", total=config.n_trials, visible=False)
        best: list[float] = []

        def on_step(description: str) -> None:
            progress.update(preparing, description=description)

        def on_trial(outcome: TrialOutcome, done: int, total: int) -> None:
            best.append(max([outcome.value, *best]))
            progress.update(preparing, total=1, completed=1, visible=False)
            progress.update(
                searching,
                completed=done,
                total=total,
                visible=True,
                description=f"Trials (best AUC-PR {best[-1]:.4f})",
            )

        run = tune(settings, data, as_of=day, config=config, on_step=on_step, on_trial=on_trial)
    out_dir = out or settings.path(settings.retrain.runs_dir) / f"tune-{run.snapshot_id}"
    toml_path, json_path = write_recommendation(run.result, out_dir)
    _print_summary(console, run)
    console.print(f"\nTo paste into talentmap.toml (also in {toml_path}):\n", markup=False)
    # Unwrapped, unstyled: a folded comment line would break the pasted TOML.
    console.out(run.result.toml, highlight=False)
    console.print(f"Details: {json_path}")
    console.print(
        "[bold]Nothing was registered or promoted[/]: retrain with these values and let the "
        "promotion gate judge them on its own window."
    )


def _cell(value: float) -> str:
    return "—" if value != value else f"{value:.4f}"  # NaN != NaN


def _print_summary(console: Console, run: TuneRun) -> None:
    result = run.result
    split = result.split
    console.print(
        f"Snapshot {run.snapshot_id}, cut-off {run.as_of.date()}: {len(result.trials)} trials "
        f"trained on {result.rows['train_rows']:,} rows ({len(split.train)} as-of dates, "
        f"{split.train[0].date()} to {split.train[-1].date()}), evaluated on "
        f"{result.rows['evaluation_rows']:,} rows at "
        f"{', '.join(d.date().isoformat() for d in split.evaluation)} "
        f"({result.rows['evaluation_positives']:,} positives)."
    )
    table = Table("configuration", "trial", *SHOWN, title="Evaluation slice of the search")
    if result.current is not None:
        table.add_row(
            "configured values",
            str(result.current.number),
            *(_cell(result.current.metrics[m]) for m in SHOWN),
        )
    table.add_row(
        "best found", str(result.best.number), *(_cell(result.best.metrics[m]) for m in SHOWN)
    )
    console.print(table)
    if result.current is not None and result.best.number == result.current.number:
        console.print("The configured values remain the best found: nothing to change.")
    console.print(
        f"MLflow: parent run {result.parent_run_id} (experiment {result.experiment_id}), "
        "one nested run per trial."
    )
