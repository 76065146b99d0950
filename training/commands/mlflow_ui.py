"""``talentmap mlflow-ui``: the MLflow server and UI on the embedded store."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from talentmap.settings import get_settings

console = Console()


def mlflow_ui_command(
    host: Annotated[str | None, typer.Option(help="Interface (default: tracking.ui_host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: tracking.ui_port).")] = None,
) -> None:
    """Start the MLflow server and its UI on the embedded tracking store."""
    from talentmap.training.tracking.target import resolve_target, ui_command

    settings = get_settings()
    target = resolve_target(settings)
    if host is not None or port is not None:
        target = replace(target, ui_host=host or target.ui_host, ui_port=port or target.ui_port)
    # The venv's own mlflow, whatever PATH says: the store was written by this version.
    command = ui_command(target, mlflow_bin=str(Path(sys.executable).parent / "mlflow"))
    console.print(f"MLflow UI: http://{target.ui_host}:{target.ui_port}")
    os.execv(command[0], command)  # the UI replaces this process: Ctrl-C stops it
