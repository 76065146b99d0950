"""The ``talentmap`` console command: the application layer assembles every stage's app.

Each stage exposes one Typer sub-app (``features/cli.py``, ``training/cli.py``,
``serving/cli.py``) whose commands live in files named for their verbs; the cross-stage
commands (data, privacy, demo) live in ``talentmap/app/commands/``. ``--help`` groups
the commands by who uses them. Nothing here does work at import time.
"""

from __future__ import annotations

import typer

from talentmap import logs
from talentmap.app.commands import auth as auth_commands
from talentmap.app.commands import backup as backup_commands
from talentmap.app.commands import prod as prod_commands
from talentmap.app.commands.data import ingest_command, validate_command
from talentmap.app.commands.demo import demo
from talentmap.app.commands.forget import forget_command
from talentmap.app.commands.generate import generate
from talentmap.app.commands.restore import restore_command
from talentmap.app.commands.retention import retention_apply_command
from talentmap.app.commands.stop import stop
from talentmap.features import cli as features_cli
from talentmap.importers.command import import_source
from talentmap.serving import cli as serving_cli
from talentmap.training import cli as training_cli

DATA = "Data: make, check and store contract data; build the feature store"
PRIVACY = "Privacy: opt-outs and retention (docs/PRIVACY.md)"
OPERATIONS = training_cli.OPERATIONS

app = typer.Typer(
    name="talentmap",
    help="Find France's most promising young companies and founders early, region by region.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _entry() -> None:
    """Find France's most promising young companies and founders early, region by region."""
    # The entry point's warning policy: other packages' deprecation and future warnings
    # say nothing an operator can act on. ``retrain``, ``schedule`` and ``serve`` also
    # switch to JSON lines when redirected (``talentmap.logs.setup``).
    logs.quiet_third_party_warnings()


app.command("generate", rich_help_panel=DATA)(generate)
app.command("import", rich_help_panel=DATA)(import_source)
app.command("validate", rich_help_panel=DATA)(validate_command)
app.command("ingest", rich_help_panel=DATA)(ingest_command)
app.add_typer(features_cli.app, name="features", rich_help_panel=DATA)
app.add_typer(training_cli.app)
app.add_typer(serving_cli.app)
app.command("forget", rich_help_panel=PRIVACY)(forget_command)

retention_app = typer.Typer(
    help="Apply the retention rules of the lake, the audit log and MLflow.",
    no_args_is_help=True,
)
retention_app.command("apply")(retention_apply_command)
app.add_typer(retention_app, name="retention", rich_help_panel=PRIVACY)

app.command("demo", rich_help_panel=OPERATIONS)(demo)
app.command("stop", rich_help_panel=OPERATIONS)(stop)
app.add_typer(prod_commands.app, name="prod", rich_help_panel=OPERATIONS)
app.add_typer(auth_commands.app, name="auth", rich_help_panel=OPERATIONS)
app.command("backup", rich_help_panel=OPERATIONS)(backup_commands.backup_command)
app.command("restore", rich_help_panel=OPERATIONS)(restore_command)


if __name__ == "__main__":  # pragma: no cover
    app()
