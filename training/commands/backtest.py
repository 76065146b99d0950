"""``talentmap backtest``: train on the past of one as-of date, rank its candidates, score."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from talentmap.cli_options import PolicyOption
from talentmap.training.commands.failures import Debug, reported
from talentmap.training.commands.options import DataDir, parse_day

SCORER_LABELS = {
    "model": "LightGBM model",
    "logistic_regression": "logistic regression",
    "total_raised": "total raised so far",
}
SHOWN_METRICS = ("auc_roc", "auc_pr", "precision@100", "lift@100", "ndcg@100", "brier", "ece")


def backtest_command(
    data: DataDir,
    as_of: Annotated[
        str,
        typer.Option(
            "--as-of",
            help="Backtest date, YYYY-MM-DD: training uses only label windows that end on "
            "or before it, and every candidate at that date is ranked.",
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Output folder for predictions.csv, metrics.json and the fitted model.",
            file_okay=False,
        ),
    ],
    horizon_months: Annotated[
        int | None,
        typer.Option(
            "--horizon-months",
            min=1,
            max=240,
            help="Label horizon in months (default: the configured one, 24).",
        ),
    ] = None,
    policy: PolicyOption = None,
    debug: Debug = False,
) -> None:
    """Backtest the promise model at one date against the two baselines.

    Exit codes: 0 done, 1 refused (e.g. --as-of after the snapshot, a corrupt lake file),
    65 unusable data (too few rows or positives; the message says what to change),
    70 internal error.
    """
    from talentmap.settings import get_settings
    from talentmap.training.pipeline.backtest import run_backtest

    day = parse_day(as_of)
    console = Console()
    settings = get_settings().with_policy(policy)
    # The progress bar closes before the one-line failure is printed (outer block).
    with (
        reported("backtest", debug),
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):
        task = progress.add_task("Starting", total=None)

        def hook(done: int, total: int, description: str) -> None:
            progress.update(task, completed=done, total=total, description=description)

        result = run_backtest(settings, data, day, horizon_months, out, on_step=hook)
    _print_summary(console, result.metrics)
    console.print(f"Predictions: {result.predictions_path}")
    console.print(f"Metrics:     {result.metrics_path}")


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def selection_caption(metrics: dict[str, Any]) -> str | None:
    """One line: which scorer the model serves, and that it was chosen before the test."""
    selection = metrics.get("training", {}).get("model", {}).get("selection")
    if not selection:
        return None
    scores = selection.get("scores") or {}
    logistic = scores.get("logistic")
    chosen = scores.get(selection["name"])
    versus = (
        f" (inner score {chosen:.3f} vs {logistic:.3f} for the logistic regression)"
        if chosen is not None and logistic is not None
        else ""
    )
    return (
        f"The model serves {selection['name']}, chosen on the latest training dates"
        f"{versus}; the test window played no part in the choice."
    )


def _print_summary(console: Console, metrics: dict[str, Any]) -> None:
    training, candidates = metrics["training"], metrics["candidates"]
    console.print(
        f"Trained on {training['rows']:,} rows at {training['n_as_of_dates']} as-of dates "
        f"(base rate {training['base_rate']:.3f}); ranked {candidates['n']:,} candidates at "
        f"{metrics['as_of']} ({candidates['left_out_not_visible']:,} left out as not yet visible)."
    )
    evaluation = metrics["evaluation"]
    if not evaluation["available"]:
        console.print(f"[yellow]evaluation unavailable:[/] {evaluation['reason']}")
        return
    table = Table(
        "scorer",
        *SHOWN_METRICS,
        title=(
            f"Backtest at {metrics['as_of']}: {evaluation['n']:,} candidates, "
            f"base rate {evaluation['base_rate']:.3f}"
        ),
    )
    for name, report in evaluation["scorers"].items():
        table.add_row(SCORER_LABELS.get(name, name), *(_cell(report[m]) for m in SHOWN_METRICS))
    console.print(table)
    caption = selection_caption(metrics)
    if caption:
        console.print(caption, markup=False)  # "blend[binary]" is no rich markup
