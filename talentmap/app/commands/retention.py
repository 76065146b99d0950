"""``talentmap retention apply``: delete what is past its keeping period (docs/PRIVACY.md).

``--dry-run`` only lists it.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table


def retention_apply_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")
    ] = False,
) -> None:
    """Delete lake snapshots, audit lines and MLflow runs past their retention period."""
    from talentmap.app.retention import apply_retention
    from talentmap.settings import get_settings

    settings = get_settings()
    console = Console()
    rules = settings.privacy.retention
    with console.status("Applying retention" if not dry_run else "Planning retention"):
        report = apply_retention(settings, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    console.print(f"Rules: {rules.model_dump_json()}")
    lake = Table(title="Lake")
    lake.add_column("snapshot", no_wrap=True)
    lake.add_column("ingested", no_wrap=True)
    lake.add_column("action", no_wrap=True)
    lake.add_column("why")
    for d in report.lake:
        day = d.when.date().isoformat() if d.when else ""
        lake.add_row(d.item, day, verb if d.delete else "keep", d.reason)
    console.print(lake)
    console.print(
        f"Audit log: {verb} {report.audit_dropped} line(s), kept {report.audit_kept}"
        + (f" ({report.audit_undated} undated, kept)" if report.audit_undated else "")
    )
    runs = [d for d in report.mlflow if d.delete]
    console.print(
        f"MLflow: {verb} {len(runs)} run(s) of {len(report.mlflow)}"
        + (f": {', '.join(d.item for d in runs[:10])}" if runs else "")
    )
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}")
