"""Log one training run to MLflow: everything an auditor needs for one trained model.

``log_training_run`` records params (hyperparameters, candidate and label rules), metrics
of the model *and* the baselines on the same evaluation window, lineage (snapshot id,
table hashes, feature service and list, as-of dates, rows, base rates), git commit and
environment, plots, the model card, the evaluation rows (what the promotion gate
re-scores) and the model itself as a pyfunc; then it registers the model as the new
``challenger``. Each of those is one short step below, in the order they are logged.

No personal names reach MLflow: the evaluation rows are cut down to ``org_id``, ``as_of``,
the model's features and the label; audit groups are team-level categories; and the
``mlflow.user`` tag (the OS account name by default, often a person's name) is replaced.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from talentmap.settings.training import FairnessConfig
from talentmap.training.pipeline.labels import label_window_end
from talentmap.training.tracking import provenance
from talentmap.training.tracking.card_inputs import FairnessResult, aligned_audit, fairness_of_run
from talentmap.training.tracking.provenance import GitState
from talentmap.training.tracking.run_inputs import LoggedRun, TrainingRunInputs, evaluation_rows
from talentmap.training.tracking.target import (
    EVALUATION_ARTIFACT,
    LABEL,
    MODEL_ARTIFACT_NAME,
    MODEL_SCORER,
    TAG_MODEL_URI,
    TAG_STAGE,
    TAG_WINDOW,
    TrackingTarget,
    activate,
    ensure_experiment,
    metric_key,
)

# Heavy libraries (mlflow, matplotlib) are imported inside the functions.
if TYPE_CHECKING:
    from mlflow import MlflowClient


@dataclass(frozen=True)
class ScoredWindow:
    """The evaluation window of one run, scored by the model and every baseline."""

    rows: pd.DataFrame
    window: pd.Timestamp
    y: np.ndarray
    scores: dict[str, np.ndarray]
    reports: dict[str, dict[str, float]]
    groups_frame: pd.DataFrame | None
    groups: dict[str, pd.DataFrame]
    training_as_of: list[str]
    train_y: np.ndarray

    @property
    def as_of(self) -> str:
        return self.window.date().isoformat()


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
    selection = model.selection_
    params["model.scorer_chosen"] = selection.name
    params["model.scorer_tree_weight"] = round(selection.tree_weight, 6)
    params["model.scorer_linear_weight"] = round(selection.linear_weight, 6)
    params["model.scorer_selection_metric"] = selection.metric
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


def _selection_metrics(scores: Mapping[str, float]) -> dict[str, float]:
    """Every candidate scorer's score on the inner validation (the calib slice)."""
    return {
        metric_key(
            "selection", name.replace("[", ".").replace("]", "").replace(" w=", ".w")
        ): float(v)
        for name, v in scores.items()
        if not math.isnan(v)
    }


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


def score_window(inputs: TrainingRunInputs) -> ScoredWindow:
    """Score the evaluation rows with the model and the baselines; refuse a leaky run."""
    from talentmap.training.evaluation import fairness_audit
    from talentmap.training.evaluation.metrics import ranking_report

    model = inputs.model
    rows = evaluation_rows(inputs.evaluation, list(model.feature_names_))
    window = pd.Timestamp(rows["as_of"].iloc[0])
    training_as_of = sorted({_iso(d) for d in inputs.training_as_of})
    _check_no_leak(training_as_of, window, inputs.rules.horizon_months)
    y = rows[LABEL].to_numpy()
    scores = {MODEL_SCORER: model.predict_proba(rows)[:, 1]}
    for name, score in inputs.baseline_scores.items():
        s = np.asarray(score, dtype=np.float64)
        if len(s) != len(rows):
            raise ValueError(f"baseline {name!r} has {len(s)} scores for {len(rows)} rows")
        scores[name] = s
    groups_frame = aligned_audit(inputs.audit, rows["org_id"])
    groups: dict[str, pd.DataFrame] = {}
    if groups_frame is not None:
        for column in groups_frame.columns:
            groups[column] = fairness_audit.group_metrics(
                y, scores, groups_frame[column], inputs.group_k
            )
    return ScoredWindow(
        rows=rows,
        window=window,
        y=y,
        scores=scores,
        reports={name: ranking_report(y, s, inputs.ks) for name, s in scores.items()},
        groups_frame=groups_frame,
        groups=groups,
        training_as_of=training_as_of,
        train_y=np.asarray(inputs.training_labels, dtype=np.int64),
    )


def _facts(scored: ScoredWindow) -> dict[str, Any]:
    train_y = scored.train_y
    return {
        "evaluation.as_of": scored.as_of,
        "evaluation.rows": len(scored.rows),
        "evaluation.positives": int(scored.y.sum()),
        "training.as_of_first": scored.training_as_of[0],
        "training.as_of_last": scored.training_as_of[-1],
        "training.n_as_of_dates": len(scored.training_as_of),
        "training.rows": len(train_y),
        "training.positives": int(train_y.sum()),
        "training.base_rate": round(float(train_y.mean()), 6) if len(train_y) else None,
    }


