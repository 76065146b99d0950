"""The training stage's commands, as one Typer sub-app; each command lives in a file named
for its verb under ``training/commands/``.

The application (``talentmap.app.cli``) mounts this app without a group name, so the
commands stay top-level (``talentmap backtest``), grouped in ``--help`` by who uses them.
"""

from __future__ import annotations

import typer

from talentmap.training.commands.backtest import backtest_command
from talentmap.training.commands.mlflow_ui import mlflow_ui_command
from talentmap.training.commands.promote import promote_command
from talentmap.training.commands.retrain import retrain_command
from talentmap.training.commands.schedule import schedule_command
from talentmap.training.commands.train import train_command
from talentmap.training.commands.tune import tune_command

MODEL = "Model: backtests, training, tuning and promotion"
OPERATIONS = "Operations: scheduled retraining and the MLflow UI"

app = typer.Typer(no_args_is_help=True)
app.command("backtest", rich_help_panel=MODEL)(backtest_command)
app.command("train", rich_help_panel=MODEL)(train_command)
app.command("tune", rich_help_panel=MODEL)(tune_command)
app.command("promote", rich_help_panel=MODEL)(promote_command)
app.command("retrain", rich_help_panel=OPERATIONS)(retrain_command)
app.command("schedule", rich_help_panel=OPERATIONS)(schedule_command)
app.command("mlflow-ui", rich_help_panel=OPERATIONS)(mlflow_ui_command)
