"""Where MLflow keeps runs and models, and the context that points MLflow at it.

The embedded default is a SQLite backend ``mlflow/mlruns.db`` with artifacts under
``mlflow/artifacts``, both relative to ``Settings.home``; any other tracking URI
(``http://...`` for a remote server) is used as given, and credentials for it come from
MLflow's own environment variables only (``MLFLOW_TRACKING_USERNAME``/``PASSWORD``/
``TOKEN``), never from the config file. The tags and artifact names every stage shares
(training runs, the promotion gate, serving) live here too, so none of them has to
import the run logging to read a run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from talentmap.settings.tracking import TrackingConfig

# MLflow itself is imported inside the functions: the CLI loads this module on every call.
if TYPE_CHECKING:
    from mlflow import MlflowClient

    from talentmap.settings import Settings

MODEL_SCORER = "model"
LABEL = "label"
ID_COLUMNS = ("org_id", "as_of")
KS: tuple[int, ...] = (50, 100, 500)
EVALUATION_ARTIFACT = "evaluation/evaluation_rows.parquet"
MODEL_ARTIFACT_NAME = "model"
TAG_MODEL_URI = "talentmap.model_uri"
TAG_WINDOW = "talentmap.evaluation_as_of"
TAG_STAGE = "talentmap.stage"
_BAD_KEY_CHARS = re.compile(r"[^\w\-. /]")


@dataclass(frozen=True)
class TrackingTarget:
    """A resolved ``TrackingConfig``: absolute paths, ready for MLflow."""

    tracking_uri: str
    registry_uri: str | None
    artifact_root: str | None  # None: let the tracking server choose
    experiment: str
    promotion_experiment: str
    registered_model: str
    promotion_margin: float
    history_path: Path
    run_user: str
    ui_host: str
    ui_port: int

    @property
    def sqlite_path(self) -> Path | None:
        prefix = "sqlite:///"
        if self.tracking_uri.startswith(prefix):
            return Path(self.tracking_uri[len(prefix) :])
        return None


def _is_remote(uri: str) -> bool:
    return uri.split(":", 1)[0].lower() in {"http", "https", "databricks"}


def _resolve_sqlite(uri: str, home: Path) -> str:
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix) :].startswith("/"):
        return f"{prefix}{(home / uri[len(prefix) :]).resolve()}"
    return uri


def resolve_target(
    settings: Settings | None = None,
    *,
    config: TrackingConfig | None = None,
    home: Path | None = None,
) -> TrackingTarget:
    """Resolve paths against ``home`` (default: ``settings.home``, else the working dir).

    ``config`` and ``home`` override the settings' ``tracking`` group and ``home``: tests
    and tools point at a throwaway store without building a whole ``Settings``.
    """
    cfg = config or (settings.tracking if settings is not None else TrackingConfig())
    base = Path(home if home is not None else (settings.home if settings else Path("."))).resolve()
    uri = _resolve_sqlite(cfg.uri, base)
    root: str | None
    if "://" in cfg.artifact_root:
        root = cfg.artifact_root
    elif _is_remote(uri) and not Path(cfg.artifact_root).is_absolute():
        root = None
    else:
        root = (base / cfg.artifact_root).resolve().as_uri()
    registry = _resolve_sqlite(cfg.registry_uri, base) if cfg.registry_uri else None
    history = cfg.history_file if cfg.history_file.is_absolute() else base / cfg.history_file
    return TrackingTarget(
        tracking_uri=uri,
        registry_uri=registry,
        artifact_root=root,
        experiment=cfg.experiment,
        promotion_experiment=cfg.promotion_experiment,
        registered_model=cfg.registered_model,
        promotion_margin=cfg.promotion_margin,
        history_path=history.resolve(),
        run_user=cfg.run_user,
        ui_host=cfg.ui_host,
        ui_port=cfg.ui_port,
    )


@contextlib.contextmanager
def activate(target: TrackingTarget) -> Iterator[MlflowClient]:
    """Point MLflow's fluent API at ``target`` for the block, then restore the previous URIs.

    Creates the local folders a SQLite store needs (SQLite cannot create a directory).
    """
    import mlflow
    from mlflow.tracking import _model_registry, _tracking_service

    # Batch jobs and cron mails: no per-file download bars, no INFO chatter from MLflow.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    if target.sqlite_path is not None:
        target.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    if target.artifact_root and target.artifact_root.startswith("file://"):
        Path(target.artifact_root.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
    previous_tracking = _tracking_service.utils._tracking_uri
    previous_registry = _model_registry.utils._registry_uri
    mlflow.set_tracking_uri(target.tracking_uri)
    mlflow.set_registry_uri(target.registry_uri or target.tracking_uri)
    try:
        yield mlflow.MlflowClient(target.tracking_uri, target.registry_uri or target.tracking_uri)
    finally:
        mlflow.set_tracking_uri(previous_tracking)
        mlflow.set_registry_uri(previous_registry)


def ui_command(target: TrackingTarget, mlflow_bin: str = "mlflow") -> list[str]:
    """The ``mlflow server`` command line that shows this store's runs and models.

    Only meaningful for a local store (a remote server already has its UI); binds to the
    configured host, 127.0.0.1 by default, so the UI is not exposed on the network.
    """
    command = [mlflow_bin, "server", "--backend-store-uri", target.tracking_uri]
    if target.artifact_root:
        command += ["--default-artifact-root", target.artifact_root]
    return [*command, "--host", target.ui_host, "--port", str(target.ui_port), "--workers", "1"]


def ensure_experiment(client: MlflowClient, name: str, artifact_root: str | None) -> str:
    """The experiment's id, creating it with its artifact location under ``artifact_root``.

    The location must be set at creation: with a SQLite store MLflow would otherwise put
    artifacts in ``./mlruns`` of whatever the working directory is. A deleted experiment
    of the same name is restored rather than shadowed.
    """
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
        return str(found.experiment_id)
    location = f"{artifact_root.rstrip('/')}/{_slug(name)}" if artifact_root else None
    try:
        return str(client.create_experiment(name, artifact_location=location))
    except MlflowException:
        # Another process created it between our lookup and our create.
        again = client.get_experiment_by_name(name)
        if again is None:
            raise
        return str(again.experiment_id)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "experiment"


def metric_key(*parts: str) -> str:
    """An MLflow-safe key: ``'@'`` -> ``'_at_'``, other disallowed characters -> ``'_'``.

    MLflow keys allow letters, digits, ``_ - . /``, spaces and colons (not on Windows);
    ``precision@50`` would be rejected, so it becomes ``precision_at_50``.
    """
    joined = ".".join(str(p).replace("@", "_at_") for p in parts)
    return _BAD_KEY_CHARS.sub("_", joined).replace(" ", "_")
