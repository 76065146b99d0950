"""Command-line options shared by several commands, so their help and values agree."""

from __future__ import annotations

from typing import Annotated

import typer

from talentmap.policy import Policy

PolicyOption = Annotated[
    Policy | None,
    typer.Option(
        "--policy",
        help="What to do with data that breaks the contract: strict refuses it; repair "
        "blanks bad optional values and drops only rows with a broken key or required "
        "value (and the rows that refer to them); quarantine drops every failing row. "
        "Default: the configured lake.policy (repair). See data/CONTRACT.md.",
        show_default=False,
    ),
]
