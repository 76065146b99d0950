"""Errors a person can act on, and how a command reports them.

A ``TalentMapError`` is about the user's data, the stored lake or the machine, never a
bug in TalentMap: a command wrapped with ``reports_errors`` prints its message as one
line on stderr and exits with the error's documented code. The traceback is shown only
with ``--debug`` (or ``TALENTMAP_DEBUG=1``). Any other exception is a bug: it keeps
Python's traceback and exit code 1.

Exit codes (documented in the README's command-line section):

====  ==================================================================================
0     success
1     an unexpected error: a bug, reported with its traceback
2     a bad option or argument (Click's usage error)
65    the data breaks the contract and the chosen policy refuses it (``EX_DATAERR``)
74    a file or folder cannot be read or written, or a stored file fails its hash
      (``EX_IOERR``); the lake is left as it was
75    another run holds the lock; try again later (``EX_TEMPFAIL``, ``talentmap retrain``)
====  ==================================================================================
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from enum import IntEnum
from typing import Annotated, Any, ClassVar, TypeVar


class ExitCode(IntEnum):
    """Process exit codes of the ``talentmap`` commands (sysexits.h where one fits)."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    DATA_INVALID = 65
    IO_ERROR = 74
    BUSY = 75


class TalentMapError(Exception):
    """An error the user can act on: reported in one line, with ``exit_code``."""

    exit_code: ClassVar[int] = ExitCode.INTERNAL


class UserDataError(TalentMapError):
    """The user's data cannot be used as it is (it breaks the contract)."""

    exit_code: ClassVar[int] = ExitCode.DATA_INVALID


class StorageError(TalentMapError):
    """Stored data cannot be read or written, or no longer matches its record."""

    exit_code: ClassVar[int] = ExitCode.IO_ERROR


F = TypeVar("F", bound=Callable[..., Any])

DEBUG_ENV = "TALENTMAP_DEBUG"


def reports_errors(command: F) -> F:
    """Wrap a Typer command: known errors become one line and their exit code.

    Adds a ``--debug`` option to the command, which re-raises instead (full traceback).
    ``OSError`` counts as a known error too (a full disk, a read-only folder): it is about
    the machine, and the lake's staging guarantees nothing was half-written.
    """
    import typer  # lazily: the error types above must stay importable without the CLI

    signature = inspect.signature(command, eval_str=True)
    if "debug" in signature.parameters:
        raise TypeError(f"{command.__name__} already has a 'debug' parameter")
    debug_option = inspect.Parameter(
        "debug",
        inspect.Parameter.KEYWORD_ONLY,
        default=False,
        annotation=Annotated[
            bool,
            typer.Option(
                "--debug",
                envvar=DEBUG_ENV,
                help="On an error, show the full traceback instead of one line.",
            ),
        ],
    )

    @functools.wraps(command)
    def wrapper(*args: Any, debug: bool = False, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (TalentMapError, OSError) as error:
            if debug:
                raise
            report_error(error)
            raise typer.Exit(code=exit_code_of(error)) from None

    # Typer reads the signature: the original parameters, then --debug.
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), debug_option]
    )
    return wrapper  # type: ignore[return-value]


def exit_code_of(error: BaseException) -> int:
    if isinstance(error, TalentMapError):
        return int(error.exit_code)
    if isinstance(error, OSError):
        return int(ExitCode.IO_ERROR)
    return int(ExitCode.INTERNAL)


def one_line(error: BaseException) -> str:
    """The error as one line (messages of nested causes can hold newlines)."""
    return " ".join(str(error).split()) or type(error).__name__


def report_error(error: BaseException) -> None:
    from rich.console import Console
    from rich.markup import escape

    # soft_wrap: one line a log reader can grep, however narrow the terminal.
    Console(stderr=True).print(f"[red]error:[/] {escape(one_line(error))}", soft_wrap=True)
