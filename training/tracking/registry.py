"""The ``talent-promise`` registry and the champion/challenger promotion gate.

Aliases only (stages are deprecated, "latest" means nothing to an auditor): every
training run registers a new version under ``@challenger``; ``promote`` moves
``@champion`` to it only if it wins on evidence. The gate re-scores BOTH models on the
challenger's own evaluation rows (the latest backtest window, logged by the training run
as Parquet: ids, features, label), so the two AUC-PR figures come from the same rows and
the same labels, whatever each model's own run reported. The challenger wins iff

    AUC-PR(challenger) >= AUC-PR(champion) + margin,   or there is no champion yet.

When the two cannot be compared, the champion stays: AUC-PR undefined (no positive label
in the window) or a champion that cannot be scored on those rows is a refusal, with the
reason recorded like any other decision.

Every decision, promoted or not, is an MLflow run in the promotion experiment (both
sets of metrics, the reason) and tags on the challenger's model version. Each change of
champion is also appended to a JSON-lines history file (opened in append mode only), which
``history_from_runs`` can rebuild from the promotion runs if the file is lost.

Order of effects, for a crash at any point: the decision run is logged first, the alias
moves second and the history line comes last, so a champion never changes unrecorded.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from talentmap.training.evaluation.metrics import ranking_report, to_jsonable
from talentmap.training.tracking.target import (
    EVALUATION_ARTIFACT,
    ID_COLUMNS,
    KS,
    LABEL,
    TAG_MODEL_URI,
    TAG_STAGE,
    TAG_WINDOW,
    TrackingTarget,
    activate,
    ensure_experiment,
    metric_key,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

CHAMPION = "champion"
CHALLENGER = "challenger"
PROMOTED, KEPT = "promoted", "kept"
GATE_METRIC = "auc_pr"
_TAG_LIMIT = 4000  # model version tag values are capped by the store; reasons stay short
_TOLERANCE = 1e-12  # float noise must not flip a decision taken exactly at the margin


class PromotionError(RuntimeError):
    """The gate could not decide (no challenger, missing evaluation rows, broken model)."""


@dataclass
class PromotionDecision:
    """What the gate decided and why, with the evidence on both sides."""

    promoted: bool
    reason: str
    model_name: str
    challenger_version: str
    champion_before: str | None
    champion_after: str | None
    margin: float
    evaluation_as_of: str | None
    evaluation_rows: int
    challenger_metrics: dict[str, float | None] = field(default_factory=dict)
    champion_metrics: dict[str, float | None] | None = None
    promotion_run_id: str | None = None
    decided_at: str = ""

    @property
    def decision(self) -> str:
        return PROMOTED if self.promoted else KEPT

    def to_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, **asdict(self)}


# ---------------------------------------------------------------- registration


def _ensure_registered_model(client: MlflowClient, name: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        try:
            client.create_registered_model(
                name,
                description=(
                    "Promise of young French companies (TalentMap). Aliases: @champion is "
                    "served, @challenger is the latest trained version. Ranks companies; "
                    "never use it to select people."
                ),
            )
        except MlflowException:
            client.get_registered_model(name)  # created concurrently: fine if it exists now


def register_challenger(
    target: TrackingTarget,
    run_id: str,
    model_uri: str | None = None,
    *,
    client: MlflowClient | None = None,
) -> str:
    """Register the run's model as a new version and point ``@challenger`` at it.

    ``model_uri`` defaults to the one ``log_training_run`` tagged on the run. Returns the
    new version number (as MLflow's string).
    """
    if client is None:
        with activate(target) as own:
            return register_challenger(target, run_id, model_uri, client=own)
    import mlflow

    run = client.get_run(run_id)
    uri = model_uri or run.data.tags.get(TAG_MODEL_URI)
    if not uri:
        raise PromotionError(f"run {run_id} has no logged model to register")
    name = target.registered_model
    _ensure_registered_model(client, name)
    gate = run.data.metrics.get(metric_key("model", GATE_METRIC))
    tags = {
        "run_id": run_id,
        "evaluation_as_of": run.data.tags.get(TAG_WINDOW, "unknown"),
        "snapshot_id": run.data.tags.get("lineage.snapshot_id", "unknown"),
        "git.commit": run.data.tags.get("git.commit", "unknown"),
        f"run.model.{GATE_METRIC}": "n/a" if gate is None else f"{gate:.6f}",
    }
    version = mlflow.register_model(uri, name, tags=tags)
    description = (
        f"Trained in run {run_id}; evaluated as of {tags['evaluation_as_of']}. "
        "The full model card is the run's model_card.md artifact. Ranks companies, never "
        "people (see the card's misuse section)."
    )
    client.update_model_version(name, version.version, description=description)
    client.set_registered_model_alias(name, CHALLENGER, version.version)
    return str(version.version)


# ---------------------------------------------------------------- the gate


def _alias(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _evaluation_rows(client: MlflowClient, run_id: str) -> pd.DataFrame:
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory(prefix="talentmap-gate-") as tmp:
        try:
            path = client.download_artifacts(run_id, EVALUATION_ARTIFACT, tmp)
        except (MlflowException, OSError) as exc:
            raise PromotionError(
                f"run {run_id} has no evaluation rows ({EVALUATION_ARTIFACT}); it cannot be "
                "compared on the same window"
            ) from exc
        return pd.read_parquet(path)


def _score(name: str, version: str, rows: pd.DataFrame) -> np.ndarray:
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    features = rows.drop(columns=[*ID_COLUMNS, LABEL])
    out = model.predict(features)
    column = out["probability"] if isinstance(out, pd.DataFrame) else out
    return np.asarray(column, dtype=np.float64).reshape(-1)


def _gate(
    challenger: dict[str, float], champion: dict[str, float], margin: float
) -> tuple[bool, str]:
    new, old = challenger[GATE_METRIC], champion[GATE_METRIC]
    if math.isnan(new) or math.isnan(old):
        return False, (
            "AUC-PR is undefined on the evaluation window (no positive label), so the "
            "challenger cannot be shown to be better; the champion stays"
        )
    if new - old >= margin - _TOLERANCE:
        return True, (
            f"challenger AUC-PR {new:.4f} >= champion AUC-PR {old:.4f} + margin {margin:.4f}"
        )
    return False, (
        f"challenger AUC-PR {new:.4f} does not beat champion AUC-PR {old:.4f} by the margin "
        f"{margin:.4f} (needs >= {old + margin:.4f}); the champion stays"
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def promote(target: TrackingTarget, margin: float | None = None) -> PromotionDecision:
    """Decide whether ``@challenger`` replaces ``@champion``; apply and record the decision.

    Raises ``PromotionError`` when there is nothing to decide on (no challenger, or no
    evaluation rows in its run) or the challenger itself cannot be scored. A champion
    that cannot be scored on the challenger's rows (e.g. it needs a feature they lack) is
    kept, and the reason says so: a human must then decide.
    """
    gate_margin = target.promotion_margin if margin is None else float(margin)
    if not 0 <= gate_margin <= 1:
        raise ValueError(f"margin must be within [0, 1], got {gate_margin}")
    name = target.registered_model
    with activate(target) as client:
        challenger = _alias(client, name, CHALLENGER)
        if challenger is None:
            raise PromotionError(f"{name} has no @{CHALLENGER}: train and log a model first")
        champion = _alias(client, name, CHAMPION)
        rows = _evaluation_rows(client, str(challenger.run_id))
        y = rows[LABEL].to_numpy(dtype=np.int64)
        window = client.get_run(str(challenger.run_id)).data.tags.get(TAG_WINDOW)
        try:
            new_report = ranking_report(y, _score(name, challenger.version, rows), KS)
        except Exception as exc:
            raise PromotionError(
                f"challenger v{challenger.version} cannot score its own evaluation rows: {exc}"
            ) from exc
        old_report: dict[str, float] | None = None
        notes: list[str] = []
        if champion is None:
            promoted, reason = True, f"no champion yet: v{challenger.version} becomes the first"
        elif champion.version == challenger.version:
            promoted, reason = False, f"v{challenger.version} is already the champion"
        else:
            try:
                old_report = ranking_report(y, _score(name, champion.version, rows), KS)
            except Exception as exc:  # a broken or incompatible champion is reported, not hidden
                promoted = False
                reason = (
                    f"champion v{champion.version} cannot be scored on the challenger's "
                    f"evaluation rows ({type(exc).__name__}: {exc}); keeping it until a "
                    "person decides"
                )
            else:
                promoted, reason = _gate(new_report, old_report, gate_margin)
            champion_window = client.get_run(str(champion.run_id)).data.tags.get(TAG_WINDOW)
            if champion_window and window and champion_window > window:
                notes.append(
                    f"the champion was trained on labels up to {champion_window}, after this "
                    f"window ({window}): the comparison favours it"
                )
        if notes:
            reason = f"{reason} (note: {'; '.join(notes)})"
        decision = PromotionDecision(
            promoted=promoted,
            reason=reason,
            model_name=name,
            challenger_version=str(challenger.version),
            champion_before=None if champion is None else str(champion.version),
            champion_after=(
                str(challenger.version)
                if promoted
                else (None if champion is None else str(champion.version))
            ),
            margin=gate_margin,
            evaluation_as_of=window,
            evaluation_rows=len(rows),
            challenger_metrics=to_jsonable(new_report),
            champion_metrics=None if old_report is None else to_jsonable(old_report),
            decided_at=_now(),
        )
        _record(client, target, decision, challenger, champion)
    return decision


def _record(
    client: MlflowClient,
    target: TrackingTarget,
    decision: PromotionDecision,
    challenger: ModelVersion,
    champion: ModelVersion | None,
) -> None:
    import mlflow

    name = target.registered_model
    experiment_id = ensure_experiment(client, target.promotion_experiment, target.artifact_root)
    tags = {
        "mlflow.user": target.run_user,
        TAG_STAGE: "promotion",
        "promotion.decision": decision.decision,
        "promotion.reason": decision.reason[:_TAG_LIMIT],
        "mlflow.note.content": f"{decision.decision}: {decision.reason}",
    }
    run_name = f"v{decision.challenger_version}-{decision.decision}"
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as run:
        decision.promotion_run_id = run.info.run_id
        mlflow.log_params(
            {
                "model_name": name,
                "challenger_version": decision.challenger_version,
                "challenger_run_id": challenger.run_id,
                "champion_before": decision.champion_before or "none",
                "champion_run_id": champion.run_id if champion is not None else "none",
                "champion_after": decision.champion_after or "none",
                "margin": decision.margin,
                "gate_metric": GATE_METRIC,
                "evaluation_as_of": decision.evaluation_as_of or "unknown",
                "evaluation_rows": decision.evaluation_rows,
            }
        )
        metrics: dict[str, float] = {}
        for side, report in (
            ("challenger", decision.challenger_metrics),
            ("champion", decision.champion_metrics or {}),
        ):
            metrics.update(
                {metric_key(side, k): float(v) for k, v in report.items() if v is not None}
            )
        if decision.champion_metrics:
            new = decision.challenger_metrics.get(GATE_METRIC)
            old = decision.champion_metrics.get(GATE_METRIC)
            if new is not None and old is not None:
                metrics[metric_key("delta", GATE_METRIC)] = float(new) - float(old)
        mlflow.log_metrics(metrics)
        mlflow.log_dict(decision.to_dict(), "decision.json")
        version_tags = {
            "promotion.decision": decision.decision,
            "promotion.reason": decision.reason[:_TAG_LIMIT],
            "promotion.run_id": run.info.run_id,
            "promotion.decided_at": decision.decided_at,
            "promotion.margin": f"{decision.margin:.6f}",
            "promotion.champion_before": decision.champion_before or "none",
            "promotion.challenger_auc_pr": _tag_number(decision.challenger_metrics),
            "promotion.champion_auc_pr": _tag_number(decision.champion_metrics),
        }
        for key, value in version_tags.items():
            client.set_model_version_tag(name, decision.challenger_version, key, value)
        if decision.promoted and decision.champion_before != decision.challenger_version:
            client.set_registered_model_alias(name, CHAMPION, decision.challenger_version)
            client.set_model_version_tag(
                name, decision.challenger_version, "champion.since", decision.decided_at
            )
            if decision.champion_before is not None:
                for key, value in (
                    ("champion.until", decision.decided_at),
                    ("champion.replaced_by", decision.challenger_version),
                ):
                    client.set_model_version_tag(name, decision.champion_before, key, value)
            append_history(target.history_path, _history_entry(decision))


def _tag_number(report: dict[str, float | None] | None) -> str:
    value = None if report is None else report.get(GATE_METRIC)
    return "n/a" if value is None else f"{value:.6f}"


def _history_entry(decision: PromotionDecision) -> dict[str, Any]:
    return {
        "at": decision.decided_at,
        "model": decision.model_name,
        "champion": decision.challenger_version,
        "previous": decision.champion_before,
        "promotion_run_id": decision.promotion_run_id,
        "evaluation_as_of": decision.evaluation_as_of,
        "challenger_auc_pr": decision.challenger_metrics.get(GATE_METRIC),
        "champion_auc_pr": (decision.champion_metrics or {}).get(GATE_METRIC),
        "margin": decision.margin,
        "reason": decision.reason,
    }


# ---------------------------------------------------------------- history


def append_history(path: Path, entry: dict[str, Any]) -> None:
    """Append one JSON line and fsync it; the file is never opened for writing otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(entry, sort_keys=True, ensure_ascii=False, allow_nan=False)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_history(target: TrackingTarget) -> list[dict[str, Any]]:
    """The champion history, oldest first ([] before the first promotion)."""
    path = target.history_path
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def history_from_runs(target: TrackingTarget) -> list[dict[str, Any]]:
    """The same history rebuilt from the promotion runs (for a lost or doubted file)."""
    with activate(target) as client:
        experiment = client.get_experiment_by_name(target.promotion_experiment)
        if experiment is None:
            return []
        runs = client.search_runs(
            [experiment.experiment_id],
            filter_string=f"tags.`promotion.decision` = '{PROMOTED}'",
            order_by=["attributes.start_time ASC"],
        )
    out = []
    for run in runs:
        params = run.data.params
        out.append(
            {
                "champion": params["challenger_version"],
                "previous": None
                if params.get("champion_before") in (None, "none")
                else params["champion_before"],
                "promotion_run_id": run.info.run_id,
                "evaluation_as_of": params.get("evaluation_as_of"),
            }
        )
    return out
