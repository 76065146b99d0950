"""The MLflow tracking server of the profile: PostgreSQL backend and registry, artifacts
served by the server itself (``--serve-artifacts``), and MLflow's basic-auth app.

The backend URL (a password in it) goes through ``MLFLOW_BACKEND_STORE_URI`` and the auth
settings through the ini file named by ``MLFLOW_AUTH_CONFIG_PATH`` (mode 0600), so no
secret appears on a command line. Users without a grant get no permission at all
(``default_permission = NO_PERMISSIONS``); ``talentmap auth bootstrap`` grants the roles.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import httpx

from talentmap.app.prod import postgres, processes
from talentmap.app.prod.layout import ProfileError, ProfileLayout, write_private

NAME = "mlflow"
ADMIN_ROLE = "admin"
READY_TIMEOUT_S = 180


def tracking_uri(state: dict[str, Any]) -> str:
    return f"http://127.0.0.1:{state['ports']['mlflow']}"


def auth_config_path(layout: ProfileLayout) -> Path:
    return layout.mlflow_dir / "basic_auth.ini"


def write_auth_config(layout: ProfileLayout, state: dict[str, Any]) -> None:
    admin = state["users"][ADMIN_ROLE]
    text = "\n".join(
        [
            "[mlflow]",
            "default_permission = NO_PERMISSIONS",
            f"database_uri = {postgres.url(state, 'mlflow', 'mlflow_auth')}",
            f"admin_username = {admin['name']}",
            f"admin_password = {admin['password']}",
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
            "grant_default_workspace_access = false",
            # Each request's password check is a deliberately slow PBKDF2 hash; caching a
            # successful check for a minute keeps a retrain's hundreds of calls fast.
            "auth_cache_ttl_seconds = 60",
            "",
        ]
    )
    write_private(auth_config_path(layout), text)


def _mlflow_bin() -> str:
    beside = Path(sys.executable).parent / "mlflow"
    return str(beside) if beside.exists() else "mlflow"


def command(layout: ProfileLayout, state: dict[str, Any]) -> list[str]:
    return [
        _mlflow_bin(),
        "server",
        "--serve-artifacts",
        "--artifacts-destination",
        layout.artifacts_dir.resolve().as_uri(),
        "--app-name",
        "basic-auth",
        "--host",
        "127.0.0.1",
        "--port",
        str(state["ports"]["mlflow"]),
        "--workers",
        "2",
    ]


def _ready(state: dict[str, Any]) -> bool:
    """The server answers, and asks for credentials (the auth app is in front)."""
    base = tracking_uri(state)
    try:
        if httpx.get(f"{base}/health", timeout=3).status_code != 200:
            return False
        probe = httpx.get(f"{base}/api/2.0/mlflow/experiments/search?max_results=1", timeout=5)
        return probe.status_code == 401
    except httpx.HTTPError:
        return False


def server_environment(layout: ProfileLayout, state: dict[str, Any]) -> dict[str, str]:
    """The server's environment (backend URL, auth config, CSRF key); writes the auth
    config file first."""
    write_auth_config(layout, state)
    env = {
        **os.environ,
        "MLFLOW_BACKEND_STORE_URI": postgres.url(state, "mlflow", "mlflow"),
        "MLFLOW_AUTH_CONFIG_PATH": str(auth_config_path(layout)),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": state["passwords"]["mlflow_flask_secret"],
    }
    # Credentials of whoever starts it must not leak into the server's own environment.
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_URI"):
        env.pop(name, None)
    return env


def run_foreground(layout: ProfileLayout, state: dict[str, Any]) -> None:
    """Replace this process by the profile's MLflow server (for systemd, which supervises
    it: ``talentmap prod mlflow-server``). PostgreSQL must be running."""
    env = server_environment(layout, state)
    os.chdir(layout.mlflow_dir)
    argv = command(layout, state)
    os.execvpe(argv[0], argv, env)


def start(layout: ProfileLayout, state: dict[str, Any]) -> bool:
    """Start the server if it is not running; False if it already was."""
    if processes.running_pid(layout.run_dir, NAME) is not None:
        return False
    env = server_environment(layout, state)
    processes.start(layout.run_dir, NAME, command(layout, state), env=env, cwd=layout.mlflow_dir)
    log = layout.run_dir / f"{NAME}.log"

    def ready_or_dead() -> bool:
        if processes.running_pid(layout.run_dir, NAME) is None:
            raise ProfileError(f"the MLflow server exited; see {log}")
        return _ready(state)

    if not processes.wait_until(ready_or_dead, READY_TIMEOUT_S, interval=0.5):
        raise ProfileError(f"the MLflow server was not ready in {READY_TIMEOUT_S} s; see {log}")
    return True


def stop(layout: ProfileLayout) -> bool:
    return processes.stop(layout.run_dir, NAME)