def _lineage(inputs: TrainingRunInputs, scored: ScoredWindow) -> dict[str, Any]:
    model, train_y, y = inputs.model, scored.train_y, scored.y
    return {
        "snapshot": inputs.snapshot.to_dict(),
        "feature_service": inputs.feature_service,
        "features": list(model.feature_names_),
        "categorical_features": list(model.categorical_features_),
        "training": {
            "as_of_dates": scored.training_as_of,
            "rows": len(train_y),
            "positives": int(train_y.sum()),
            "base_rate": float(train_y.mean()) if len(train_y) else None,
            "model_slices": model.metadata()["split"],
            "rows_per_slice": model.rows_,
            "base_rate_per_slice": model.base_rates_,
        },
        "evaluation": {
            "as_of": scored.as_of,
            "rows": len(scored.rows),
            "positives": int(y.sum()),
            "base_rate": float(y.mean()) if len(y) else None,
            "label_window_end": label_window_end(scored.window, inputs.rules.horizon_months)
            .date()
            .isoformat(),
        },
        "rules": inputs.rules.model_dump(mode="json"),
    }


def _tags(
    target: TrackingTarget, inputs: TrainingRunInputs, scored: ScoredWindow, git: GitState
) -> dict:
    tables = inputs.snapshot.tables
    return {
        "mlflow.user": target.run_user,
        TAG_STAGE: "training",
        TAG_WINDOW: scored.as_of,
        "git.commit": git.commit,
        "git.dirty": "unknown" if git.dirty is None else str(git.dirty).lower(),
        "lineage.snapshot_id": inputs.snapshot.snapshot_id,
        **{f"lineage.table.{n}.content_hash": str(e["content_hash"]) for n, e in tables.items()},
        **{f"lineage.table.{n}.rows": str(e["rows"]) for n, e in tables.items()},
        **provenance.environment_tags(),
        **dict(inputs.extra_tags),
    }


def _log_documents(
    mlflow: Any,
    inputs: TrainingRunInputs,
    scored: ScoredWindow,
    fairness: FairnessResult | None,
    git: GitState,
) -> None:
    from talentmap.training.evaluation.fairness import FAIRNESS_ARTIFACT, fairness_document
    from talentmap.training.evaluation.metrics import to_jsonable

    features = list(inputs.model.feature_names_)
    mlflow.log_params(_params(inputs, features, _facts(scored)))
    mlflow.log_metrics(_metrics(scored.reports, scored.groups))
    if inputs.extra_metrics:
        mlflow.log_metrics({str(k): float(v) for k, v in inputs.extra_metrics.items()})
    mlflow.log_metrics(_selection_metrics(inputs.model.selection_.scores))
    mlflow.log_dict(inputs.model.selection_.to_dict(), "selection.json")
    if fairness is not None:
        mlflow.log_metrics(fairness.metrics())
        mlflow.log_dict(
            fairness_document(fairness.tables, fairness.config, fairness.regional_floor),
            FAIRNESS_ARTIFACT,
        )
    mlflow.log_dict(_lineage(inputs, scored), "lineage.json")
    scorers = {k: to_jsonable(v) for k, v in scored.reports.items()}
    mlflow.log_dict({"evaluation_as_of": scored.as_of, "scorers": scorers}, "metrics.json")
    mlflow.log_dict(
        {"git": {"commit": git.commit, "dirty": git.dirty}, **provenance.environment_tags()},
        "environment/environment.json",
    )
    mlflow.log_text(
        "\n".join(provenance.installed_packages()) + "\n", "environment/requirements.txt"
    )
    for what, table in scored.groups.items():
        mlflow.log_text(table.to_csv(index=False), f"audit/metrics_by_{what}.csv")


def _log_plots(
    mlflow: Any, inputs: TrainingRunInputs, scored: ScoredWindow, fairness: FairnessResult | None
) -> None:
    from talentmap.training.tracking import plots

    y, scores = scored.y, scored.scores
    _log_figure(mlflow, plots.pr_curve(y, scores), "plots/pr_curve.png")
    _log_figure(mlflow, plots.calibration_curve(y, scores), "plots/calibration_curve.png")
    _log_figure(
        mlflow,
        plots.feature_importance(inputs.model.feature_importance("gain")),
        "plots/feature_importance.png",
    )
    _log_figure(mlflow, plots.lift_chart(y, scores), "plots/lift_chart.png")
    for what, table in scored.groups.items():
        _log_figure(
            mlflow,
            plots.metrics_by_group(table, f"Metrics by {what.replace('_', ' ')}"),
            f"plots/metrics_by_{what}.png",
        )
    if fairness is not None and fairness.tables:
        _log_figure(
            mlflow,
            plots.fairness_ratios(fairness.tables, fairness.config.k, fairness.config.four_fifths),
            "plots/fairness_ratios.png",
        )


