"""``talentmap promote``: run the champion/challenger gate and show its evidence.

Exit code 0 whenever the gate decided, promoted or not (keeping the champion is a normal
outcome, and cron must not alert on it); 1 when it could not decide (no challenger,
missing evaluation rows, unreachable tracking server).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

SHOWN = (
    ("auc_pr", "AUC-PR (gate)"),
    ("auc_roc", "AUC-ROC"),
    ("precision@100", "precision@100"),
    ("lift@100", "lift@100"),
    ("ndcg@100", "NDCG@100"),
    ("brier", "Brier"),
    ("ece", "calibration error"),
)


def _cell(report: dict[str, Any] | None, key: str) -> str:
    if report is None:
        return "—"
    value = report.get(key)
    return "n/a" if value is None else f"{value:.4f}"


def decision_table(decision: Any) -> Table:
    """Both models' metrics on the challenger's evaluation window, side by side."""
    champion = f"champion v{decision.champion_before}" if decision.champion_before else "champion"
    table = Table(
        "metric",
        f"challenger v{decision.challenger_version}",
        champion,
        title=(
            f"{decision.model_name}: evaluation window {decision.evaluation_as_of}, "
            f"{decision.evaluation_rows:,} rows, margin {decision.margin:.4f}"
        ),
    )
    for key, label in SHOWN:
        table.add_row(
            label,
            _cell(decision.challenger_metrics, key),
            _cell(decision.champion_metrics, key),
        )
    return table


def promote_command(
    margin: Annotated[
        float | None,
        typer.Option(
            "--margin",
            min=0.0,
            max=1.0,
            help="AUC-PR margin the challenger must beat the champion by "
            "(default: the configured tracking.promotion_margin, 0.005).",
        ),
    ] = None,
) -> None:
    """Promote @challenger to @champion if it beats the champion on the same window."""
    from mlflow.exceptions import MlflowException

    from talentmap.settings import get_settings
    from talentmap.training.tracking.registry import PromotionError, promote
    from talentmap.training.tracking.target import resolve_target

    console = Console()
    with console.status("Scoring challenger and champion on the latest backtest window"):
        try:
            decision = promote(resolve_target(get_settings()), margin=margin)
        except (PromotionError, MlflowException, OSError) as exc:
            console.print(f"[red]promotion gate could not decide:[/] {exc}")
            raise typer.Exit(code=1) from exc
    console.print(decision_table(decision))
    colour = "green" if decision.promoted else "yellow"
    verdict = (
        f"v{decision.challenger_version} is now @champion"
        if decision.promoted
        else f"@champion stays {('v' + decision.champion_after) if decision.champion_after else 'unset'}"
    )
    console.print(f"[{colour}]{decision.decision}:[/] {verdict} — {decision.reason}")
    console.print(f"Decision logged as MLflow run {decision.promotion_run_id}.")
