"""Where MLflow keeps runs and models, nested into ``Settings`` as ``tracking``.

Only configuration lives here; ``talentmap.training.tracking`` resolves it into a target.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class TrackingConfig(BaseModel):
    """Where MLflow keeps runs and models, and the promotion gate's margin."""

    model_config = ConfigDict(extra="forbid")

    uri: str = Field(
        "sqlite:///mlflow/mlruns.db",
        description=(
            "MLflow tracking URI. A relative sqlite path is resolved against Settings.home; "
            "http(s):// points at a remote tracking server (credentials from MLflow's "
            "environment variables only)."
        ),
    )
    registry_uri: str | None = Field(
        None, description="Model registry URI when it differs from the tracking URI."
    )
    artifact_root: str = Field(
        "mlflow/artifacts",
        description=(
            "Artifact location given to experiments this project creates: a folder "
            "(relative to Settings.home) or a URI such as s3://bucket/prefix. Ignored for a "
            "relative folder when the tracking URI is a remote server (the server decides)."
        ),
    )
    experiment: str = Field("talent-promise", description="Experiment of the training runs.")
    promotion_experiment: str = Field(
        "talent-promise-promotion", description="Experiment of the promotion-gate decisions."
    )
    registered_model: str = Field("talent-promise", description="Registered model name.")
    promotion_margin: float = Field(
        0.005,
        ge=0,
        le=1,
        description=(
            "The challenger becomes champion only if its AUC-PR is at least the champion's "
            "plus this margin, both scored on the challenger's evaluation window."
        ),
    )
    history_file: Path = Field(
        Path("mlflow/champion_history.jsonl"),
        description="Append-only JSON-lines history of champion changes (relative to home).",
    )
    run_user: str = Field(
        "talentmap",
        description=(
            "Recorded as the runs' mlflow.user instead of the OS account name, which is "
            "often a person's name."
        ),
    )
    ui_host: str = Field("127.0.0.1", description="Host the MLflow UI binds to.")
    ui_port: int = Field(5000, ge=1, le=65535, description="Port of the MLflow UI.")
