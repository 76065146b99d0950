"""The serving stage's commands, as one Typer sub-app; each lives in a file named for its
verb under ``serving/commands/``: ``serve`` runs the BentoML service, ``shortlist`` calls a
running one, ``changes`` asks a running one what changed since the previous ranking,
``keys new|hash`` make API keys.
"""

from __future__ import annotations

import typer

from talentmap.serving.commands.changes import changes_command
from talentmap.serving.commands.keys import keys_hash, keys_new
from talentmap.serving.commands.report import report_region_command
from talentmap.serving.commands.serve import serve_command
from talentmap.serving.commands.shortlist import shortlist_command

SERVICE = "Service: the shortlist service, its client and its keys"

keys_app = typer.Typer(help="Create and hash API keys for the service.", no_args_is_help=True)
keys_app.command("new")(keys_new)
keys_app.command("hash")(keys_hash)

app = typer.Typer(no_args_is_help=True)
app.command("serve", rich_help_panel=SERVICE)(serve_command)
app.command("shortlist", rich_help_panel=SERVICE)(shortlist_command)
app.command("changes", rich_help_panel=SERVICE)(changes_command)
app.add_typer(keys_app, name="keys", rich_help_panel=SERVICE)

report_app = typer.Typer(
    help="Reports for mission staff: the regional ecosystem report.", no_args_is_help=True
)
report_app.command("region")(report_region_command)
app.add_typer(report_app, name="report", rich_help_panel=SERVICE)
