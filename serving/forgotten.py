"""Subjects forgotten through ``POST /admin/forget``, shared by every worker of the service.

The worker that answers ``/admin/forget`` appends one line per subject to
``<serving.cache_dir>/forgotten.jsonl`` (``O_APPEND``, one ``os.write`` per line, mode
0600, fsynced) before it drops them from its own ranking; every other worker sees the
file's size or mtime change on its next request (one ``stat``) and drops them too. The
file outlives restarts, so a forgotten subject stays out until ``talentmap forget``'s
register and the next retrain take over. Only ids are written, never a name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from talentmap.serving.ranking import OptOuts

FILE = "forgotten.jsonl"


def forgotten_path(cache_dir: Path) -> Path:
    return Path(cache_dir) / FILE


def forgotten_stamp(path: Path) -> str | None:
    """``"<size>:<mtime_ns>"`` of the file (None when absent): changes on every append."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return f"{found.st_size}:{found.st_mtime_ns}"


def record_forgotten(path: Path, org_ids: Iterable[str], person_ids: Iterable[str]) -> None:
    lines = [{"kind": "org", "id": str(o)} for o in org_ids]
    lines += [{"kind": "person", "id": str(p)} for p in person_ids]
    if not lines:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        for line in lines:
            os.write(fd, (json.dumps(line, sort_keys=True) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_forgotten(path: Path) -> OptOuts:
    """Every subject in the file; a torn last line (a writer killed mid-write) is skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return OptOuts()
    orgs: set[str] = set()
    persons: set[str] = set()
    for raw in text.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(line, dict):
            continue
        if line.get("kind") == "org":
            orgs.add(str(line.get("id")))
        elif line.get("kind") == "person":
            persons.add(str(line.get("id")))
    return OptOuts(frozenset(orgs), frozenset(persons))
