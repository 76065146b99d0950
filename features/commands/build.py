"""``talentmap features build``: the point-in-time feature tables of the latest snapshot."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from talentmap.features.commands.shared import console, spinner
from talentmap.settings import get_settings


def build(
    snapshot: Annotated[
        str | None,
        typer.Option(help="Lake snapshot id to build from (default: the latest snapshot)."),
    ] = None,
) -> None:
    """Compute the event-driven feature tables from a lake snapshot and write them."""
    from talentmap.features.build import BUILDERS, finalize
    from talentmap.features.engine import build_tables
    from talentmap.features.lineage import load_snapshot
    from talentmap.features.prepare import prepare
    from talentmap.features.store import write_feature_tables
    from talentmap.optouts import apply_settings_opt_outs, drop_opted_out_features

    settings = get_settings()
    with spinner() as progress:
        task = progress.add_task("Loading snapshot", total=len(BUILDERS) + 2)
        snapshot_id, snapshot_date, tables = load_snapshot(settings.lake_dir, snapshot)
        tables = apply_settings_opt_outs(tables, settings)  # opted-out persons' rows go first
        progress.advance(task)
        if settings.features.engine == "spark":
            # The same builders as Spark tasks (features.engine = spark, docs/SCALE.md).
            progress.update(task, description="Building every family on Spark")
            out = build_tables(settings, tables, snapshot_date)
            progress.advance(task, len(BUILDERS))
        else:
            # The run's rules: milestones and the age fallback must match the candidate rule.
            prepared = prepare(tables, snapshot_date, settings.training.rules)
            out = {}
            for family, builder in BUILDERS.items():
                progress.update(task, description=f"Building {family}")
                out[family] = finalize(builder(prepared), family, prepared.snapshot)
                progress.advance(task)
        out = drop_opted_out_features(out, tables.get("opt_outs"))
        progress.update(task, description="Writing Parquet tables")
        write_feature_tables(
            out, settings.feature_tables_dir, snapshot_id, snapshot_date, settings.features.engine
        )
        progress.advance(task)
    summary = Table("family", "rows", "entities", title=f"Snapshot {snapshot_id} ({snapshot_date})")
    for family, frame in out.items():
        summary.add_row(family, f"{len(frame):,}", f"{frame.iloc[:, 0].nunique():,}")
    console.print(summary)
    console.print(f"Feature tables written to {settings.feature_tables_dir}")
