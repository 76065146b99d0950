"""How the training commands fail: one line on stderr and a documented exit code.

A traceback tells an operator where the code stopped, not what to change; the
pipeline's messages say what to change, so the commands print them as one line and
keep the traceback for ``--debug``. Exit codes (also in ``training/README.md``):

====  ==============================================================================
0     done
1     refused for a stated reason: ``--as-of`` after the snapshot, a retrain step
      that failed for a reason other than the data
2     usage error (Typer: a bad option value)
65    unusable data (``sysexits`` EX_DATAERR): too few rows, dates or positives to
      train as configured, or a data directory the ingest policy refuses
70    internal error (EX_SOFTWARE): a bug; ``--debug`` shows the traceback
74    a stored file cannot be read or fails its hash (EX_IOERR), as for ``ingest``
75    another retrain holds the lock (EX_TEMPFAIL): try again later
====  ==============================================================================

Errors that carry their own code (``talentmap.errors.TalentMapError``: bad data, the
lake) keep it, so ``ingest`` and ``backtest`` answer the same code for the same cause.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from talentmap.errors import TalentMapError
from talentmap.training.pipeline.errors import EX_DATAERR

EX_REFUSED = 1
EX_SOFTWARE = 70
EX_TEMPFAIL = 75

Debug = Annotated[
    bool,
    typer.Option(
        "--debug",
        help="On failure, show the Python traceback instead of the one-line message.",
    ),
]


def exit_code_of(failure: BaseException) -> int:
    """The documented exit code of a failure (see the module docstring)."""
    from talentmap.ingest import InvalidSnapshotError
    from talentmap.training.pipeline.backtest import BacktestError
    from talentmap.training.pipeline.errors import UnusableDataError
    from talentmap.training.pipeline.retrain import RetrainBusyError, RetrainError
    from talentmap.training.pipeline.tune import TuneError

    if isinstance(failure, RetrainBusyError):
        return EX_TEMPFAIL
    if isinstance(failure, RetrainError):
        # The step failed because of the data: same code as the step on its own.
        cause = exit_code_of(failure.cause)
        return cause if cause == EX_DATAERR else EX_REFUSED
    if isinstance(failure, UnusableDataError | InvalidSnapshotError):
        return EX_DATAERR
    if isinstance(failure, TalentMapError):
        return int(failure.exit_code)
    if isinstance(failure, BacktestError | TuneError):
        return EX_REFUSED
    return EX_SOFTWARE


def one_line(command: str, failure: BaseException) -> str:
    """What the operator reads: the command, the verdict and the message, on one line."""
    from talentmap.ingest import InvalidSnapshotError
    from talentmap.training.pipeline.retrain import RetrainError

    # pandas and pandera messages span several lines; an operator's log wants one.
    text = " ".join(str(failure).split())
    if isinstance(failure, RetrainError):
        return f"{text}; the champion and the live feature store are unchanged"
    if isinstance(failure, InvalidSnapshotError):
        return f"{command} refused: {text}; `talentmap validate DIR` lists the problems"
    if exit_code_of(failure) == EX_SOFTWARE:
        kind = type(failure).__name__
        return f"{command} failed: internal error ({kind}): {text} (--debug shows the traceback)"
    return f"{command} refused: {text}"


@contextmanager
def reported(command: str, debug: bool, console: Console | None = None) -> Iterator[None]:
    """Turn a failure inside the block into one line on stderr and its exit code.

    With ``debug`` the exception propagates untouched (and Typer shows the traceback).
    """
    try:
        yield
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as failure:
        if debug:
            raise
        out = console or Console(stderr=True)
        # soft_wrap: one logical line however narrow the terminal; escape: a message may
        # hold square brackets that rich would read as markup.
        out.print(f"[red]{escape(one_line(command, failure))}[/]", soft_wrap=True)
        raise typer.Exit(code=exit_code_of(failure)) from None
