"""``talentmap prod up|down``: the production profile (PostgreSQL, Redis, MLflow with auth).

See docs/OPERATIONS.md; ``make prod-up`` and ``make prod-down`` run these.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from talentmap.settings import get_settings

if TYPE_CHECKING:
    from talentmap.app.prod.layout import ProfileLayout

console = Console()

DirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        help="Folder of the profile's data, logs, state and secrets (default: data/prod "
        "under TALENTMAP_HOME).",
    ),
]


def _layout(folder: Path | None) -> ProfileLayout:
    from talentmap.app.prod.layout import DEFAULT_DIR, ProfileLayout

    settings = get_settings()
    return ProfileLayout(settings.path(folder if folder is not None else DEFAULT_DIR))


def up_command(
    folder: DirOption = None,
    install: Annotated[
        bool,
        typer.Option(
            help="Install the postgresql and redis-server Debian packages with apt-get if "
            "they are missing (needs root)."
        ),
    ] = True,
    with_mlflow: Annotated[
        bool,
        typer.Option(
            "--mlflow/--no-mlflow",
            help="Also start the MLflow server and run the auth bootstrap (default); "
            "--no-mlflow starts only PostgreSQL and Redis, for systemd, which runs the "
            "server itself (deploy/talentmap-mlflow.service).",
        ),
    ] = True,
) -> None:
    """Start PostgreSQL, Redis and the MLflow server (with auth); write production.env and
    users.json. Running it again while the profile is up changes nothing."""
    from talentmap.app.prod.layout import ProfileError
    from talentmap.app.prod.profile import up

    layout = _layout(folder)

    def show(name: str, seconds: float, note: str) -> None:
        console.print(f"[green]✓[/] {name}: {note} [dim]({seconds:.1f}s)[/]")

    try:
        report = up(get_settings(), layout, install=install, on_step=show, with_mlflow=with_mlflow)
    except ProfileError as failure:
        console.print(f"[red]✗ prod up failed:[/] {failure}")
        raise typer.Exit(1) from failure
    console.print(f"Ready in {report.seconds:.1f}s. MLflow: {report.tracking_uri}")
    console.print(f"Settings and credentials: source {report.env_file}")
    console.print(f"Accounts (auditor, data-team, admin): {report.users_file}")


def down_command(folder: DirOption = None) -> None:
    """Stop the profile's MLflow server, Redis and PostgreSQL (by the pids `up` recorded).
    Their data stays for the next `prod up`."""
    from talentmap.app.prod.profile import down

    for name, stopped in down(_layout(folder)).items():
        console.print(f"{name}: {'stopped' if stopped else 'not running'}")


def mlflow_server_command(folder: DirOption = None) -> None:
    """Run the profile's MLflow server (PostgreSQL backend, basic-auth, artifacts) in the
    foreground, for a service manager (deploy/talentmap-mlflow.service). Needs the
    profile's state.json (written by `prod up`) and PostgreSQL running."""
    from talentmap.app.prod.layout import load_state
    from talentmap.app.prod.mlflow_server import run_foreground

    layout = _layout(folder)
    state = load_state(layout)
    if not state:
        console.print(f"[red]no profile state at {layout.state_file}:[/] run `talentmap prod up`")
        raise typer.Exit(1)
    run_foreground(layout, state)


app = typer.Typer(
    help="The production profile: PostgreSQL, Redis and MLflow with auth, on loopback.",
    no_args_is_help=True,
)
app.command("up")(up_command)
app.command("down")(down_command)
app.command("mlflow-server")(mlflow_server_command)
