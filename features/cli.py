"""``talentmap features``: build the feature tables, apply the Feast definitions,
materialize the online store, and show one organisation's features."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from talentmap.settings import get_settings

app = typer.Typer(
    help="Build feature tables and run the Feast feature store.", no_args_is_help=True
)
console = Console()


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    )


@app.command()
def build(
    snapshot: Annotated[
        str | None,
        typer.Option(help="Lake snapshot id to build from (default: the latest snapshot)."),
    ] = None,
) -> None:
    """Compute the event-driven feature tables from a lake snapshot and write them."""
    from talentmap.features.build import BUILDERS, finalize
    from talentmap.features.lineage import load_snapshot
    from talentmap.features.prepare import prepare
    from talentmap.features.store import write_feature_tables
    from talentmap.optouts import apply_settings_opt_outs, drop_opted_out_features

    settings = get_settings()
    with _progress() as progress:
        task = progress.add_task("Loading snapshot", total=len(BUILDERS) + 2)
        snapshot_id, snapshot_date, tables = load_snapshot(settings.lake_dir, snapshot)
        tables = apply_settings_opt_outs(tables, settings)  # opted-out persons' rows go first
        progress.advance(task)
        # The run's rules: milestones and the age fallback must match the candidate rule.
        prepared = prepare(tables, snapshot_date, settings.training.rules)
        out = {}
        for family, builder in BUILDERS.items():
            progress.update(task, description=f"Building {family}")
            out[family] = finalize(builder(prepared), family, prepared.snapshot)
            progress.advance(task)
        out = drop_opted_out_features(out, tables.get("opt_outs"))
        progress.update(task, description="Writing Parquet tables")
        write_feature_tables(out, settings.feature_tables_dir, snapshot_id, snapshot_date)
        progress.advance(task)
    summary = Table("family", "rows", "entities", title=f"Snapshot {snapshot_id} ({snapshot_date})")
    for family, frame in out.items():
        summary.add_row(family, f"{len(frame):,}", f"{frame.iloc[:, 0].nunique():,}")
    console.print(summary)
    console.print(f"Feature tables written to {settings.feature_tables_dir}")


@app.command()
def apply() -> None:
    """Register the entities, feature views and the `promise` service with Feast."""
    from talentmap.features import store as feature_store

    settings = get_settings()
    with _progress() as progress:
        progress.add_task("Applying Feast definitions", total=None)
        feature_store.apply(settings)
    console.print(f"Registry updated in {settings.feature_store_dir}")


def _parse_day(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    day = date.fromisoformat(value)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@app.command()
def materialize(
    end: Annotated[
        str | None,
        typer.Option(help="Load rows dated up to this day, YYYY-MM-DD (default: now, UTC)."),
    ] = None,
) -> None:
    """Load each entity's latest feature values into the online store."""
    from talentmap.features import store as feature_store

    settings = get_settings()
    until = _parse_day(end)
    with _progress() as progress:
        progress.add_task(f"Materializing up to {until.date()}", total=None)
        feature_store.materialize(settings, until)
    console.print(f"Online store ready in {settings.feature_store_dir}")


@app.command()
def show(
    org_id: Annotated[str, typer.Argument(help="Organisation id (org_id) to look up.")],
    as_of: Annotated[
        str | None,
        typer.Option(help="As-of day for time-relative features, YYYY-MM-DD (default: now)."),
    ] = None,
) -> None:
    """Print one organisation's online `promise` features."""
    from talentmap.features import store as feature_store

    settings = get_settings()
    frame = feature_store.get_online_features(settings, [org_id], _parse_day(as_of))
    table = Table("feature", "value", title=f"{org_id} as of {frame['as_of'].iloc[0]}")
    for column, value in frame.iloc[0].items():
        table.add_row(str(column), str(value))
    console.print(table)
