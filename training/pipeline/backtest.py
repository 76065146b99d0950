"""An honest backtest at one as-of date: train on the past only, rank every candidate.

The pipeline is a chain of small steps with named inputs and outputs (Kedro style), so
that ``retrain`` and the MLflow run can reuse them one by one::

    load_snapshot        data dir, settings       -> Snapshot (id, date, typed tables)
    select_training_rows tables, as_of, config    -> TrainingRows (``rows.py``: history
                                                     window, per-date and per-slice minimums)
    build_features       Snapshot, settings       -> FeatureStore (tables written, applied)
    retrieve_features    settings, store, entity  -> feature frame (Feast, point in time)
    fit_model            frame, labels, dates     -> PromiseModel
    fit_baselines        frame, labels            -> logistic regression (LinearPart)
    score_candidates     model, frame             -> predictions (org_id, as_of, score, rank)
    evaluate             tables, scores, as_of    -> metrics per scorer, or "unavailable"

Honesty rules, all enforced here: every training label window ends on or before
``as_of`` (so nothing after ``as_of`` can reach the model; the leakage test deletes it
and checks that ``predictions.csv`` does not move), labels are computed with
``data_end=as_of``, and the evaluation at ``as_of`` is only run when the snapshot covers
``as_of + H`` — otherwise it is marked unavailable rather than counting unknown futures
as negatives. The pipeline never reads the generator's oracle.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from feast import FeatureStore

from talentmap.features.catalog import monotone_directions
from talentmap.features.definitions.services import SERVICE_NAME
from talentmap.features.engine import build_and_write
from talentmap.features.lineage import latest_date
from talentmap.features.store import (
    apply,
    get_training_frame,
    pin_feature_dtypes,
    promise_columns,
    text_feature_names,
)
from talentmap.ingest import ingest
from talentmap.lake import Lake
from talentmap.memory import release_unused_memory
from talentmap.optouts import apply_settings_opt_outs
from talentmap.settings import Settings
from talentmap.settings.model import ModelConfig
from talentmap.settings.training import PromiseRules
from talentmap.training.evaluation.baselines import (
    LOGISTIC_NAME,
    TOTAL_RAISED_NAME,
    fit_logistic_baseline,
    logistic_score,
    total_raised_score,
)
from talentmap.training.evaluation.fairness import FairnessConfig
from talentmap.training.evaluation.metrics import ranking_report, to_jsonable
from talentmap.training.evaluation.regional_floor import french_regions, regional_floor_cost
from talentmap.training.model.estimator import PromiseModel
from talentmap.training.model.linear import LinearPart
from talentmap.training.model.tree_engine import TreeEngine, open_tree_engine
from talentmap.training.pipeline.candidates import (
    CANDIDATE,
    candidate_status,
    exclusion_counts,
)
from talentmap.training.pipeline.labels import label, label_window_end
from talentmap.training.pipeline.rows import DROP_REASONS, TrainingRows, select_training_rows
from talentmap.training.pipeline.sampling import WEIGHT, RowSample, sample_training_rows

PREDICTIONS_FILE = "predictions.csv"
METRICS_FILE = "metrics.json"
MODEL_DIR = "model"
MODEL_NAME = "model"
KS: tuple[int, ...] = (50, 100, 500)
PREDICTION_COLUMNS = ("org_id", "as_of", "score", "rank")
STEPS: tuple[str, ...] = (
    "Ingesting the data directory",
    "Assembling training rows",
    "Building and applying the features",
    "Retrieving training features",
    "Training the model",
    "Training the baselines",
    "Scoring the candidates",
    "Evaluating",
    "Writing the outputs",
)

# (done, total, description), the same hook shape as ingestion's progress.
StepHook = Callable[[int, int, str], None]
# (training feature frame, training rows [org_id, as_of, label]) -> the values to fit.
ModelChooser = Callable[[pd.DataFrame, pd.DataFrame], ModelConfig]


class BacktestError(RuntimeError):
    """The backtest cannot run on this data at this date (the message says why)."""


@dataclass(frozen=True)
class Snapshot:
    """A lake snapshot, loaded: what every later step reads."""

    snapshot_id: str
    snapshot_date: date
    tables: dict[str, pd.DataFrame]
    # Every table of the snapshot, when ``tables`` holds fewer (``snapshot_slim``); empty:
    # the keys of ``tables``.
    table_names: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        """The snapshot's tables, sorted (what the lineage records)."""
        return tuple(sorted(self.table_names or self.tables))


