"""``prod up`` and ``prod down``: the whole profile, in order, idempotently.

``up``: install the packages if missing; generate ports and passwords once (``state.json``);
initdb once; start PostgreSQL, create the roles and databases; start Redis; start MLflow;
create the users and grants (``auth bootstrap``); write ``production.env`` and
``users.json``. A server already running is left as it is. ``down`` stops MLflow, Redis,
then PostgreSQL, each by the pid ``up`` recorded; data stays for the next ``up``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from talentmap.app.prod import mlflow_server, packages, postgres, redis
from talentmap.app.prod.auth import bootstrap
from talentmap.app.prod.layout import (
    ProfileLayout,
    ensure_state,
    write_env_file,
    write_users_file,
)
from talentmap.settings import Settings
from talentmap.settings.root import FEAST_REDIS_URL_VAR, FEAST_REGISTRY_URL_VAR

# The account whose MLflow credentials production.env carries: the one that retrains.
COMMANDS_ROLE = "data-team"


@dataclass
class UpReport:
    """What ``up`` did, step by step (name, seconds, what happened), and the result."""

    steps: list[tuple[str, float, str]] = field(default_factory=list)
    seconds: float = 0.0
    env_file: Path | None = None
    users_file: Path | None = None
    tracking_uri: str = ""


def environment(home: Path, state: dict[str, Any]) -> dict[str, str]:
    """Every variable the commands need in the profile (secrets included)."""
    user = state["users"][COMMANDS_ROLE]
    return {
        "TALENTMAP_HOME": str(home),
        "TALENTMAP_TRACKING__URI": mlflow_server.tracking_uri(state),
        "TALENTMAP_FEATURES__REGISTRY": "sql",
        "TALENTMAP_FEATURES__ONLINE_STORE": "redis",
        FEAST_REGISTRY_URL_VAR: postgres.url(state, "feast", "feast"),
        FEAST_REDIS_URL_VAR: redis.connection_string(state),
        "MLFLOW_TRACKING_USERNAME": user["name"],
        "MLFLOW_TRACKING_PASSWORD": user["password"],
    }


def up(
    settings: Settings,
    layout: ProfileLayout,
    *,
    install: bool = True,
    on_step: Callable[[str, float, str], None] | None = None,
    with_mlflow: bool = True,
) -> UpReport:
    """Bring the profile up; safe to run again while it is up.

    ``with_mlflow=False`` starts only PostgreSQL and Redis (and writes the files): a
    service manager runs the MLflow server itself (``prod mlflow-server``), and the users
    created by an earlier full ``up`` stay in the ``mlflow_auth`` database.
    """
    report = UpReport()
    started = time.perf_counter()

    def step(name: str, action: Callable[[], object]) -> None:
        begun = time.perf_counter()
        outcome = action()
        seconds = time.perf_counter() - begun
        note = outcome if isinstance(outcome, str) else ""
        report.steps.append((name, seconds, note))
        if on_step is not None:
            on_step(name, seconds, note)

    def install_packages() -> str:
        done = packages.ensure_installed(install)
        return f"installed {', '.join(done)}" if done else "already installed"

    layout.prepare()
    step("packages", install_packages)
    state = ensure_state(layout)
    step("postgres init", lambda: "created" if postgres.init_cluster(layout, state) else "exists")
    step(
        "postgres",
        lambda: "started" if postgres.start(layout, state) else "already running",
    )
    step("databases", lambda: postgres.create_databases(state) or "mlflow, mlflow_auth, feast")
    step("redis", lambda: "started" if redis.start(layout, state) else "already running")
    if with_mlflow:
        step(
            "mlflow",
            lambda: "started" if mlflow_server.start(layout, state) else "already running",
        )
        users = [state["users"][role] for role in ("auditor", "data-team", "admin")]
        tracking = settings.tracking
        step(
            "auth bootstrap",
            lambda: (
                f"{len(bootstrap(mlflow_server.tracking_uri(state), users, [tracking.experiment, tracking.promotion_experiment], tracking.registered_model))} grants"
            ),
        )

    def write_files() -> str:
        write_users_file(layout, state)
        write_env_file(layout, environment(settings.home.absolute(), state))
        return f"{layout.env_file.name}, {layout.users_file.name}"

    step("files", write_files)
    report.seconds = time.perf_counter() - started
    report.env_file = layout.env_file
    report.users_file = layout.users_file
    report.tracking_uri = mlflow_server.tracking_uri(state)
    return report


def down(layout: ProfileLayout) -> dict[str, bool]:
    """Stop the servers, MLflow first (it holds PostgreSQL connections); which were running."""
    return {
        "mlflow": mlflow_server.stop(layout),
        "redis": redis.stop(layout),
        "postgres": postgres.stop(layout),
    }
