"""``talentmap serve``: run the BentoML service, on loopback by default."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.console import Console

SERVICE_TARGET = "talentmap.serving.service:TalentMapService"


def serve_argv(host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        SERVICE_TARGET,
        "--host",
        host,
        "--port",
        str(port),
    ]


def serve_command(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default: serving.host, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: serving.port, 3000).")
    ] = None,
) -> None:
    """Run the shortlist service and the web page (BentoML) until interrupted."""
    from talentmap.settings import get_settings

    config = get_settings().serving
    host = host or config.host
    port = port or config.port
    if not config.api_keys:
        Console(stderr=True).print(
            "[yellow]No API keys configured (TALENTMAP_SERVING__API_KEYS): every call will "
            "get 401. Create one with `talentmap keys new`.[/]"
        )
    Console(stderr=True).print(f"Web page: http://{host}:{port}/  (readiness: /readyz)")
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")
    argv = serve_argv(host, port)
    sys.stdout.flush()
    sys.stderr.flush()
    # Replace this process, so signals (Ctrl+C, SIGTERM) reach BentoML directly.
    os.execv(argv[0], argv)


def main() -> None:  # pragma: no cover - ``python -m talentmap.serving.commands.serve``
    """Standalone entry point (the test suite starts the server with it)."""
    app = typer.Typer(add_completion=False)
    app.command()(serve_command)
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
