"""The reload marker: ``POST /admin/reload`` carried to every worker of the service.

BentoML hands a request to one worker; a reload done there alone would leave the other
workers on the previous champion until their poller notices (or forever, with the poller
off). So the worker that answers ``/admin/reload`` also replaces
``<serving.cache_dir>/reload.json`` (written aside, then renamed over: a reader sees the
old marker or the new one, never half of one), and every worker compares the file's
stamp with the one its ``Served`` was built under on each request (one ``stat``, as for
the published pointer and ``forgotten.jsonl``): a changed stamp makes that worker reload
before it answers. The marker holds who asked, when, and ``force``; no data.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

FILE = "reload.json"


def marker_path(cache_dir: Path) -> Path:
    return Path(cache_dir) / FILE


def marker_stamp(path: Path) -> str | None:
    """``"<inode>:<mtime_ns>:<size>"`` of the marker (None when absent).

    Every bump renames a new file over the old one, so the inode changes even when two
    bumps fall within the file system's timestamp resolution.
    """
    try:
        found = os.stat(path)
    except OSError:
        return None
    return f"{found.st_ino}:{found.st_mtime_ns}:{found.st_size}"


def bump_marker(path: Path, force: bool, by: str) -> str | None:
    """Replace the marker atomically; returns its new stamp."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"force": bool(force), "by": by, "at": time.time()}
    fd, tmp = tempfile.mkstemp(prefix=".reload-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(body, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return marker_stamp(path)


def read_marker(path: Path) -> dict[str, Any]:
    """The marker's body; ``{}`` when absent or unreadable (then: a forced reload)."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}