@dataclass
class BacktestResult:
    """Everything a later stage (MLflow logging, the promotion gate) needs from a run."""

    out_dir: Path
    predictions_path: Path
    metrics_path: Path
    predictions: pd.DataFrame
    metrics: dict[str, Any]
    model: PromiseModel
    snapshot_id: str
    snapshot_date: date
    as_of: pd.Timestamp
    evaluated: bool
    # Per-scorer scores of the candidates at as_of, aligned with ``predictions``' order
    # before ranking (the MLflow step plots PR and calibration curves from these).
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    labels: np.ndarray | None = None  # None when the evaluation is unavailable
    candidate_ids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    # What MLflow logging needs beyond the outputs: the candidates' features at as_of
    # (aligned with ``scores``), the labels the model was fitted on, and the snapshot.
    features_at_as_of: pd.DataFrame = field(default_factory=pd.DataFrame)
    training_rows: pd.DataFrame = field(default_factory=pd.DataFrame)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    # The rows the model learnt from, when ``training.max_rows`` sampled them.
    sample: RowSample | None = None


# ------------------------------------------------------------------ steps


def load_snapshot(settings: Settings, data_dir: Path) -> Snapshot:
    """Ingest ``data_dir`` into the settings' lake (no-op if already there) and load it."""
    snapshot_id = ingest(Path(data_dir), settings.lake_dir, policy=settings.lake.policy).snapshot_id
    # Only the id is kept: the ingest result's report holds every typed table, and at a
    # million organisations holding it while the snapshot is read back costs gigabytes.
    release_unused_memory()
    lake = Lake(settings.lake_dir)
    tables = lake.load(snapshot_id)
    ref = lake.get(snapshot_id)
    snapshot_date = ref.snapshot_date or latest_date(tables)
    # Opted-out persons' rows go before anything is built (lake table ∪ forget register).
    return Snapshot(snapshot_id, snapshot_date, apply_settings_opt_outs(tables, settings))


def build_features(settings: Settings, snapshot: Snapshot) -> FeatureStore:
    """Write the snapshot's feature tables to the settings' folder and apply Feast."""
    # Streamed (issue 10): each organisation chunk of each family is written as it is
    # built, opted-out subjects' rows dropped chunk by chunk, so neither a whole family
    # table nor the builders' intermediates for every company are held at once. The
    # run's rules (milestones, the age fallback) come from the settings.
    build_and_write(settings, snapshot.tables, snapshot.snapshot_date, snapshot.snapshot_id)
    return apply(settings)


def _day(value: date | pd.Timestamp | str) -> pd.Timestamp:
    return pd.Timestamp(value).normalize()


def feature_names() -> list[str]:
    """The ``promise`` service's features: what the model and the logistic baseline read."""
    return promise_columns()


def categorical_names(features: Sequence[str]) -> list[str]:
    """The text features among ``features`` (by the catalogue, never by the frame's dtype)."""
    strings = text_feature_names()
    return [c for c in features if c in strings]


def retrieve_features(
    settings: Settings, store: FeatureStore | None, entity: pd.DataFrame
) -> pd.DataFrame:
    """Point-in-time ``promise`` features of ``[org_id, as_of]`` rows, in their order.

    Dtypes are pinned from the catalogue (text = object, the rest float64), so a column
    that happens to be all missing in one run cannot change type, and with it the model.
    """
    return pin_feature_dtypes(get_training_frame(settings, entity[["org_id", "as_of"]], store))


def fit_model(
    frame: pd.DataFrame,
    labels: np.ndarray | pd.Series,
    as_of: pd.Series,
    config: ModelConfig,
    features: Sequence[str],
    horizon_months: int | None = None,
    tree_engine: TreeEngine | None = None,
    sample_weight: np.ndarray | None = None,
) -> PromiseModel:
    """Fit the promise model (time-split early stopping, selection, calibration inside).

    ``horizon_months``: the label horizon, so that the models judged on the inner
    validation learn only from label windows closed before it (see ``PromiseModel``).
    ``tree_engine``: where the trees are trained (``training.engine``; None = here).
    ``sample_weight``: the rows each row stands for (``training.max_rows``), or None.
    """
    model = PromiseModel(
        config=config,
        features=list(features),
        categorical_features=categorical_names(features),
        monotone={k: v for k, v in monotone_directions().items() if k in set(features)},
        label_horizon_months=horizon_months,
        tree_engine=tree_engine,
    )
    model.fit(frame, np.asarray(labels), as_of.reset_index(drop=True), sample_weight)
    model.tree_engine = None  # its cluster lives for the fit only; never kept, never saved
    return model


