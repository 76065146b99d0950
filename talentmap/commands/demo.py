"""``talentmap demo``: the whole foundation chain on the embedded defaults.

It is what ``make demo`` runs on a fresh machine, so each step calls the same public
function as its own subcommand: a demo that took a private path would prove nothing.
"""

from __future__ import annotations

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
    """Generate a world, validate and ingest it, build and materialize its features."""
    from talentmap.features import store as feature_store
    from talentmap.features.build import build_feature_tables
    from talentmap.generate.world import generate_world
    from talentmap.ingest import ingest
    from talentmap.lake import Lake
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
    result = _step(
        f"Ingest it into the lake at {settings.lake_dir}", lambda: ingest(out, settings.lake_dir)
    )
    lake = Lake(settings.lake_dir)
    snapshot = lake.get(result.snapshot_id)
    tables = _step("Load the snapshot (hashes verified)", lambda: lake.load(snapshot.snapshot_id))
    snapshot_date = snapshot.snapshot_date
    if snapshot_date is None:
        raise typer.BadParameter(f"snapshot {snapshot.snapshot_id} records no snapshot date")
    feature_tables = _step(
        "Build point-in-time feature tables",
        lambda: build_feature_tables(tables, snapshot_date),
    )
    _step(
        "Write the offline store",
        lambda: feature_store.write_feature_tables(
            feature_tables, settings.feature_tables_dir, snapshot.snapshot_id
        ),
    )
    _step("feast apply", lambda: feature_store.apply(settings))
    end = datetime.combine(snapshot_date, datetime.min.time(), tzinfo=UTC)
    _step(
        "feast materialize into the online store", lambda: feature_store.materialize(settings, end)
    )

    sample_ids = tables["organizations"]["org_id"].head(3).tolist()
    online = feature_store.get_online_features(settings, sample_ids, end)
    console.print(_online_table(online.set_index("org_id"), end))
    console.print(
        f"[bold green]Done.[/] Lake snapshot {snapshot.snapshot_id}; online store under "
        f"{settings.feature_store_dir}."
    )


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
