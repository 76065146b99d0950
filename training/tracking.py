"""MLflow tracking for training runs: where the store is, and what one run must carry.

Configuration (``TrackingConfig``) is a plain pydantic model for ``Settings`` to nest as
``tracking`` (env ``TALENTMAP_TRACKING__URI`` etc.). The embedded default is a SQLite
backend ``mlflow/mlruns.db`` with artifacts under ``mlflow/artifacts``, both relative to
``Settings.home``; any other tracking URI (``http://...`` for a remote server) is used as
given, and credentials for it come from MLflow's own environment variables only
(``MLFLOW_TRACKING_USERNAME``/``PASSWORD``/``TOKEN``), never from the config file.

``log_training_run`` records everything an auditor needs for one trained model: params
(hyperparameters, candidate and label rules), metrics of the model *and* the baselines on
the same evaluation window, lineage (snapshot id, table hashes, feature service and list,
as-of dates, rows, base rates), git commit and environment, plots, the model card, the
evaluation rows (ids, features, label: what the promotion gate re-scores) and the model
itself as a pyfunc; then it registers the model as the new ``challenger``.

No personal names reach MLflow: the evaluation rows are cut down to ``org_id``, ``as_of``,
the model's features and the label; audit groups are team-level categories; and the
``mlflow.user`` tag (the OS account name by default, often a person's name) is replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from talentmap.training.config import PromiseRules
from talentmap.training.labels import label_window_end

# Heavy libraries (mlflow, scikit-learn, matplotlib) are imported inside the functions:
# ``TrackingConfig`` is nested in the settings, which every CLI command loads.

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from talentmap.training.fairness import FairnessConfig
    from talentmap.training.model import PromiseModel

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


def tracking_config(settings: Any | None) -> TrackingConfig:
    """The ``tracking`` group of a Settings-like object, or the defaults before it exists."""
    config = getattr(settings, "tracking", None)
    return config if isinstance(config, TrackingConfig) else TrackingConfig()


def resolve_target(
    settings: Any | None = None,
    *,
    config: TrackingConfig | None = None,
    home: Path | None = None,
) -> TrackingTarget:
    """Resolve paths against ``home`` (default: ``settings.home``, else the working dir)."""
    cfg = config or tracking_config(settings)
    base = Path(home if home is not None else getattr(settings, "home", Path("."))).resolve()
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


def as_target(settings_or_target: Any) -> TrackingTarget:
    """Accept a ``TrackingTarget`` as is, or resolve one from a Settings-like object."""
    if isinstance(settings_or_target, TrackingTarget):
        return settings_or_target
    return resolve_target(settings_or_target)


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


# ------------------------------------------------------------------ lineage


@dataclass(frozen=True)
class SnapshotLineage:
    """The lake snapshot a run was trained on, from its manifest (hashes, rows, dates)."""

    snapshot_id: str
    snapshot_date: str | None
    tables: Mapping[str, Mapping[str, Any]]  # table -> {"rows": int, "content_hash": str}
    time_span: Mapping[str, str | None] | None = None
    dataset: str | None = None

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> SnapshotLineage:
        """Keep identity fields only (no source paths: they can hold user names)."""
        return cls(
            snapshot_id=str(manifest["snapshot_id"]),
            snapshot_date=manifest.get("snapshot_date"),
            tables={
                name: {"rows": int(entry["rows"]), "content_hash": str(entry["content_hash"])}
                for name, entry in sorted(manifest.get("tables", {}).items())
            },
            time_span=manifest.get("time_span"),
            dataset=(manifest.get("dataset") or {}).get("name"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "snapshot_id": self.snapshot_id,
            "snapshot_date": self.snapshot_date,
            "dataset": self.dataset,
            "time_span": dict(self.time_span) if self.time_span else None,
            "tables": {k: dict(v) for k, v in self.tables.items()},
        }


@dataclass
class TrainingRunInputs:
    """Everything one training run logs, passed explicitly (no pipeline internals).

    ``evaluation`` is the latest backtest window: ``org_id``, ``as_of`` (one date), the
    model's feature columns and ``label`` (0/1); other columns are dropped before logging.
    ``baseline_scores`` are aligned with its rows, e.g. ``{"logistic_regression": ...,
    "total_raised": ...}``. ``audit`` holds ``org_id`` plus audit-only group columns
    (``region``, ``founder_gender``; see ``audit.audit_groups``), never model features.
    ``training_labels`` are the labels of the rows the model was fitted on.
    ``fairness`` sets the fairness audit (None: the settings' ``fairness`` group when
    logging with a Settings object, else the defaults: top 100, four-fifths, floor of 2).
    """

    model: PromiseModel
    rules: PromiseRules
    snapshot: SnapshotLineage
    feature_service: str
    training_as_of: Sequence[Any]
    training_labels: np.ndarray | pd.Series | Sequence[int]
    evaluation: pd.DataFrame
    baseline_scores: Mapping[str, np.ndarray] = field(default_factory=dict)
    audit: pd.DataFrame | None = None
    ks: tuple[int, ...] = KS
    group_k: int = 100
    run_name: str | None = None
    extra_params: Mapping[str, Any] = field(default_factory=dict)
    extra_tags: Mapping[str, str] = field(default_factory=dict)
    fairness: FairnessConfig | None = None


@dataclass(frozen=True)
class LoggedRun:
    run_id: str
    experiment_id: str
    model_uri: str
    model_version: str | None  # None when registration was not asked for


def evaluation_rows(frame: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """``[org_id, as_of, *features, label]`` of one window, validated; nothing else survives."""
    keep = [*ID_COLUMNS, *features, LABEL]
    missing = [c for c in keep if c not in frame.columns]
    if missing:
        raise KeyError(f"evaluation rows lack columns: {missing}")
    rows = frame.loc[:, keep].reset_index(drop=True)
    labels = rows[LABEL]
    if labels.isna().any() or not labels.isin([0, 1, True, False]).all():
        raise ValueError("evaluation labels must be 0/1 (uncovered windows are refused upstream)")
    rows[LABEL] = labels.astype(np.int64)
    rows["as_of"] = pd.to_datetime(rows["as_of"]).dt.normalize()
    if rows["as_of"].nunique() != 1:
        raise ValueError("evaluation rows must belong to one as-of date (one backtest window)")
    rows["org_id"] = rows["org_id"].astype(str)
    return rows


def _iso(value: Any) -> str:
    return pd.Timestamp(value).date().isoformat()


def _check_no_leak(training_as_of: Sequence[str], window: pd.Timestamp, horizon: int) -> None:
    if not training_as_of:
        raise ValueError("training_as_of is empty")
    last_end = label_window_end(training_as_of[-1], horizon)
    if last_end > window:
        raise ValueError(
            f"the training label window of {training_as_of[-1]} ends on {last_end.date()}, "
            f"after the evaluation as-of {window.date()}: the evaluation would be leaky"
        )


def _flat(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _clip(text: str, limit: int = 5000) -> str:
    # MLflow caps a param at 6000 characters; the full list is in lineage.json.
    return text if len(text) <= limit else text[: limit - 30] + "... (full list: lineage.json)"


def _params(inputs: TrainingRunInputs, features: Sequence[str], facts: dict[str, Any]) -> dict:
    model = inputs.model
    params: dict[str, Any] = {
        f"model.{k}": _flat(v) for k, v in model.config_.model_dump(mode="json").items()
    }
    params["model.best_iteration"] = model.best_iteration_
    params["model.fitted_scale_pos_weight"] = round(model.scale_pos_weight_, 6)
    params.update({f"rules.{k}": _flat(v) for k, v in inputs.rules.model_dump(mode="json").items()})
    params.update(
        {
            "horizon_months": inputs.rules.horizon_months,
            "lineage.snapshot_id": inputs.snapshot.snapshot_id,
            "lineage.snapshot_date": inputs.snapshot.snapshot_date,
            "lineage.feature_service": inputs.feature_service,
            "lineage.n_features": len(features),
            "lineage.features": _clip(",".join(features)),
            "lineage.features_sha256": hashlib.sha256(
                "\n".join(features).encode("utf-8")
            ).hexdigest(),
            **facts,
        }
    )
    params.update({str(k): _flat(v) for k, v in inputs.extra_params.items()})
    return params


def _metrics(
    reports: Mapping[str, Mapping[str, float]], groups: Mapping[str, pd.DataFrame]
) -> dict[str, float]:
    out: dict[str, float] = {}
    for scorer, report in reports.items():
        for key, value in report.items():
            if key in {"n", "n_positive", "base_rate"}:
                continue
            out[metric_key(scorer, key)] = float(value)
    first = next(iter(reports.values()), {})
    for key in ("n", "n_positive", "base_rate"):
        if key in first:
            out[metric_key("evaluation", key)] = float(first[key])
    for what, table in groups.items():
        for _, row in table[table["scorer"] == MODEL_SCORER].iterrows():
            for key in ("auc_pr", "base_rate", "selection_rate"):
                out[metric_key(MODEL_SCORER, what, str(row["group"]), key)] = float(row[key])
    # MLflow stores NaN, but the UI sorts and charts it badly: undefined metrics stay in
    # metrics.json as null instead.
    return {k: v for k, v in out.items() if not math.isnan(v)}


def _log_figure(mlflow: Any, figure: Any, path: str) -> None:
    mlflow.log_figure(figure, path)
    figure.clear()


def _aligned_audit(audit: pd.DataFrame | None, org_ids: pd.Series) -> pd.DataFrame | None:
    if audit is None:
        return None
    from talentmap.training.audit import AUDIT_COLUMNS, UNKNOWN

    columns = [c for c in AUDIT_COLUMNS if c in audit.columns]
    table = audit.drop_duplicates("org_id").set_index("org_id")[columns]
    return table.reindex(org_ids.astype(str).to_numpy()).fillna(UNKNOWN).reset_index(drop=True)


def _fairness_config(inputs: TrainingRunInputs, settings_or_target: Any) -> FairnessConfig:
    from talentmap.training.fairness import FairnessConfig

    if inputs.fairness is not None:
        return inputs.fairness
    configured = getattr(settings_or_target, "fairness", None)
    return configured if isinstance(configured, FairnessConfig) else FairnessConfig()


@dataclass(frozen=True)
class FairnessResult:
    """The fairness audit of one run: per-dimension tables and the regional floor's cost."""

    config: FairnessConfig
    tables: Mapping[str, pd.DataFrame]
    regional_floor: Mapping[str, Any] | None

    def metrics(self) -> dict[str, float]:
        from talentmap.training.fairness import fairness_metrics

        out = fairness_metrics(self.tables, self.config.k)
        floor = self.regional_floor or {}
        k = self.config.k
        for key, name in (
            ("precision_at_k_without", f"precision@{k}_without"),
            ("precision_at_k_with", f"precision@{k}_with"),
            ("cost", f"precision@{k}_cost"),
            ("promoted", "promoted"),
        ):
            if floor.get(key) is not None:
                out[metric_key("fairness", "regional_floor", name)] = float(floor[key])
        return out


