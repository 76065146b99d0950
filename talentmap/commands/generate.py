"""Placeholder, replaced by the stage's own commands."""

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the application."""
