"""The Debian packages the profile runs on: found, or installed with apt-get when missing.

Installing needs root, as on CI and the development machines (the Makefile installs
Chromium the same way); anyone else gets the command to run.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

from talentmap.app.prod.layout import ProfileError

POSTGRES_PACKAGE = "postgresql"
REDIS_PACKAGE = "redis-server"


def postgres_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with initdb, else initdb on PATH."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def redis_server() -> Path | None:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )
    return Path(found) if found else None


def missing_packages() -> list[str]:
    missing = []
    if postgres_bin_dir() is None:
        missing.append(POSTGRES_PACKAGE)
    if redis_server() is None:
        missing.append(REDIS_PACKAGE)
    return missing


def ensure_installed(install: bool = True) -> list[str]:
    """Install the missing packages with apt-get; the packages installed (maybe none)."""
    missing = missing_packages()
    if not missing:
        return []
    command = f"apt-get install -y {' '.join(missing)}"
    if not install:
        raise ProfileError(f"missing Debian packages: {', '.join(missing)}; run `{command}`")
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ProfileError(
            f"missing Debian packages: {', '.join(missing)}; installing them needs root and "
            f"apt-get: run `sudo {command}`, then try again"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ProfileError(
                f"`{' '.join(argv)}` failed ({done.returncode}): {done.stderr.strip()[-800:]}"
            )
    still = missing_packages()
    if still:
        raise ProfileError(f"apt-get ran but these are still missing: {', '.join(still)}")
    return missing
