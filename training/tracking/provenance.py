"""Which code and which environment produced a run: git commit and installed packages.

Both are best effort by design: a run from an installed wheel or a tarball has no git
repository, and that must not stop training; it is recorded as "unknown" instead.
"""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

UNKNOWN = "unknown"
_GIT_TIMEOUT_S = 10


@dataclass(frozen=True)
class GitState:
    commit: str  # full hash, or "unknown" outside a repository
    dirty: bool | None  # uncommitted changes to tracked files; None when unknown


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def git_state(where: Path | None = None) -> GitState:
    """The commit of the repository holding ``where`` (default: this package's source)."""
    folder = Path(where) if where is not None else Path(__file__).resolve().parent
    if not folder.is_dir():
        folder = folder.parent
    commit = _git(["rev-parse", "HEAD"], folder)
    if not commit:
        return GitState(UNKNOWN, None)
    # Untracked files do not change what ran; modified tracked files do.
    status = _git(["status", "--porcelain", "--untracked-files=no"], folder)
    return GitState(commit, None if status is None else bool(status))


def installed_packages() -> list[str]:
    """``name==version`` of every installed distribution, sorted (a ``pip freeze``)."""
    pins = {
        (dist.metadata["Name"] or "").lower(): dist.version
        for dist in importlib.metadata.distributions()
        if dist.metadata["Name"]
    }
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def environment_tags() -> dict[str, str]:
    """A handful of searchable facts about the interpreter and the key libraries."""
    tags = {
        "env.python": platform.python_version(),
        "env.implementation": sys.implementation.name,
        "env.platform": platform.platform(),
    }
    for name in ("mlflow", "lightgbm", "scikit-learn", "pandas", "numpy", "feast"):
        try:
            tags[f"env.{name}"] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            tags[f"env.{name}"] = UNKNOWN
    return tags
