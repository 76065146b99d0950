"""Typed failures of the training pipeline, each with the exit code its command returns.

A command (``training/commands/``) prints the message as one line and exits with
``exit_code``; the messages therefore say what to change, not where the code stopped.
Codes follow ``sysexits.h`` where one fits; ``training/README.md`` lists them.
"""

from __future__ import annotations

from talentmap.errors import UserDataError

EX_DATAERR = 65  # sysexits.h: the input data was incorrect in some way


class UnusableDataError(UserDataError):
    """The data cannot train a model as configured (too few rows, dates or positives)."""
