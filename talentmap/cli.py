"""The ``talentmap`` console command: one subcommand per pipeline step.

Each stage keeps its commands beside its code and registers them here, so this module
only assembles the application and does no work at import time.
"""

from __future__ import annotations

import typer

from talentmap.commands import data as data_commands
from talentmap.commands import demo as demo_commands
from talentmap.commands import generate as generate_commands
from talentmap.commands import privacy as privacy_commands
from talentmap.features import cli as feature_commands
from talentmap.importers.command import import_source
from talentmap.serving import cli as serving_commands
from talentmap.training import cli as training_commands
from talentmap.training import cli_mlflow as mlflow_commands
from talentmap.training import cli_retrain as retrain_commands
from talentmap.training import cli_tune as tune_commands

app = typer.Typer(
    name="talentmap",
    help="Find France's most promising young companies and founders early, region by region.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


generate_commands.register(app)
data_commands.register(app)
training_commands.register(app)
mlflow_commands.register(app)
retrain_commands.register(app)
tune_commands.register(app)
serving_commands.register(app)
privacy_commands.register(app)
demo_commands.register(app)
app.add_typer(feature_commands.app, name="features")
app.command("import")(import_source)


if __name__ == "__main__":  # pragma: no cover
    app()
