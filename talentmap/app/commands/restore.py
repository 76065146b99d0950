"""``talentmap restore DIR``: verify a backup, then put it back into this home.

Exit codes: 0 done; 1 refused (the target is not empty without ``--force``, or the
backup is of the other profile); 74 the backup is damaged (the message names each bad
file; nothing was touched) or a file could not be written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

EX_REFUSED, EX_IOERR = 1, 74


def restore_command(
    folder: Annotated[
        Path,
        typer.Argument(help="Backup folder written by `talentmap backup` (holds backup.json)."),
    ],
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Restore even though the target already holds data; what is there is moved "
            "aside into .pre-restore-<time>/ in the home (files), or replaced (databases).",
        ),
    ] = False,
    profile_dir: Annotated[
        Path | None,
        typer.Option(
            "--profile-dir",
            help="Production profile folder holding state.json (default: data/prod under "
            "TALENTMAP_HOME); unused on the embedded profile.",
        ),
    ] = None,
) -> None:
    """Verify every file's sha256, then restore MLflow, the Feast registry, the live
    feature-store version, the lake and the opt-out register into TALENTMAP_HOME."""
    from talentmap.app.backup_manifest import BackupError, DamagedBackupError
    from talentmap.app.restore import restore
    from talentmap.settings import get_settings

    err = Console(stderr=True)
    try:
        report = restore(get_settings(), folder, force=force, profile_dir=profile_dir)
    except DamagedBackupError as damaged:
        err.print(f"not restored: {damaged}", markup=False, highlight=False)
        raise typer.Exit(EX_IOERR) from damaged
    except BackupError as refused:
        err.print(f"not restored: {refused}", markup=False, highlight=False)
        raise typer.Exit(EX_REFUSED) from refused
    except OSError as failure:
        err.print(f"not restored: {failure}", markup=False, highlight=False)
        raise typer.Exit(EX_IOERR) from failure
    manifest = report.manifest
    console = Console()
    console.print(
        f"[green]restored[/] {folder} ({manifest.profile} profile, taken {manifest.created_at}): "
        f"champion version {manifest.champion_version or 'none'}, feature-store version "
        f"{manifest.details.get('feature_version') or 'none'}, {len(report.placed)} "
        f"places written ({report.seconds:.1f}s)"
    )
    if report.moved_aside is not None:
        console.print(f"what was there before is in {report.moved_aside}")
