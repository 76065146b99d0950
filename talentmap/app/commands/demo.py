"""``talentmap demo``: the whole foundation chain on the embedded defaults.

It is what ``make demo`` runs on a fresh machine, so each step calls the same public
function as its own subcommand: a demo that took a private path would prove nothing.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from talentmap.settings import Settings, get_settings

DEMO_RUN_DIR = Path("data/demo")

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
    serve: Annotated[
        bool,
        typer.Option(help="Leave the shortlist service and MLflow UI running at the end."),
    ] = True,
) -> None:
    """Generate a world, retrain on it, then serve it: the whole system on the defaults."""
    from talentmap.features import store as feature_store
    from talentmap.generate.world import generate_world
    from talentmap.lake import Lake
    from talentmap.training.pipeline.retrain import RetrainError, retrain
    from talentmap.training.tracking.target import resolve_target
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

    if serve:
        _serve_and_show(settings)
    else:
        target = resolve_target(settings)
        console.print(
            f"[bold green]Done.[/] Lake snapshot {snapshot.snapshot_id}. MLflow: "
            f"[bold]make mlflow-ui[/], then http://{target.ui_host}:{target.ui_port}/"
            f"#/models/{target.registered_model}"
        )


def _demo_key(folder: Path) -> str:
    """The demo's admin key, made once and kept (mode 0600) so re-runs reuse it."""
    from talentmap.serving.auth import new_key

    path = folder / "api_key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(new_key())
    return path.read_text().strip()


def _serve_and_show(settings: Settings) -> None:
    """Leave the shortlist service and the MLflow UI running; print a shortlist."""
    from talentmap.app import background
    from talentmap.serving.auth import hash_key
    from talentmap.serving.commands.shortlist import fetch_shortlist, to_table
    from talentmap.training.tracking.target import resolve_target

    folder = settings.path(DEMO_RUN_DIR)
    key = _demo_key(folder)
    keys = [k.model_dump() for k in settings.serving.api_keys]
    keys.append({"name": "demo", "role": "admin", "sha256": hash_key(key)})
    env = {
        "TALENTMAP_HOME": str(settings.home.absolute()),
        "TALENTMAP_SERVING__API_KEYS": json.dumps(keys),
    }
    talentmap = str(Path(sys.executable).parent / "talentmap")
    host, port = settings.serving.host, settings.serving.port
    base = f"http://{host}:{port}"
    background.stop(folder, "serve")  # a previous demo's server holds the old ranking
    background.start(
        folder, "serve", [talentmap, "serve", "--host", host, "--port", str(port)], env
    )
    with console.status(f"[bold]Starting the shortlist service at {base}…"):
        ready = background.wait_http(f"{base}/readyz", timeout_seconds=600)
    if not ready:
        console.print(f"[red]✗ the service did not become ready; see {folder / 'serve.log'}[/]")
        raise typer.Exit(1)
    console.print(f"[green]✓[/] shortlist service ready at {base}")
    answer = fetch_shortlist(base, key, {"k": 10, "include_explanations": True})
    console.print(to_table(answer))

    target = resolve_target(settings)
    mlflow_url = f"http://{target.ui_host}:{target.ui_port}"
    if background.running_pid(folder, "mlflow-ui") is None:
        background.start(folder, "mlflow-ui", [talentmap, "mlflow-ui"], env)
    with console.status("[bold]Starting the MLflow UI…"):
        mlflow_ready = background.wait_http(f"{mlflow_url}/health", timeout_seconds=120)
    state = (
        "" if mlflow_ready else f" [yellow](not answering yet; see {folder / 'mlflow-ui.log'})[/]"
    )
    console.print(
        "[bold green]Done.[/] Left running:\n"
        f"  Talent map (web page): {base}/  API key in {folder / 'api_key'}\n"
        f"  MLflow UI:             {mlflow_url}/#/models/{target.registered_model}{state}\n"
        f"  CLI: TALENTMAP_API_KEY=$(cat {folder / 'api_key'}) talentmap shortlist "
        f'--url {base} --k 20 --region "Occitanie"\n'
        "  Stop both with [bold]make stop[/]."
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
    from rich.markup import escape

    from talentmap.training.commands.backtest import selection_caption

    caption = selection_caption(metrics)
    table.caption = escape(caption) if caption else None  # "blend[binary]" is no markup
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
