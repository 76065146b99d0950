"""``talentmap serve``: run the BentoML service, on loopback by default.

Redirected (systemd, ``> file``), its own lines are JSON (``talentmap.logs``), and it
tells the service's worker to log JSON too (``TALENTMAP_LOG_FORMAT=json``). Deprecation
and future warnings of other packages are hidden here and, through ``PYTHONWARNINGS``, in
BentoML's processes.
"""

from __future__ import annotations

import logging
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
    from talentmap import logs

    with logs.structured_output("serve") as structured:
        _serve(host, port, structured)


def _serve(host: str | None, port: int | None, structured: bool) -> None:
    from talentmap import logs
    from talentmap.settings import get_settings

    config = get_settings().serving
    host = host or config.host
    port = port or config.port
    log = logging.getLogger("talentmap.serve")
    if not config.api_keys and config.api_keys_file is None:
        message = (
            "No API keys configured (TALENTMAP_SERVING__API_KEYS or api_keys_file): every "
            "call will get 401. Create one with `talentmap keys new`."
        )
        if structured:
            log.warning("%s", message, extra={"step": "start", "outcome": "warning"})
        else:
            Console(stderr=True).print(f"[yellow]{message}[/]")
    where = f"Web page: http://{host}:{port}/  (readiness: /readyz)"
    if structured:
        log.info("%s", where, extra={"step": "start", "host": host, "port": port})
    else:
        Console(stderr=True).print(where)
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")
    if structured:  # the service's worker logs JSON lines too, and nothing is coloured
        os.environ[logs.JSON_ENV] = "json"
        os.environ["NO_COLOR"] = "1"
    # The entry point's warning policy, for BentoML's own processes too.
    noisy = "ignore::DeprecationWarning,ignore::PendingDeprecationWarning,ignore::FutureWarning"
    os.environ["PYTHONWARNINGS"] = ",".join(
        p for p in (os.environ.get("PYTHONWARNINGS"), noisy) if p
    )
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