def fit_baselines(
    frame: pd.DataFrame,
    labels: np.ndarray | pd.Series,
    features: Sequence[str],
    seed: int,
    c: float = 1.0,
    sample_weight: np.ndarray | None = None,
) -> LinearPart:
    """The logistic-regression baseline, fitted on exactly the model's training rows
    (with their weights, when ``training.max_rows`` sampled them)."""
    categorical = categorical_names(features)
    numeric = [c for c in features if c not in categorical]
    return fit_logistic_baseline(
        frame, np.asarray(labels), numeric, categorical, seed, c, sample_weight
    )


def score_all(
    model: PromiseModel, logistic: LinearPart, frame: pd.DataFrame, features: Sequence[str]
) -> dict[str, np.ndarray]:
    """Every scorer's score for every row of ``frame`` (same rows, same order)."""
    categorical = categorical_names(features)
    numeric = [c for c in features if c not in categorical]
    if frame.empty:
        empty = np.empty(0, dtype=np.float64)
        return {MODEL_NAME: empty, LOGISTIC_NAME: empty, TOTAL_RAISED_NAME: empty}
    return {
        MODEL_NAME: model.predict_proba(frame)[:, 1],
        LOGISTIC_NAME: logistic_score(logistic, frame, numeric, categorical),
        TOTAL_RAISED_NAME: total_raised_score(frame),
    }


def score_candidates(
    org_ids: Sequence[str] | pd.Series, score: np.ndarray, as_of: pd.Timestamp
) -> pd.DataFrame:
    """``predictions.csv`` rows: rank 1 = best; equal scores are ranked by org_id."""
    ids = np.asarray(org_ids, dtype=object)
    order = np.lexsort((ids.astype(str), -np.asarray(score, dtype=np.float64)))
    return pd.DataFrame(
        {
            "org_id": ids[order],
            "as_of": as_of.date().isoformat(),
            "score": np.asarray(score, dtype=np.float64)[order],
            "rank": np.arange(1, len(ids) + 1, dtype=np.int64),
        }
    )


def evaluate(
    tables: Mapping[str, pd.DataFrame],
    org_ids: Sequence[str] | pd.Series,
    scores: Mapping[str, np.ndarray],
    as_of: pd.Timestamp,
    rules: PromiseRules,
    snapshot_date: date,
    fairness: FairnessConfig | None = None,
) -> tuple[dict[str, Any], np.ndarray | None]:
    """Metrics of each scorer on the candidates at ``as_of``, labelled by the later data.

    Unavailable (with the reason) when the snapshot does not cover ``as_of + H``: those
    futures are unknown, and counting them as negatives would reward the wrong ranking.
    With ``fairness.floor_m > 0`` it also reports ``regional_floor``: the model's
    precision@k without and with at least m candidates per French region in the top k.
    """
    window_end = label_window_end(as_of, rules.horizon_months)
    summary: dict[str, Any] = {
        "label_window_end": window_end.date().isoformat(),
        "snapshot_date": snapshot_date.isoformat(),
    }
    if window_end > _day(snapshot_date):
        summary.update(
            available=False,
            reason=(
                f"the snapshot ends on {snapshot_date.isoformat()}, before the label window "
                f"of {as_of.date().isoformat()} closes on {window_end.date().isoformat()}: "
                "outcomes are unknown, not negative"
            ),
        )
        return summary, None
    entity = pd.DataFrame({"org_id": np.asarray(org_ids, dtype=object), "as_of": as_of})
    y = label(tables, entity, rules, data_end=snapshot_date)["label"].to_numpy(dtype=np.int64)
    reports = {name: to_jsonable(ranking_report(y, s, KS)) for name, s in scores.items()}
    summary.update(
        available=True,
        n=len(y),
        n_positive=int(y.sum()),
        base_rate=float(y.mean()) if len(y) else None,
        scorers=reports,
    )
    config = fairness or FairnessConfig()
    if config.floor_m > 0 and MODEL_NAME in scores:
        from talentmap.contract import FR_REGIONS

        regions = french_regions(tables["organizations"], entity["org_id"].to_numpy())
        summary["regional_floor"] = regional_floor_cost(
            y, scores[MODEL_NAME], regions, config.k, config.floor_m, FR_REGIONS
        )
    return summary, y