def _model_card(
    target: TrackingTarget,
    inputs: TrainingRunInputs,
    scored: ScoredWindow,
    fairness: FairnessResult | None,
    run_id: str,
) -> str:
    from talentmap.training.evaluation import fairness_audit
    from talentmap.training.evaluation.metrics import to_jsonable
    from talentmap.training.tracking import model_card

    return model_card.render_model_card(
        model_card.CardData(
            model_name=target.registered_model,
            snapshot_id=inputs.snapshot.snapshot_id,
            snapshot_date=inputs.snapshot.snapshot_date,
            horizon_months=inputs.rules.horizon_months,
            rules=inputs.rules,
            feature_service=inputs.feature_service,
            features=list(inputs.model.feature_names_),
            training_as_of=scored.training_as_of,
            training_rows=len(scored.train_y),
            training_positives=int(scored.train_y.sum()),
            evaluation_as_of=scored.as_of,
            evaluation_rows=len(scored.rows),
            evaluation_positives=int(scored.y.sum()),
            metrics={k: to_jsonable(v) for k, v in scored.reports.items()},
            by_region=scored.groups.get(fairness_audit.REGION),
            by_founder_gender=scored.groups.get(fairness_audit.FOUNDER_GENDER),
            group_k=inputs.group_k,
            run_id=run_id,
            fairness=fairness.tables if fairness is not None else None,
            fairness_k=fairness.config.k if fairness is not None else inputs.group_k,
            four_fifths=fairness.config.four_fifths if fairness is not None else 0.8,
            regional_floor=fairness.regional_floor if fairness is not None else None,
            notes=tuple(inputs.card_notes),
            selection=inputs.model.selection_.to_dict(),
        )
    )


def _log_model(mlflow: Any, inputs: TrainingRunInputs, scored: ScoredWindow) -> str:
    """Log the evaluation rows and the pyfunc model; the model's URI."""
    from talentmap.training.tracking.pyfunc import log_pyfunc

    with tempfile.TemporaryDirectory(prefix="talentmap-eval-") as tmp:
        path = Path(tmp) / Path(EVALUATION_ARTIFACT).name
        scored.rows.to_parquet(path, index=False)
        mlflow.log_artifact(str(path), str(Path(EVALUATION_ARTIFACT).parent))
    info = log_pyfunc(inputs.model, scored.rows, name=MODEL_ARTIFACT_NAME)
    mlflow.set_tag(TAG_MODEL_URI, info.model_uri)
    mlflow.set_tag(
        "mlflow.note.content",
        f"Promise model on snapshot {inputs.snapshot.snapshot_id}, evaluated as of "
        f"{scored.window.date()}: AUC-PR {_fmt(scored.reports[MODEL_SCORER]['auc_pr'])}. "
        "See model_card.md.",
    )
    return str(info.model_uri)


def _register(
    target: TrackingTarget, client: MlflowClient, run_id: str, model_uri: str
) -> str | None:
    from talentmap.training.tracking.registry import register_challenger

    return register_challenger(target, run_id, model_uri, client=client)


def log_training_run(
    target: TrackingTarget,
    inputs: TrainingRunInputs,
    *,
    fairness: FairnessConfig | None = None,
    register: bool = True,
) -> LoggedRun:
    """Log one training run end to end; register its model as ``challenger`` if asked.

    ``fairness`` is the settings' fairness group; ``inputs.fairness`` wins over it, and
    the defaults apply when neither is given. Refuses (``ValueError``) a run whose last
    training label window ends after the evaluation date: its metrics would be leaky and
    the promotion gate would trust them.
    """
    import mlflow

    scored = score_window(inputs)
    audit_config = inputs.fairness or fairness or FairnessConfig()
    fairness_result = fairness_of_run(
        audit_config, scored.y, scored.scores[MODEL_SCORER], scored.groups_frame
    )
    git = provenance.git_state()  # one git call: the tags and environment.json agree
    tags = _tags(target, inputs, scored, git)
    with activate(target) as client:
        experiment_id = ensure_experiment(client, target.experiment, target.artifact_root)
        with mlflow.start_run(
            experiment_id=experiment_id, run_name=inputs.run_name, tags=tags
        ) as run:
            run_id = run.info.run_id
            _log_documents(mlflow, inputs, scored, fairness_result, git)
            _log_plots(mlflow, inputs, scored, fairness_result)
            mlflow.log_text(
                _model_card(target, inputs, scored, fairness_result, run_id), "model_card.md"
            )
            model_uri = _log_model(mlflow, inputs, scored)
            version = _register(target, client, run_id, model_uri) if register else None
    return LoggedRun(run_id, experiment_id, model_uri, version)


def _fmt(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"
