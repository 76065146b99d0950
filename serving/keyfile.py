"""The accepted API keys, re-read while the service runs: rotation without a restart.

Keys come from two places (``ServingConfig``):

- ``api_keys`` (``TALENTMAP_SERVING__API_KEYS``, or the config file), read at start;
- ``api_keys_file``: a JSON list of ``{name, role, sha256}`` entries, like ``api_keys``.

``KeySource.current()`` is called by the guard middleware on every request. At most every
``keys_check_seconds`` it looks at the key file's ``stat`` (inode, size, mtime in ns) and at
the environment variable; only when one changed does it parse them again and build a new
``KeyRing``. A file that cannot be read or parsed, or entries that reuse a name, keep the
previous keys in force and log an error (a half-written file must not lock every holder
out); write the new file aside and rename it over the old one to rotate atomically.

A process's environment cannot be changed from outside it, so for a running service the
key file is the rotation path; the variable is re-read too, for a process that changes its
own environment (and so that both sources follow one rule).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from talentmap.serving.auth import KeyRing
from talentmap.settings.serving import ApiKeyEntry

ENV_VAR = "TALENTMAP_SERVING__API_KEYS"
logger = logging.getLogger(__name__)
_ENTRIES = TypeAdapter(tuple[ApiKeyEntry, ...])

FileStamp = tuple[int, int, int] | None  # (inode, size, mtime_ns), None: no file


class KeyFileError(ValueError):
    """The key file or variable cannot be used; the previous keys stay in force."""


def parse_entries(text: str, where: str) -> tuple[ApiKeyEntry, ...]:
    """Entries from a JSON list, with the reason on failure."""
    try:
        return _ENTRIES.validate_json(text or "[]")
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise KeyFileError(f"{where}: {problems}") from None


def _stamp(path: Path | None) -> FileStamp:
    if path is None:
        return None
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


class KeySource:
    """The current ``KeyRing``, rebuilt when the key file or the variable changes."""

    def __init__(
        self,
        configured: Sequence[ApiKeyEntry],
        key_file: Path | None,
        check_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[KeyRing], None] | None = None,
    ) -> None:
        self._configured = tuple(configured)
        self._initial_env = os.environ.get(ENV_VAR)
        self.key_file = key_file
        self.check_seconds = check_seconds
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._env: str | None = self._initial_env
        self._file_stamp: FileStamp = None
        self._checked = -float("inf")
        self.problem: str | None = None
        self._ring = KeyRing(self._configured)
        self.refresh(force=True)

    @property
    def ring(self) -> KeyRing:
        return self._ring

    def current(self) -> KeyRing:
        """The keys in force, checked for changes at most every ``check_seconds``."""
        if self._clock() - self._checked >= self.check_seconds:
            self.refresh()
        return self._ring

    def refresh(self, force: bool = False) -> bool:
        """Re-read the sources if they changed (or ``force``); True if the keys changed."""
        with self._lock:
            self._checked = self._clock()
            env = os.environ.get(ENV_VAR)
            stamp = _stamp(self.key_file)
            if not force and env == self._env and stamp == self._file_stamp:
                return False
            self._env, self._file_stamp = env, stamp
            try:
                entries = self._read(env, stamp)
            except (OSError, KeyFileError) as exc:
                self.problem = f"API keys not reloaded, the previous keys stay in force: {exc}"
                logger.error("%s", self.problem, extra={"step": "keys", "outcome": "failed"})
                return False
            self.problem = None
            ring = KeyRing(entries)
            changed = ring.fingerprint() != self._ring.fingerprint()
            self._ring = ring
        if changed or force:
            logger.info(
                "API keys loaded: %d key(s)%s",
                len(ring),
                f" (file {self.key_file})" if self.key_file is not None else "",
                extra={"step": "keys", "outcome": "ok", "keys": len(ring)},
            )
            if self._on_change is not None:
                self._on_change(ring)
        return changed

    def _read(self, env: str | None, stamp: FileStamp) -> tuple[ApiKeyEntry, ...]:
        same_env = env == self._initial_env
        base = self._configured if same_env else parse_entries(env or "[]", ENV_VAR)
        extra: tuple[ApiKeyEntry, ...] = ()
        if self.key_file is not None:
            if stamp is None:
                logger.warning(
                    "API key file %s does not exist: only the configured keys are accepted",
                    self.key_file,
                )
            else:
                extra = parse_entries(self.key_file.read_text(encoding="utf-8"), str(self.key_file))
        entries = base + extra
        names = [e.name for e in entries]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise KeyFileError(f"each key needs a distinct name; repeated: {duplicated}")
        return entries
