"""Logs of the long-running commands (``retrain``, ``schedule``, ``serve``): JSON lines
when the output is not a terminal, and no third-party deprecation noise.

On a terminal nothing changes: people read rich's status lines and colours. When stdout or
stderr is redirected (cron, systemd, ``> file``), ``structured_output`` makes the process write one
JSON object per line, and only that:

- records of the ``logging`` module go to stderr as JSON (``JsonFormatter``): ``ts``,
  ``level``, ``logger``, ``command``, ``message``, and the step fields when there are any:
  ``step``, ``duration_s``, ``rows``, ``outcome`` (``ok`` | ``failed`` | ``skipped``),
  ``reason``;
- anything a library prints (Feast's materialization lines, progress bars, MLflow's
  messages, warnings) is turned into such a line too, with ANSI codes removed
  (``LineLogger`` replaces ``sys.stdout`` and ``sys.stderr``; MLflow is told not to
  configure its own handlers, and handlers already set up by libraries are removed so
  their records reach the JSON handler);
- rich writes no colour codes to a stream that is not a terminal, and the ANSI codes that
  libraries print anyway (Feast) are removed from the lines.

``structured_output`` does this for the time of a ``with`` block. ``quiet_third_party_warnings`` hides DeprecationWarning, PendingDeprecationWarning and
FutureWarning raised from other packages' code, keeping ours. It is called by our entry
points only (the CLI's callback, ``talentmap serve`` and the service worker), never at
import time of library code. ``StepClock`` times named steps and logs one line for each.

Ground layer: this module imports nothing from ``talentmap``.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

JSON_ENV = "TALENTMAP_LOG_FORMAT"  # "json" forces JSON lines, "text" forbids them
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
STEP_FIELDS = ("step", "duration_s", "rows", "outcome", "reason")
_NOISY = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


def is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def wants_json() -> bool:
    """JSON lines unless both stdout and stderr are terminals (``TALENTMAP_LOG_FORMAT``
    overrides: ``json`` or ``text``)."""
    forced = os.environ.get(JSON_ENV, "").strip().lower()
    if forced in {"json", "text"}:
        return forced == "json"
    return not (is_terminal(sys.stdout) and is_terminal(sys.stderr))


def _ours(filename: str) -> bool:
    parts = os.path.normpath(filename).split(os.sep)
    return "site-packages" not in parts and any(
        p in {"talentmap", "features", "training", "serving"} for p in parts
    )


def quiet_third_party_warnings() -> None:
    """Hide deprecation and future warnings raised from other packages; keep ours.

    Two layers: warning filters, and a ``showwarning`` hook for warnings shown anyway
    because a library changed the filters on its own (MLflow's start-up shows SQLAlchemy
    deprecations through such a context).
    """
    for category in _NOISY:
        warnings.filterwarnings("ignore", category=category)
    for category in _NOISY:  # inserted in front: ours match first
        warnings.filterwarnings("default", category=category, module=r"talentmap(\.|$)")
    shown = warnings.showwarning
    if getattr(shown, "_talentmap_quiet", False):
        return

    def show(message: Any, category: type[Warning], filename: str, *args: Any, **kw: Any) -> None:
        if issubclass(category, _NOISY) and not _ours(filename):
            return
        shown(message, category, filename, *args, **kw)

    show._talentmap_quiet = True  # type: ignore[attr-defined]
    warnings.showwarning = show


class JsonFormatter(logging.Formatter):
    """One JSON object per record, without ANSI codes."""

    def __init__(self, command: str | None = None) -> None:
        super().__init__()
        self.command = command

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if self.command is not None:
            entry["command"] = self.command
        entry["message"] = strip_ansi(record.getMessage())
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = strip_ansi(value) if isinstance(value, str) else value
        if record.exc_info and record.exc_info[1] is not None:
            entry.setdefault("error", type(record.exc_info[1]).__name__)
        return json.dumps(entry, default=str, ensure_ascii=False)


class LineLogger(io.TextIOBase):
    """A text stream that logs each line written to it (ANSI removed, blank lines dropped).

    Progress bars rewrite a line with carriage returns: only the last state is kept.
    """

    def __init__(self, logger: logging.Logger, level: int, original: TextIO) -> None:
        super().__init__()
        self._logger = logger
        self._level = level
        self._original = original
        self._pending = ""

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._original.fileno()

    def write(self, text: str) -> int:
        self._pending += text
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            self._emit(line)
        return len(text)

    def flush(self) -> None:
        self._original.flush()

    def close_line(self) -> None:
        if self._pending:
            line, self._pending = self._pending, ""
            self._emit(line)

    def _emit(self, line: str) -> None:
        text = strip_ansi(line.split("\r")[-1] if "\r" in line.rstrip("\r") else line).strip()
        if text:
            self._logger.log(self._level, "%s", text)


@contextmanager
def structured_output(command: str, *, json_lines: bool | None = None) -> Iterator[bool]:
    """An entry point's logging, for the time of the block; yields True for JSON lines.

    Everything it changes (``sys.stdout``/``sys.stderr``, the root logger's handlers and
    level, libraries' handlers, ``warnings.showwarning``) is put back when the block ends,
    so a test runner calling the command in-process gets its streams back.
    """
    quiet_third_party_warnings()
    use_json = wants_json() if json_lines is None else json_lines
    if not use_json or isinstance(sys.stderr, LineLogger):  # off, or already set up
        yield use_json
        return
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    saved_out, saved_err, saved_show = sys.stdout, sys.stderr, warnings.showwarning
    root = logging.getLogger()
    saved_root = (list(root.handlers), root.level)
    ours = [logging.getLogger(n) for n in ("talentmap", "stdout", "stderr")]
    saved_levels = [logger.level for logger in ours]
    moved: list[tuple[logging.Logger, list[logging.Handler], bool]] = []
    handler = logging.StreamHandler(saved_err)
    handler.setFormatter(JsonFormatter(command))
    for existing in saved_root[0]:
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)  # libraries: warnings and errors only
    for logger in ours:
        logger.setLevel(logging.INFO)
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and logger.handlers:  # libraries' own handlers
            moved.append((logger, list(logger.handlers), logger.propagate))
            for existing in list(logger.handlers):
                logger.removeHandler(existing)
            logger.propagate = True
    logging.captureWarnings(True)
    quiet_third_party_warnings()  # wraps logging's hook: noise is dropped before it
    sys.stdout = LineLogger(logging.getLogger("stdout"), logging.INFO, saved_out)
    sys.stderr = LineLogger(logging.getLogger("stderr"), logging.INFO, saved_err)
    try:
        yield True
    finally:
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, LineLogger):
                stream.close_line()
        sys.stdout, sys.stderr = saved_out, saved_err
        logging.captureWarnings(False)
        warnings.showwarning = saved_show
        root.removeHandler(handler)
        for existing in saved_root[0]:
            root.addHandler(existing)
        root.setLevel(saved_root[1])
        for logger, level in zip(ours, saved_levels, strict=True):
            logger.setLevel(level)
        for logger, handlers, propagate in moved:
            for existing in handlers:
                logger.addHandler(existing)
            logger.propagate = propagate
        handler.flush()


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler writing to whatever ``sys.stderr`` is at each record (rich's live display
    swaps it while a spinner runs, so the lines print above the spinner)."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:  # StreamHandler.__init__ assigns it
        pass


@contextmanager
def text_progress(active: bool, names: tuple[str, ...] = ("talentmap",)) -> Iterator[None]:
    """Readable progress lines (``HH:MM:SS message``) on stderr from these loggers' INFO
    records, for the time of the block, when ``active`` (text mode: in JSON mode
    ``structured_output`` already writes them as JSON lines).

    Long commands (``features build``, ``features materialize``, ``retrain``) log a line
    per step, family or chunk; without a handler those records would be dropped.
    """
    if not active:
        yield
        return
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    handler.setLevel(logging.INFO)
    loggers = [logging.getLogger(name) for name in names]
    saved = [(logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False  # the root's handlers (if any) would print it twice
    try:
        yield
    finally:
        for logger, (level, propagate) in zip(loggers, saved, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate
        handler.flush()


def json_handlers_for(names: tuple[str, ...], command: str) -> None:
    """Give the handlers of these loggers (and the root's) the JSON format.

    For processes whose logging is configured by someone else (BentoML's workers): the
    records keep going where that configuration sends them, as JSON lines.
    """
    formatter = JsonFormatter(command)
    for name in ("", *names):
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(formatter)


class StepClock:
    """Times named steps and logs one record per step: step, duration_s, outcome, facts."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.current: str | None = None
        self._started = 0.0
        self._facts: dict[str, Any] = {}

    def begin(self, step: str) -> None:
        """Start ``step``; the step in progress, if any, ended well."""
        self.end()
        self.current, self._started, self._facts = step, time.perf_counter(), {}

    def note(self, **facts: Any) -> None:
        """Facts of the step in progress (``rows=...``), logged when it ends."""
        self._facts.update(facts)

    def end(self, outcome: str = "ok", reason: str | None = None, **facts: Any) -> None:
        if self.current is None:
            return
        extra: dict[str, Any] = {
            "step": self.current,
            "duration_s": round(time.perf_counter() - self._started, 3),
            **self._facts,
            **facts,
            "outcome": outcome,
        }
        if reason is not None:
            extra["reason"] = " ".join(reason.split())
        level = logging.ERROR if outcome == "failed" else logging.INFO
        self.logger.log(level, "%s %s", self.current, outcome, extra=extra)
        self.current = None

    def fail(self, reason: str) -> None:
        self.end("failed", reason)
