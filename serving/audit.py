"""The append-only audit trail: who fetched which shortlist, when, with which model.

One JSON object per line. The file is opened with ``O_APPEND`` and every record is one
``os.write`` of a whole line, so concurrent writers (threads, or several workers) never
interleave inside a line and nothing is buffered in the process: a record is in the kernel
before the response leaves. Records name the key holder (its configured name, never the
key) and list organisation ids only; no person's name or id is ever written here.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

AUDIT_FORMAT = 1


class AuditLog:
    """Appends records to one JSONL file; the file is created (mode 0600) on first use."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._lock = threading.Lock()

    def _open(self) -> int:
        # Retention rewrites the file and renames the new one over it: a descriptor on the
        # old inode would write into a file nobody reads again, so reopen when it changed.
        if self._fd is not None and not self._same_file(self._fd):
            os.close(self._fd)
            self._fd = None
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return self._fd

    def _same_file(self, fd: int) -> bool:
        try:
            return os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            return False

    def write(self, event: str, who: str, role: str, **fields: Any) -> dict[str, Any]:
        """Append one record and return it. Raises OSError if it could not be written."""
        record = {
            "format": AUDIT_FORMAT,
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": event,
            "who": who,
            "role": role,
            **fields,
        }
        line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        with self._lock:
            while True:
                fd = self._open()
                # Retention rewrites under the same lock; if it swapped the file while we
                # waited for the lock, this descriptor is stale: reopen and try again.
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    if self._same_file(fd):
                        written = os.write(fd, line)
                        break
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            if written != len(line):  # a short write would leave a broken line
                raise OSError(f"audit log {self.path}: short write ({written}/{len(line)})")
        return record

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def read_audit(path: Path) -> list[dict[str, Any]]:
    """Every record of an audit file (for tests and reports)."""
    if not Path(path).is_file():
        return []
    with Path(path).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
