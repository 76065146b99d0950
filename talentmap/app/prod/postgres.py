"""PostgreSQL for the profile: a private cluster under the profile folder, on loopback.

PostgreSQL refuses to run as root. When we are root, the cluster belongs to the
``postgres`` account that Debian's package creates, and initdb and the server run as that
account (``subprocess`` switches user directly, so the pid we keep is the server's own).
Otherwise they run as the current user. Only TCP on 127.0.0.1 is enabled (no Unix
socket), with password (SCRAM) authentication for every connection.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
from pathlib import Path
from typing import Any

from talentmap.app.prod import processes
from talentmap.app.prod.layout import ProfileError, ProfileLayout, write_private
from talentmap.app.prod.packages import postgres_bin_dir

NAME = "postgres"
SUPERUSER = "postgres"
SERVER_ACCOUNT = "postgres"  # used when we are root
# Database -> owner role. MLflow's tracking store and its basic-auth users are separate
# databases of the `mlflow` role; Feast's SQL registry belongs to `feast`.
DATABASES: dict[str, str] = {"mlflow": "mlflow", "mlflow_auth": "mlflow", "feast": "feast"}


def server_user() -> str | None:
    """The account the server runs as: ``postgres`` when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_ACCOUNT)
    except KeyError as missing:
        raise ProfileError(
            f"running as root, but there is no '{SERVER_ACCOUNT}' account to run PostgreSQL "
            "as (Debian's postgresql package creates it): reinstall the package"
        ) from missing
    return SERVER_ACCOUNT


def url(state: dict[str, Any], role: str, database: str, driver: str = "psycopg") -> str:
    """The SQLAlchemy URL of ``database`` for ``role`` (password included: a secret)."""
    port = state["ports"]["postgres"]
    password = state["passwords"][role]
    return f"postgresql+{driver}://{role}:{password}@127.0.0.1:{port}/{database}"


def _bin(name: str) -> str:
    folder = postgres_bin_dir()
    if folder is None:
        raise ProfileError("PostgreSQL is not installed (Debian package `postgresql`)")
    return str(folder / name)


def _give_to(path: Path, user: str | None) -> None:
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _check_reachable(folder: Path, user: str | None) -> None:
    """The server's account must reach its data folder through every parent folder."""
    if user is None:
        return
    probe = subprocess.run(
        ["test", "-w", str(folder)], user=user, group=pwd.getpwnam(user).pw_gid, check=False
    )
    if probe.returncode != 0:
        raise ProfileError(
            f"the '{user}' account cannot reach {folder}: every parent folder must be "
            "searchable by others (chmod o+x), or put the profile elsewhere with --dir"
        )


def init_cluster(layout: ProfileLayout, state: dict[str, Any]) -> bool:
    """initdb once; False if the cluster already exists."""
    data = layout.postgres_dir
    if (data / "PG_VERSION").is_file():
        return False
    user = server_user()
    data.mkdir(parents=True, exist_ok=True)
    os.chmod(data, 0o700)
    _give_to(data, user)
    _check_reachable(data, user)
    password_file = layout.root / ".postgres-password"
    write_private(password_file, state["passwords"]["postgres"] + "\n")
    _give_to(password_file, user)
    try:
        done = subprocess.run(
            [
                _bin("initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                f"--pwfile={password_file}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
            ],
            user=user,
            group=pwd.getpwnam(user).pw_gid if user else None,
            extra_groups=[] if user else None,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        password_file.unlink(missing_ok=True)
    if done.returncode != 0:
        raise ProfileError(f"initdb failed: {(done.stderr or done.stdout).strip()[-800:]}")
    return True


def start(layout: ProfileLayout, state: dict[str, Any]) -> bool:
    """Start the server if it is not running; False if it already was."""
    if processes.running_pid(layout.run_dir, NAME) is not None:
        return False
    stale = layout.postgres_dir / "postmaster.pid"
    stale.unlink(missing_ok=True)  # ours is not running (checked above): a crash leftover
    log = layout.run_dir / f"{NAME}.log"  # opened by us; the server inherits it
    user = server_user()
    processes.start(
        layout.run_dir,
        NAME,
        [
            _bin("postgres"),
            "-D",
            str(layout.postgres_dir),
            "-p",
            str(state["ports"]["postgres"]),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
        ],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
        user=user,
        cwd=layout.postgres_dir,
    )
    if not processes.wait_until(lambda: _can_connect(state), 60):
        raise ProfileError(f"PostgreSQL did not accept connections in 60 s; see {log}")
    return True


def _connect(state: dict[str, Any], database: str = "postgres") -> Any:
    import psycopg

    return psycopg.connect(
        host="127.0.0.1",
        port=state["ports"]["postgres"],
        user=SUPERUSER,
        password=state["passwords"]["postgres"],
        dbname=database,
        connect_timeout=3,
        autocommit=True,
    )


def _can_connect(state: dict[str, Any]) -> bool:
    try:
        with _connect(state):
            return True
    except Exception:
        return False


def create_databases(state: dict[str, Any]) -> None:
    """The roles (with their generated passwords) and databases; re-running only re-sets
    the passwords."""
    from psycopg import sql

    with _connect(state) as connection:
        for role in sorted(set(DATABASES.values())):
            exists = connection.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)
            ).fetchone()
            verb = "ALTER" if exists else "CREATE"
            connection.execute(
                sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(state["passwords"][role])
                )
            )
        for database, owner in DATABASES.items():
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
            ).fetchone()
            if not exists:
                connection.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(database), sql.Identifier(owner)
                    )
                )


def stop(layout: ProfileLayout) -> bool:
    """Fast shutdown (SIGINT: roll back open transactions, then stop cleanly)."""
    return processes.stop(layout.run_dir, NAME, sig=signal.SIGINT, grace_seconds=60)
