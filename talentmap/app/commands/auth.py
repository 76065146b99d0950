"""``talentmap auth bootstrap``: MLflow users and permissions from a users file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from talentmap.settings import get_settings

console = Console()


def bootstrap_command(
    config: Annotated[
        Path,
        typer.Option(
            "--config",
            help='JSON users file: {"users": [{name, password, role}]}, role one of '
            "auditor, data-team, admin (default: data/prod/users.json under TALENTMAP_HOME).",
        ),
    ] = Path("data/prod/users.json"),
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            help="MLflow server to configure (default: the tracking.uri setting); the "
            "admin account of the file signs in."
        ),
    ] = None,
) -> None:
    """Create the MLflow users of a users file and grant their roles: auditor READ,
    data-team EDIT, admin MANAGE on the experiments and the registered model."""
    from talentmap.app.prod.auth import bootstrap
    from talentmap.app.prod.layout import ProfileError, read_users_file

    settings = get_settings()
    uri = tracking_uri or settings.tracking.uri
    if not uri.startswith(("http://", "https://")):
        console.print(f"[red]✗[/] {uri} is not an MLflow server (http:// or https://)")
        raise typer.Exit(2)
    tracking = settings.tracking
    try:
        users = read_users_file(settings.path(config))
        grants = bootstrap(
            uri,
            users,
            [tracking.experiment, tracking.promotion_experiment],
            tracking.registered_model,
        )
    except (ProfileError, OSError, ValueError) as failure:
        console.print(f"[red]✗ auth bootstrap failed:[/] {failure}")
        raise typer.Exit(1) from failure
    for grant in grants:
        console.print(f"{grant.user}: {grant.permission} on {grant.resource_type} {grant.resource}")


app = typer.Typer(
    help="MLflow users and permissions of the production profile.", no_args_is_help=True
)
app.command("bootstrap")(bootstrap_command)