def fairness_of_run(
    config: FairnessConfig,
    y: np.ndarray,
    score: np.ndarray,
    groups: pd.DataFrame | None,
) -> FairnessResult | None:
    """Audit the model's top k by every group column, and price the regional floor."""
    if groups is None:
        return None
    from talentmap.contract import FR_REGIONS
    from talentmap.training.audit import REGION
    from talentmap.training.fairness import fairness_audit
    from talentmap.training.regional_floor import regional_floor_cost

    tables = fairness_audit(score, groups, config, y_true=y)
    floor = None
    if config.floor_m > 0 and REGION in groups.columns:
        floor = regional_floor_cost(
            y, score, groups[REGION].to_numpy(dtype=object), config.k, config.floor_m, FR_REGIONS
        )
    return FairnessResult(config, tables, floor)


def log_training_run(
    settings_or_target: Any, inputs: TrainingRunInputs, *, register: bool = True
) -> LoggedRun:
    """Log one training run end to end; register its model as ``challenger`` if asked.

    Refuses (``ValueError``) a run whose last training label window ends after the
    evaluation date: its metrics would be leaky and the promotion gate would trust them.
    """
    import mlflow

    from talentmap.training import audit as audit_mod
    from talentmap.training import model_card, plots, provenance
    from talentmap.training.fairness import FAIRNESS_ARTIFACT, fairness_document
    from talentmap.training.metrics import ranking_report, to_jsonable
    from talentmap.training.pyfunc import log_pyfunc

    target = as_target(settings_or_target)
    model = inputs.model
    features = list(model.feature_names_)
    rows = evaluation_rows(inputs.evaluation, features)
    window = pd.Timestamp(rows["as_of"].iloc[0])
    horizon = inputs.rules.horizon_months
    training_as_of = sorted({_iso(d) for d in inputs.training_as_of})
    _check_no_leak(training_as_of, window, horizon)
    y = rows[LABEL].to_numpy()
    scores = {MODEL_SCORER: model.predict_proba(rows)[:, 1]}
    for name, score in inputs.baseline_scores.items():
        s = np.asarray(score, dtype=np.float64)
        if len(s) != len(rows):
            raise ValueError(f"baseline {name!r} has {len(s)} scores for {len(rows)} rows")
        scores[name] = s
    reports = {name: ranking_report(y, s, inputs.ks) for name, s in scores.items()}
    groups_frame = _aligned_audit(inputs.audit, rows["org_id"])
    groups: dict[str, pd.DataFrame] = {}
    if groups_frame is not None:
        for column in groups_frame.columns:
            groups[column] = audit_mod.group_metrics(
                y, scores, groups_frame[column], inputs.group_k
            )
    fairness = fairness_of_run(
        _fairness_config(inputs, settings_or_target), y, scores[MODEL_SCORER], groups_frame
    )
    train_y = np.asarray(inputs.training_labels, dtype=np.int64)
    facts = {
        "evaluation.as_of": window.date().isoformat(),
        "evaluation.rows": len(rows),
        "evaluation.positives": int(y.sum()),
        "training.as_of_first": training_as_of[0],
        "training.as_of_last": training_as_of[-1],
        "training.n_as_of_dates": len(training_as_of),
        "training.rows": len(train_y),
        "training.positives": int(train_y.sum()),
        "training.base_rate": round(float(train_y.mean()), 6) if len(train_y) else None,
    }
    lineage = {
        "snapshot": inputs.snapshot.to_dict(),
        "feature_service": inputs.feature_service,
        "features": features,
        "categorical_features": list(model.categorical_features_),
        "training": {
            "as_of_dates": training_as_of,
            "rows": len(train_y),
            "positives": int(train_y.sum()),
            "base_rate": float(train_y.mean()) if len(train_y) else None,
            "model_slices": model.metadata()["split"],
            "rows_per_slice": model.rows_,
            "base_rate_per_slice": model.base_rates_,
        },
        "evaluation": {
            "as_of": window.date().isoformat(),
            "rows": len(rows),
            "positives": int(y.sum()),
            "base_rate": float(y.mean()) if len(y) else None,
            "label_window_end": label_window_end(window, horizon).date().isoformat(),
        },
        "rules": inputs.rules.model_dump(mode="json"),
    }
    git = provenance.git_state()
    tags = {
        "mlflow.user": target.run_user,
        TAG_STAGE: "training",
        TAG_WINDOW: window.date().isoformat(),
        "git.commit": git.commit,
        "git.dirty": "unknown" if git.dirty is None else str(git.dirty).lower(),
        "lineage.snapshot_id": inputs.snapshot.snapshot_id,
        **{
            f"lineage.table.{name}.content_hash": str(entry["content_hash"])
            for name, entry in inputs.snapshot.tables.items()
        },
        **{
            f"lineage.table.{name}.rows": str(entry["rows"])
            for name, entry in inputs.snapshot.tables.items()
        },
        **provenance.environment_tags(),
        **dict(inputs.extra_tags),
    }

    with activate(target) as client:
        experiment_id = ensure_experiment(client, target.experiment, target.artifact_root)
        with mlflow.start_run(
            experiment_id=experiment_id, run_name=inputs.run_name, tags=tags
        ) as run:
            run_id = run.info.run_id
            mlflow.log_params(_params(inputs, features, facts))
            mlflow.log_metrics(_metrics(reports, groups))
            if fairness is not None:
                mlflow.log_metrics(fairness.metrics())
                mlflow.log_dict(
                    fairness_document(fairness.tables, fairness.config, fairness.regional_floor),
                    FAIRNESS_ARTIFACT,
                )
            mlflow.log_dict(lineage, "lineage.json")
            mlflow.log_dict(
                {
                    "evaluation_as_of": window.date().isoformat(),
                    "scorers": {k: to_jsonable(v) for k, v in reports.items()},
                },
                "metrics.json",
            )
            mlflow.log_dict(
                {
                    "git": {"commit": git.commit, "dirty": git.dirty},
                    **provenance.environment_tags(),
                },
                "environment/environment.json",
            )
            mlflow.log_text(
                "\n".join(provenance.installed_packages()) + "\n", "environment/requirements.txt"
            )
            for what, table in groups.items():
                mlflow.log_text(table.to_csv(index=False), f"audit/metrics_by_{what}.csv")
            _log_figure(mlflow, plots.pr_curve(y, scores), "plots/pr_curve.png")
            _log_figure(mlflow, plots.calibration_curve(y, scores), "plots/calibration_curve.png")
            _log_figure(
                mlflow,
                plots.feature_importance(model.feature_importance("gain")),
                "plots/feature_importance.png",
            )
            _log_figure(mlflow, plots.lift_chart(y, scores), "plots/lift_chart.png")
            for what, table in groups.items():
                _log_figure(
                    mlflow,
                    plots.metrics_by_group(table, f"Metrics by {what.replace('_', ' ')}"),
                    f"plots/metrics_by_{what}.png",
                )
            if fairness is not None and fairness.tables:
                _log_figure(
                    mlflow,
                    plots.fairness_ratios(
                        fairness.tables, fairness.config.k, fairness.config.four_fifths
                    ),
                    "plots/fairness_ratios.png",
                )
            card = model_card.render_model_card(
                model_card.CardData(
                    model_name=target.registered_model,
                    snapshot_id=inputs.snapshot.snapshot_id,
                    snapshot_date=inputs.snapshot.snapshot_date,
                    horizon_months=horizon,
                    rules=inputs.rules,
                    feature_service=inputs.feature_service,
                    features=features,
                    training_as_of=training_as_of,
                    training_rows=len(train_y),
                    training_positives=int(train_y.sum()),
                    evaluation_as_of=window.date().isoformat(),
                    evaluation_rows=len(rows),
                    evaluation_positives=int(y.sum()),
                    metrics={k: to_jsonable(v) for k, v in reports.items()},
                    by_region=groups.get(audit_mod.REGION),
                    by_founder_gender=groups.get(audit_mod.FOUNDER_GENDER),
                    group_k=inputs.group_k,
                    run_id=run_id,
                    fairness=fairness.tables if fairness is not None else None,
                    fairness_k=fairness.config.k if fairness is not None else inputs.group_k,
                    four_fifths=fairness.config.four_fifths if fairness is not None else 0.8,
                    regional_floor=fairness.regional_floor if fairness is not None else None,
                )
            )
            mlflow.log_text(card, "model_card.md")
            with tempfile.TemporaryDirectory(prefix="talentmap-eval-") as tmp:
                path = Path(tmp) / Path(EVALUATION_ARTIFACT).name
                rows.to_parquet(path, index=False)
                mlflow.log_artifact(str(path), str(Path(EVALUATION_ARTIFACT).parent))
            info = log_pyfunc(model, rows, name=MODEL_ARTIFACT_NAME)
            mlflow.set_tag(TAG_MODEL_URI, info.model_uri)
            mlflow.set_tag(
                "mlflow.note.content",
                f"Promise model on snapshot {inputs.snapshot.snapshot_id}, evaluated as of "
                f"{window.date()}: AUC-PR {_fmt(reports[MODEL_SCORER]['auc_pr'])}. "
                "See model_card.md.",
            )
            version = None
            if register:
                from talentmap.training.registry import register_challenger

                version = register_challenger(target, run_id, info.model_uri, client=client)
    return LoggedRun(run_id, experiment_id, info.model_uri, version)


def _fmt(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"