# ------------------------------------------------------------- the whole run


def _exclusions_at(counts: pd.DataFrame, when: pd.Timestamp) -> dict[str, int]:
    row = counts.loc[when] if when in counts.index else counts.sum() * 0
    return {str(k): int(v) for k, v in row.items()}


def _lineage_block(snapshot: Snapshot, features: Sequence[str]) -> dict[str, Any]:
    return {
        "snapshot_id": snapshot.snapshot_id,
        "snapshot_date": snapshot.snapshot_date.isoformat(),
        "tables": list(snapshot.names()),
        "feature_service": SERVICE_NAME,
        "features": list(features),
    }


def _training_block(
    training: TrainingRows, model: PromiseModel, history_years: int, sample: RowSample
) -> dict[str, Any]:
    rows = training.rows
    per_date = rows.groupby("as_of")["label"].agg(["size", "mean"])
    dropped = training.dropped
    return {
        "rows": len(rows),
        "positives": int(rows["label"].sum()),
        "base_rate": float(rows["label"].mean()),
        "history_years": history_years,
        "as_of_dates": [d.date().isoformat() for d in training.dates],
        "n_as_of_dates": len(training.dates),
        "dropped_as_of_dates": {
            "counts": {r: sum(1 for v in dropped.values() if v == r) for r in DROP_REASONS},
            "dates": {d.date().isoformat(): r for d, r in sorted(dropped.items())},
        },
        "age_fallback_rows": training.age_fallback_rows,
        "rows_per_as_of": {d.date().isoformat(): int(n) for d, n in per_date["size"].items()},
        "base_rate_per_as_of": {
            d.date().isoformat(): float(r) for d, r in per_date["mean"].items()
        },
        "refused_uncovered_windows": training.refused_uncovered,
        "exclusions_total": {
            str(k): int(v) for k, v in training.exclusions.sum().items() if k != CANDIDATE
        },
        "left_out_not_visible": int(training.exclusions["not_visible"].sum()),
        "sample": sample.to_dict(),
        "model": {
            "best_iteration": model.best_iteration_,
            "tree_fits": model.tree_fits_,
            "selection": model.selection_.to_dict(),
            "rows_per_slice": model.rows_,
            "base_rate_per_slice": model.base_rates_,
            "split": model.split_.summary(),
        },
    }


