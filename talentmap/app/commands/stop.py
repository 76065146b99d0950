"""``talentmap stop``: stop the service and MLflow UI that ``talentmap demo`` left running."""

from __future__ import annotations

from rich.console import Console

from talentmap.settings import get_settings

console = Console()


def stop() -> None:
    """Stop the shortlist service and MLflow UI that `talentmap demo` left running."""
    from talentmap.app import background
    from talentmap.app.commands.demo import DEMO_RUN_DIR

    folder = get_settings().path(DEMO_RUN_DIR)
    for name in ("serve", "mlflow-ui"):
        stopped = background.stop(folder, name)
        console.print(f"{name}: {'stopped' if stopped else 'not running'}")
