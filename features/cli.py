"""Placeholder, replaced by the feature store's commands."""

import typer

app = typer.Typer(
    help="Build feature tables and run the Feast feature store.", no_args_is_help=True
)
