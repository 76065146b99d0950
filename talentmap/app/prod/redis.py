"""Redis for the profile: Feast's online store, on loopback with a generated password.

The password is in a config file (mode 0600), not on the command line where ``ps`` would
show it. Redis keeps an append-only file under the profile folder.
"""

from __future__ import annotations

import os
from typing import Any

from talentmap.app.prod import processes
from talentmap.app.prod.layout import ProfileError, ProfileLayout, write_private
from talentmap.app.prod.packages import redis_server

NAME = "redis"


def connection_string(state: dict[str, Any]) -> str:
    """Feast's ``connection_string`` (password included: a secret)."""
    return f"127.0.0.1:{state['ports']['redis']},password={state['passwords']['redis']}"


def write_config(layout: ProfileLayout, state: dict[str, Any]) -> None:
    lines = [
        "bind 127.0.0.1",
        "protected-mode yes",
        f"port {state['ports']['redis']}",
        f"requirepass {state['passwords']['redis']}",
        f"dir {layout.redis_dir}",
        "appendonly yes",
        "daemonize no",
        'save ""',
        "loglevel notice",
    ]
    write_private(layout.redis_dir / "redis.conf", "\n".join(lines) + "\n")


def _ping(state: dict[str, Any]) -> bool:
    import redis as redis_client

    try:
        client = redis_client.Redis(
            host="127.0.0.1",
            port=state["ports"]["redis"],
            password=state["passwords"]["redis"],
            socket_connect_timeout=2,
        )
        return bool(client.ping())
    except Exception:
        return False


def start(layout: ProfileLayout, state: dict[str, Any]) -> bool:
    """Start the server if it is not running; False if it already was."""
    if processes.running_pid(layout.run_dir, NAME) is not None:
        return False
    binary = redis_server()
    if binary is None:
        raise ProfileError("Redis is not installed (Debian package `redis-server`)")
    write_config(layout, state)
    processes.start(
        layout.run_dir,
        NAME,
        [str(binary), str(layout.redis_dir / "redis.conf")],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        cwd=layout.redis_dir,
    )
    if not processes.wait_until(lambda: _ping(state), 30):
        raise ProfileError(f"Redis did not answer in 30 s; see {layout.run_dir / 'redis.log'}")
    return True


def stop(layout: ProfileLayout) -> bool:
    return processes.stop(layout.run_dir, NAME)
