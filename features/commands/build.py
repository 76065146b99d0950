"""``talentmap features build``: the point-in-time feature tables of the latest snapshot."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from talentmap import logs
from talentmap.features.commands.shared import console, spinner
from talentmap.settings import get_settings


def build(
    snapshot: Annotated[
        str | None,
        typer.Option(help="Lake snapshot id to build from (default: the latest snapshot)."),
    ] = None,
) -> None:
    """Compute the event-driven feature tables from a lake snapshot and write them."""
    import duckdb

    from talentmap.features.catalog import FAMILIES, table_path
    from talentmap.features.engine import build_and_write
    from talentmap.features.lineage import load_snapshot
    from talentmap.optouts import apply_settings_opt_outs

    settings = get_settings()
    # A line per family and chunk (JSON lines when redirected, text on a terminal or with
    # TALENTMAP_LOG_FORMAT=text): at a million organisations the build takes many minutes.
    with logs.structured_output("features build") as structured, logs.text_progress(not structured):
        with spinner() as progress:
            task = progress.add_task("Loading snapshot", total=3)
            snapshot_id, snapshot_date, tables = load_snapshot(settings.lake_dir, snapshot)
            tables = apply_settings_opt_outs(tables, settings)  # opted-out persons' rows go first
            progress.advance(task)
            # Streamed by organisation chunks on the default engine (features/chunked.py); the
            # same builders as Spark tasks with features.engine = spark (docs/SCALE.md).
            progress.update(
                task, description=f"Building the feature tables ({settings.features.engine})"
            )
            rows = build_and_write(settings, tables, snapshot_date, snapshot_id)
            progress.advance(task)
            del tables
            progress.update(task, description="Counting entities")
            summary = Table(
                "family", "rows", "entities", title=f"Snapshot {snapshot_id} ({snapshot_date})"
            )
            with duckdb.connect() as con:
                for family, count in rows.items():
                    path = str(table_path(settings.feature_tables_dir, family))
                    key = FAMILIES[family].key
                    (entities,) = con.execute(
                        f'SELECT count(DISTINCT "{key}") FROM read_parquet(?)', [path]
                    ).fetchone()
                    summary.add_row(family, f"{count:,}", f"{entities:,}")
            progress.advance(task)
        console.print(summary)
        console.print(f"Feature tables written to {settings.feature_tables_dir}")
