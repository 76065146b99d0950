"""``talentmap backup --out DIR``: a consistent, hashed copy of a home (docs/OPERATIONS.md).

Exit codes: 0 done; 1 refused (``--out`` not empty, a store missing); 74 a file could not
be read or written; 75 a retrain holds the lock, try again later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

EX_REFUSED, EX_IOERR, EX_TEMPFAIL = 1, 74, 75


def backup_command(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder to write the backup to; it must not exist yet, or be empty.",
        ),
    ],
    profile_dir: Annotated[
        Path | None,
        typer.Option(
            "--profile-dir",
            help="Production profile folder holding state.json (default: data/prod under "
            "TALENTMAP_HOME); unused on the embedded profile.",
        ),
    ] = None,
    link_lake: Annotated[
        bool,
        typer.Option(
            "--link-lake/--copy-lake",
            help="Hard-link the lake's immutable snapshot files when the backup is on the "
            "same file system (default), or always copy them.",
        ),
    ] = True,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            min=0,
            help="Seconds to wait for a running retrain to release the lock (0: fail at "
            "once with exit code 75).",
        ),
    ] = 0.0,
) -> None:
    """Back up MLflow (database and artifacts), the Feast registry, the live feature-store
    version, the lake and the opt-out register, under the retrain lock."""
    from talentmap.app.backup import LockBusyError, backup
    from talentmap.app.backup_manifest import BackupError
    from talentmap.settings import get_settings

    err = Console(stderr=True)
    try:
        report = backup(
            get_settings(), out, profile_dir=profile_dir, link_lake=link_lake, lock_timeout=wait
        )
    except LockBusyError as busy:
        err.print(f"[red]backup not taken:[/] {busy}")
        raise typer.Exit(EX_TEMPFAIL) from busy
    except BackupError as refused:
        err.print(f"[red]backup not taken:[/] {refused}")
        raise typer.Exit(EX_REFUSED) from refused
    except OSError as failure:
        err.print(f"[red]backup not taken:[/] {failure}")
        raise typer.Exit(EX_IOERR) from failure
    manifest = report.manifest
    size = sum(int(entry["size"]) for entry in manifest.files.values())
    Console().print(
        f"[green]backup written[/] to {report.folder}: {len(manifest.files)} files, "
        f"{size / 1e6:.1f} MB, {manifest.profile} profile, champion version "
        f"{manifest.champion_version or 'none'}, feature-store version "
        f"{manifest.details.get('feature_version') or 'none'} ({report.seconds:.1f}s)"
    )