def write_outputs(
    out_dir: Path, predictions: pd.DataFrame, metrics: Mapping[str, Any], model: PromiseModel
) -> tuple[Path, Path]:
    """``predictions.csv``, ``metrics.json`` (strict JSON) and the saved model."""
    out_dir.mkdir(parents=True, exist_ok=True)
    predictions_path = out_dir / PREDICTIONS_FILE
    # repr-exact floats and "\n" line ends: the same run always gives the same bytes.
    predictions.to_csv(predictions_path, index=False, lineterminator="\n")
    metrics_path = out_dir / METRICS_FILE
    metrics_path.write_text(
        json.dumps(metrics, indent=2, allow_nan=False, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    model.save(out_dir / MODEL_DIR)
    return predictions_path, metrics_path


def run_backtest(
    settings: Settings,
    data_dir: Path,
    as_of: date | pd.Timestamp | str,
    horizon_months: int | None,
    out_dir: Path,
    on_step: StepHook | None = None,
    snapshot: Snapshot | None = None,
    store: FeatureStore | None = None,
    choose_model: ModelChooser | None = None,
) -> BacktestResult:
    """Ingest, build features, train on windows closed by ``as_of``, rank, evaluate, write.

    ``horizon_months`` overrides the configured label horizon (None keeps it). A caller
    that has already loaded ``data_dir``'s snapshot passes it to skip a second load, and one
    that has already built and applied its features (retrain) passes the store to skip a
    second build. Raises ``BacktestError`` when ``as_of`` lies after the snapshot, and
    ``UnusableDataError`` when the training rows cannot train a model (too few dates,
    rows or positives: the message says what to change).

    ``choose_model`` (retrain's budgeted search) picks the model's values from the
    retrieved training frame and rows instead of ``training.model``.
    """
    total = len(STEPS)

    def step(index: int) -> None:
        if on_step is not None:
            on_step(index, total, STEPS[index] if index < total else "Done")

    when = _day(as_of)
    config = settings.training
    rules = (
        config.rules
        if horizon_months is None
        else config.rules.model_copy(update={"horizon_months": horizon_months})
    )

    step(0)
    snapshot = snapshot or load_snapshot(settings, Path(data_dir))
    if when > _day(snapshot.snapshot_date):
        raise BacktestError(
            f"--as-of {when.date()} is after the snapshot date {snapshot.snapshot_date}: "
            "the data cannot describe the candidates at that date"
        )
    step(1)
    # Before the features: unusable rows fail in seconds, not after a full build.
    training = select_training_rows(snapshot.tables, when, rules, config)
    status_now = candidate_status(snapshot.tables, [when], rules)
    picked = status_now.loc[status_now["status"] == CANDIDATE]
    current = picked[["org_id", "as_of"]].reset_index(drop=True)
    current_fallback = int(picked["age_fallback"].sum())

    # Above training.max_rows, a weighted sample per as-of date (``sampling.py``): drawn
    # before retrieval, so Feast reads and the fits learn from the sampled rows only.
    fit_rows, sample = sample_training_rows(training.rows, config.max_rows, config.model.seed)
    fit_rows = fit_rows.reset_index(drop=True)
    weights = fit_rows[WEIGHT].to_numpy(dtype=np.float64) if sample.sampled else None

    step(2)
    store = store or build_features(settings, snapshot)

    step(3)
    features = feature_names()
    train_frame = retrieve_features(settings, store, fit_rows)
    now_frame = retrieve_features(settings, store, current)

    step(4)
    model_config = config.model if choose_model is None else choose_model(train_frame, fit_rows)
    with open_tree_engine(config) as engine:  # a Dask cluster lives for this fit only
        model = fit_model(
            train_frame,
            fit_rows["label"],
            fit_rows["as_of"],
            model_config,
            features,
            rules.horizon_months,
            tree_engine=engine,
            sample_weight=weights,
        )
    step(5)
    logistic = fit_baselines(
        train_frame,
        fit_rows["label"],
        features,
        config.model.seed,
        config.model.linear_c,
        weights,
    )
    del train_frame  # the fits are done: the frame is not held while scoring and logging

    step(6)
    scores = score_all(model, logistic, now_frame, features)
    predictions = score_candidates(current["org_id"], scores[MODEL_NAME], when)

    step(7)
    evaluation, y = evaluate(
        snapshot.tables,
        current["org_id"],
        scores,
        when,
        rules,
        snapshot.snapshot_date,
        settings.fairness,
    )
    now_counts = exclusion_counts(status_now)
    metrics: dict[str, Any] = {
        "as_of": when.date().isoformat(),
        "horizon_months": rules.horizon_months,
        "rules": rules.model_dump(mode="json"),
        "lineage": _lineage_block(snapshot, features),
        "candidates": {
            "n": len(current),
            "age_fallback": current_fallback,
            "left_out_not_visible": int(now_counts["not_visible"].sum()),
            "exclusions": {
                k: v for k, v in _exclusions_at(now_counts, when).items() if k != CANDIDATE
            },
        },
        "training": _training_block(training, model, config.history_years, sample),
        "evaluation": evaluation,
    }

    step(8)
    out = Path(out_dir)
    predictions_path, metrics_path = write_outputs(out, predictions, metrics, model)
    step(total)
    return BacktestResult(
        out_dir=out,
        predictions_path=predictions_path,
        metrics_path=metrics_path,
        predictions=predictions,
        metrics=metrics,
        model=model,
        snapshot_id=snapshot.snapshot_id,
        snapshot_date=snapshot.snapshot_date,
        as_of=when,
        evaluated=bool(evaluation["available"]),
        scores=scores,
        labels=y,
        candidate_ids=current["org_id"].to_numpy(dtype=object),
        features_at_as_of=now_frame,
        training_rows=training.rows,
        tables=snapshot.tables,
        sample=sample,
    )
