"""``talentmap demo``: the whole foundation chain on the embedded defaults.

It is what ``make demo`` runs on a fresh machine, so each step calls the same public
function as its own subcommand: a demo that took a private path would prove nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from talentmap.settings import get_settings

console = Console()


def _step(title: str, action: Callable[[], Any]) -> Any:
    """Run one pipeline step, showing a spinner and how long it took."""
    started = time.perf_counter()
    with console.status(f"[bold]{title}…"):
        result = action()
    console.print(f"[green]✓[/] {title} [dim]({time.perf_counter() - started:.1f}s)[/]")
    return result


def demo(
    orgs: Annotated[
        int | None, typer.Option(help="Organisations in the generated world (default: config).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the generated world (default: config).")
    ] = None,
    world_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the world (default: <data_dir>/worlds/demo-<orgs>-<seed>)."
        ),
    ] = None,
) -> None:
    """Generate a world, then retrain on it: ingest, features, train, register, promote."""
    from talentmap.features import store as feature_store
    from talentmap.generate.world import generate_world
    from talentmap.lake import Lake
    from talentmap.training.retrain import RetrainError, retrain
    from talentmap.training.tracking import resolve_target
    from talentmap.validate import validate_dataset

    settings = get_settings()
    n_orgs = orgs or settings.generator.orgs
    world_seed = seed if seed is not None else settings.generator.seed
    out = world_dir or settings.path(settings.data_dir) / "worlds" / f"demo-{n_orgs}-{world_seed}"

    _step(
        f"Generate a world of {n_orgs:,} organisations into {out}",
        lambda: generate_world(out, n_orgs, world_seed),
    )
    report = _step("Validate it against the contract", lambda: validate_dataset(out))
    if not report.ok:
        console.print(report)
        raise typer.Exit(1)

    clock = {"step": "", "started": time.perf_counter()}

    def announce(step: str) -> None:
        if clock["step"]:
            console.print(f"[green]✓[/] retrain: {clock['step']} [dim]({_since(clock)}s)[/]")
        clock.update(step=step, started=time.perf_counter())

    try:
        outcome = retrain(settings, out, on_step=announce)
    except RetrainError as failure:
        console.print(f"[red]✗ {failure}[/]")
        raise typer.Exit(1) from failure
    if outcome.skipped:
        console.print(f"[green]✓[/] {outcome.reason}")
    else:
        announce("")
        verdict = "promoted to champion" if outcome.promoted else "kept as challenger"
        console.print(
            f"[green]✓[/] model v{outcome.model_version} {verdict}: {outcome.decision_reason}"
        )
        if outcome.version_dir is not None:
            run_dir = settings.path(settings.retrain.runs_dir) / outcome.version_dir.name
            console.print(_metrics_table(json.loads((run_dir / "metrics.json").read_text())))

    snapshot = Lake(settings.lake_dir).get(outcome.snapshot_id)
    if snapshot.snapshot_date is None:
        raise typer.BadParameter(f"snapshot {snapshot.snapshot_id} records no snapshot date")
    end = datetime.combine(snapshot.snapshot_date, datetime.min.time(), tzinfo=UTC)
    orgs_table = Lake(settings.lake_dir).load(snapshot.snapshot_id, tables=["organizations"])
    sample_ids = orgs_table["organizations"]["org_id"].head(3).tolist()
    online = feature_store.get_online_features(settings, sample_ids, end)
    console.print(_online_table(online.set_index("org_id"), end))

    target = resolve_target(settings)
    console.print(
        f"[bold green]Done.[/] Lake snapshot {snapshot.snapshot_id}; online store under "
        f"{settings.feature_store_dir}.\n"
        f"MLflow: start the UI with [bold]make mlflow-ui[/], then open "
        f"http://{target.ui_host}:{target.ui_port}/#/models/{target.registered_model} "
        f"(runs in the experiment '{target.experiment}')."
    )


def _metrics_table(metrics: dict) -> Table:
    """The backtest of the registered model against both baselines, on the same rows."""
    evaluation = metrics["evaluation"]
    table = Table(
        title=f"Backtest at {metrics['as_of']} ({evaluation.get('n', '?')} candidates, "
        f"base rate {evaluation.get('base_rate', float('nan')):.3f})"
    )
    keys = ("auc_roc", "auc_pr", "precision@100", "lift@100", "ndcg@100", "brier")
    table.add_column("scorer")
    for key in keys:
        table.add_column(key, justify="right")
    for name, report in evaluation.get("scorers", {}).items():
        table.add_row(name, *(_format(report.get(key)) for key in keys))
    return table


def _since(clock: dict) -> str:
    return f"{time.perf_counter() - clock['started']:.1f}"


def _online_table(online: pd.DataFrame, as_of: datetime, max_features: int = 18) -> Table:
    """Features as rows and organisations as columns: a wide store stays readable."""
    table = Table(title=f"Online features as of {as_of:%Y-%m-%d} (first {max_features})")
    table.add_column("feature")
    for org_id in online.index:
        table.add_column(str(org_id), justify="right")
    features = [c for c in online.columns if c != "as_of"][:max_features]
    for feature in features:
        table.add_row(feature, *(_format(online.at[org, feature]) for org in online.index))
    return table


def _format(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "[dim]missing[/]"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    return str(value)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the application."""
    app.command("demo")(demo)
