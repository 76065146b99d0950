"""The features stage's commands, as one Typer sub-app (``talentmap features …``); each
lives in a file named for its verb under ``features/commands/``: build the feature tables,
apply the Feast definitions, materialize the online store, show one organisation.
"""

from __future__ import annotations

import typer

from talentmap.features.commands.apply import apply
from talentmap.features.commands.build import build
from talentmap.features.commands.materialize import materialize
from talentmap.features.commands.show import show

app = typer.Typer(
    help="Build feature tables and run the Feast feature store.", no_args_is_help=True
)
app.command("build")(build)
app.command("apply")(apply)
app.command("materialize")(materialize)
app.command("show")(show)
