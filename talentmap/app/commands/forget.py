"""``talentmap forget``: record opt-outs and purge them everywhere (docs/PRIVACY.md).

Records opt-outs in the register, deletes the subjects' rows from the online store and
tells a running service to drop them (``POST /admin/forget``, admin key from
``TALENTMAP_ADMIN_API_KEY`` only: a key given as an option would end up in shell history).
"""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console


def _default_url() -> str:
    from talentmap.settings import get_settings

    config = get_settings().serving
    return f"http://{config.host}:{config.port}"


def forget_command(
    person: Annotated[
        list[str] | None,
        typer.Option("--person", help="person_id to forget (repeat for several)."),
    ] = None,
    org: Annotated[
        list[str] | None,
        typer.Option("--org", help="org_id to forget (repeat for several)."),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(help="Running service to notify (default: serving.host and serving.port)."),
    ] = None,
    notify: Annotated[
        bool,
        typer.Option("--notify/--no-notify", help="Tell a running service (POST /admin/forget)."),
    ] = True,
) -> None:
    """Record an opt-out, remove the subject from the online store and the running service.

    Exit code 0: recorded, purged and (if a service runs) dropped from it; 2: recorded and
    purged, but a running service refused the request (it still applies the register at
    its next reload or start).
    """
    from talentmap.app.forget import ADMIN_KEY_ENV, forget
    from talentmap.settings import get_settings

    people, orgs = list(person or []), list(org or [])
    if not people and not orgs:
        raise typer.BadParameter("give at least one --person or --org")
    console = Console()
    settings = get_settings()
    target = (url or _default_url()) if notify else None
    admin_key = os.environ.get(ADMIN_KEY_ENV, "").strip() or None
    try:
        outcome = forget(settings, orgs, people, url=target, admin_key=admin_key)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    console.print(
        f"[green]recorded[/] {len(outcome.records)} opt-out(s) in {outcome.register} "
        f"({len(orgs)} organisation(s), {len(people)} person(s))"
    )
    if outcome.watchlists.get("companies") or outcome.watchlists.get("events"):
        console.print(
            f"watchlists: {outcome.watchlists['companies']} follow(s) and "
            f"{outcome.watchlists['events']} feed event(s) deleted"
        )
    if outcome.online_note:
        console.print(f"[yellow]online store not purged:[/] {outcome.online_note}")
    elif outcome.online_deleted:
        purged = ", ".join(f"{view}: {n}" for view, n in outcome.online_deleted.items())
        console.print(f"online store purged ({purged})")
    else:
        console.print("online store: nothing to purge (not materialized, or no such entity)")
    if people:
        console.print(
            "[dim]Company-level counts that included a forgotten person (e.g. founders with "
            "a PhD) are recomputed without them by the next feature build or retrain.[/]"
        )
    reply = outcome.service
    if reply is None:
        return
    if not reply.reached:
        console.print(
            f"no service answered at {reply.url}: nothing to drop now; a service applies "
            "the register when it starts and at every reload"
        )
    elif reply.status == 200 and reply.body is not None:
        console.print(
            f"service at {reply.url}: {reply.body.get('removed_orgs', 0)} organisation(s) "
            f"removed, {reply.body.get('founders_hidden', 0)} founder entries hidden "
            f"(ranking {reply.body.get('ranking_id')})"
        )
    else:
        Console(stderr=True).print(
            f"[red]service at {reply.url} did not drop them:[/] {reply.error} "
            "(the register still applies at its next reload or start)"
        )
        raise typer.Exit(code=2)
