"""Optional hyperparameter search for the promise model: it recommends, it never deploys.

``tune_on_rows`` runs an Optuna search (TPE sampler, seeded) over the LightGBM settings
of ``SearchSpace`` and logs it to MLflow as one parent run with one NESTED child run per
trial. Its outcome is a recommendation: the best values, printed and written as a
``[training.model]`` snippet for ``talentmap.toml``. Nothing here trains, registers or
promotes the served model: a person pastes the snippet, then the usual ``train`` /
``retrain`` chain and its promotion gate decide, on their own evaluation window.

Honesty of the objective (never a random split, never the final window):

- The rows are training rows of a backtest at ``cutoff`` (every label window closes on or
  before it; ``tune`` takes them from ``assemble_training_rows`` with that cut-off). The
  final evaluation of that backtest — the candidates AT ``cutoff``, labelled by the data
  after it — is not among them, so the search never sees the labels the promotion gate
  judges a model on.
- Within those rows it runs an inner backtest (``tuning_split``): the latest
  ``eval_dates`` as-of dates form the evaluation slice, and each trial's model learns only
  from dates whose whole label window closes on or before the first evaluation date, as
  the outer backtest does. The dates in between are dropped: their labels would look into
  the evaluation period (the same company's Series A would be a training label and an
  evaluation label at once).
- Each trial fits the complete ``PromiseModel`` procedure (its own train < valid < calib
  time split, early stopping, calibration) on that older part and is scored on the
  evaluation slice with the probabilities it would serve: AUC-PR is the objective,
  AUC-ROC and precision@100 are logged beside it.

Trial 0 is the configured ``[training.model]`` values when they lie inside the space, so
the parent run shows whether the search beats the current configuration on this slice.
With a fixed seed and a trial count (no timeout) two searches give the same best values:
the sampler is seeded and LightGBM runs in deterministic mode.

No personal names reach MLflow: runs carry ids, dates, parameters and metrics only.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from talentmap.settings.model import ModelConfig
from talentmap.settings.tune import TuneConfig
from talentmap.training.evaluation.metrics import auc_pr, auc_roc, lift_at_k, precision_at_k
from talentmap.training.model.time_split import as_of_days, time_split
from talentmap.training.pipeline.labels import label_window_end

# optuna, MLflow, LightGBM and Feast are imported inside the functions: the CLI lists
# its commands without paying for them.

if TYPE_CHECKING:
    import optuna

    from talentmap.settings import Settings
    from talentmap.training.tracking.target import TrackingTarget

OBJECTIVE = "auc_pr"
TOP_K = 100
TRAIN, EVALUATION, GAP = "train", "evaluation", "gap"
TAG_STAGE = "talentmap.stage"
TAG_TRIAL = "talentmap.tune.trial"
TAG_CURRENT = "talentmap.tune.current_config"
TAG_BEST_RUN = "talentmap.tune.best_run_id"
BEST_TOML = "best_config.toml"
BEST_JSON = "best_config.json"
TRIALS_CSV = "trials.csv"
SPLIT_JSON = "split.json"
BASE_CONFIG_JSON = "base_config.json"


class TuneError(RuntimeError):
    """The search cannot run on these rows (the message says why)."""


# ------------------------------------------------------------------ the split


@dataclass(frozen=True)
class TuneSplit:
    """The inner backtest of the search: as-of dates of each part, ascending.

    Every ``train`` date's label window closes on or before the first ``evaluation``
    date; ``gap`` holds the dates dropped because theirs would not.
    """

    train: tuple[pd.Timestamp, ...]
    evaluation: tuple[pd.Timestamp, ...]
    gap: tuple[pd.Timestamp, ...]
    horizon_months: int

    def assign(self, as_of: pd.Series | pd.Index | np.ndarray) -> np.ndarray:
        """The part of each row: ``train``, ``evaluation`` or ``gap``."""
        days = as_of_days(as_of)
        out = np.full(len(days), GAP, dtype=object)
        out[days.isin(self.train).to_numpy()] = TRAIN
        out[days.isin(self.evaluation).to_numpy()] = EVALUATION
        return out

    def summary(self) -> dict[str, Any]:
        """JSON-friendly description, logged with the parent run."""
        return {
            "horizon_months": self.horizon_months,
            **{
                name: [d.date().isoformat() for d in getattr(self, name)]
                for name in (TRAIN, EVALUATION, GAP)
            },
        }


def tuning_split(
    as_of: pd.Series | pd.Index | np.ndarray, horizon_months: int, eval_dates: int
) -> TuneSplit:
    """Evaluate on the latest ``eval_dates`` dates; train on those whose window closes first.

    Raises ``TuneError`` when no date is left to train on.
    """
    days = as_of_days(as_of)
    if days.isna().any():
        raise TuneError("as_of holds missing dates; every row needs its as-of date")
    dates = tuple(pd.Timestamp(d) for d in sorted(days.unique()))
    if len(dates) <= eval_dates:
        raise TuneError(f"{len(dates)} as-of dates cannot hold {eval_dates} evaluation date(s)")
    evaluation = dates[-eval_dates:]
    first_eval = evaluation[0]
    earlier = dates[:-eval_dates]
    train = tuple(d for d in earlier if label_window_end(d, horizon_months) <= first_eval)
    gap = tuple(d for d in earlier if d not in train)
    if not train:
        raise TuneError(
            f"no as-of date has its {horizon_months}-month label window closed by the first "
            f"evaluation date {first_eval.date()}: the rows span too short a period to tune"
        )
    return TuneSplit(train, evaluation, gap, horizon_months)


# ------------------------------------------------------------------ results


@dataclass(frozen=True)
class TrialOutcome:
    """One finished trial: its values, its metrics on the evaluation slice, its run."""

    number: int
    params: dict[str, Any]
    metrics: dict[str, float]
    run_id: str
    is_current: bool

    @property
    def value(self) -> float:
        return self.metrics[OBJECTIVE]


@dataclass(frozen=True)
class TuneResult:
    """The search, logged: parent run, every trial, the best one and the recommendation."""

    parent_run_id: str
    experiment_id: str
    split: TuneSplit
    trials: tuple[TrialOutcome, ...]
    best: TrialOutcome
    current: TrialOutcome | None  # trial 0 when it evaluated the configured values
    best_config: ModelConfig
    toml: str
    rows: dict[str, int]

    @property
    def recommended(self) -> dict[str, Any]:
        return dict(self.best.params)


TrialHook = Callable[[TrialOutcome, int, int], None]  # (trial, finished so far, n_trials)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(float(value))  # shortest repr that round-trips; valid TOML
    return json.dumps(str(value))  # a TOML basic string is a JSON string


def toml_snippet(params: Mapping[str, Any], comment: str = "") -> str:
    """A ``[training.model]`` table to paste into ``talentmap.toml``."""
    lines = [f"# {line}" for line in comment.splitlines()]
    lines.append("[training.model]")
    lines += [f"{name} = {_toml_value(value)}" for name, value in params.items()]
    return "\n".join(lines) + "\n"


def _round(params: Mapping[str, Any]) -> dict[str, Any]:
    # Six significant digits are plenty for a hyperparameter and keep the snippet readable.
    return {k: float(f"{v:.6g}") if isinstance(v, float) else v for k, v in params.items()}


# ------------------------------------------------------------------ the search


def _labels(y: Any, n: int) -> np.ndarray:
    values = np.asarray(y)
    if len(values) != n:
        raise TuneError(f"y has {len(values)} rows, frame has {n}")
    if not np.isin(values, (0, 1)).all():
        raise TuneError("y must hold only 0 and 1 (refuse uncovered windows before tuning)")
    return values.astype(np.int64)


def _evaluate(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    return {
        "auc_pr": auc_pr(y, score),
        "auc_roc": auc_roc(y, score),
        f"precision@{TOP_K}": precision_at_k(y, score, TOP_K),
        f"lift@{TOP_K}": lift_at_k(y, score, TOP_K),
    }


def _check_rows(
    split: TuneSplit,
    parts: np.ndarray,
    labels: np.ndarray,
    base: ModelConfig,
    as_of: pd.Series,
    cutoff: pd.Timestamp | None,
) -> None:
    evaluation = labels[parts == EVALUATION]
    if len(np.unique(evaluation)) < 2:
        raise TuneError("the evaluation slice holds a single class: AUC-PR is undefined there")
    if cutoff is not None:
        closes = label_window_end(split.evaluation[-1], split.horizon_months)
        if closes > pd.Timestamp(cutoff).normalize():
            raise TuneError(
                f"the evaluation slice's label windows close on {closes.date()}, after the "
                f"cut-off {pd.Timestamp(cutoff).date()}: those labels are not known yet"
            )
    try:  # fail before any MLflow run if the model cannot slice the training part
        time_split(
            as_of[parts == TRAIN], base.valid_fraction, base.calib_fraction, base.purge_dates
        )
    except ValueError as exc:
        raise TuneError(
            f"the training part is too short for the model's time split: {exc}"
        ) from exc


def _log_value(value: Any) -> str:
    return str(float(f"{value:.6g}")) if isinstance(value, float) else str(value)


def tune_on_rows(
    frame: pd.DataFrame,
    y: Any,
    as_of: pd.Series | pd.Index | np.ndarray,
    config: TuneConfig,
    target: TrackingTarget,
    *,
    base: ModelConfig,
    horizon_months: int,
    features: Sequence[str] | None = None,
    categorical_features: Sequence[str] | None = None,
    cutoff: date | pd.Timestamp | None = None,
    run_name: str = "tune",
    tags: Mapping[str, str] | None = None,
    on_trial: TrialHook | None = None,
) -> TuneResult:
    """Search ``config.space`` on labelled rows and log it; recommend, never register.

    ``frame``, ``y`` (0/1) and ``as_of`` align by position; they are training rows whose
    label windows all close on or before ``cutoff`` (checked when given). ``base`` gives
    every unsearched ``ModelConfig`` field. ``features`` default: every column of ``frame``.
    """
    import mlflow
    import optuna

    from talentmap.training.model.estimator import PromiseModel
    from talentmap.training.tracking import provenance
    from talentmap.training.tracking.target import activate, ensure_experiment, metric_key

    labels = _labels(y, len(frame))
    dates = as_of_days(as_of)
    if len(dates) != len(frame):
        raise TuneError(f"as_of has {len(dates)} rows, frame has {len(frame)}")
    split = tuning_split(dates, horizon_months, config.eval_dates)
    parts = split.assign(dates)
    _check_rows(split, parts, labels, base, dates, None if cutoff is None else pd.Timestamp(cutoff))
    train_mask, eval_mask = parts == TRAIN, parts == EVALUATION
    train_x = frame.loc[train_mask].reset_index(drop=True)
    train_y, train_as_of = labels[train_mask], dates[train_mask].reset_index(drop=True)
    eval_x, eval_y = frame.loc[eval_mask].reset_index(drop=True), labels[eval_mask]
    names = list(features) if features is not None else list(frame.columns)
    rows = {
        "train_rows": int(train_mask.sum()),
        "train_positives": int(train_y.sum()),
        "evaluation_rows": int(eval_mask.sum()),
        "evaluation_positives": int(eval_y.sum()),
        "gap_rows": int((parts == GAP).sum()),
    }
    space = config.space
    current = space.current_values(base) if config.include_current else None

    def fit_and_score(params: Mapping[str, Any]) -> tuple[dict[str, float], int]:
        trial_config = ModelConfig.model_validate({**base.model_dump(), **params})
        model = PromiseModel(trial_config, names, categorical_features)
        model.fit(train_x, train_y, train_as_of)
        return _evaluate(eval_y, model.predict_proba(eval_x)[:, 1]), model.best_iteration_

    git = provenance.git_state()
    base_tags = {"mlflow.user": target.run_user, "git.commit": git.commit, **dict(tags or {})}
    outcomes: list[TrialOutcome] = []
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with activate(target) as client:
            experiment_id = ensure_experiment(client, target.experiment, target.artifact_root)
            with mlflow.start_run(
                experiment_id=experiment_id,
                run_name=run_name,
                tags={
                    **base_tags,
                    TAG_STAGE: "tuning",
                    "mlflow.note.content": (
                        "Hyperparameter search: a recommendation only. Nothing was "
                        "registered or promoted; paste best_config.toml into talentmap.toml "
                        "and retrain to use it."
                    ),
                },
            ) as parent:
                mlflow.log_params(
                    {
                        **{f"space.{k}": v for k, v in space.describe().items()},
                        "objective": f"{OBJECTIVE} (maximise)",
                        "n_trials": config.n_trials,
                        "timeout_minutes": config.timeout_minutes,
                        "seed": config.seed,
                        "sampler": "TPESampler",
                        "horizon_months": horizon_months,
                        "cutoff": None if cutoff is None else pd.Timestamp(cutoff).date(),
                        "n_features": len(names),
                        "train_as_of_first": split.train[0].date(),
                        "train_as_of_last": split.train[-1].date(),
                        "n_train_as_of": len(split.train),
                        "evaluation_as_of": ",".join(
                            d.date().isoformat() for d in split.evaluation
                        ),
                        **rows,
                    }
                )
                mlflow.log_dict(split.summary(), SPLIT_JSON)
                mlflow.log_dict(base.model_dump(mode="json"), BASE_CONFIG_JSON)

                def objective(trial: optuna.Trial) -> float:
                    params = space.suggest(trial)
                    is_current = current is not None and trial.number == 0
                    started = time.perf_counter()
                    with mlflow.start_run(
                        experiment_id=experiment_id,
                        run_name=f"trial-{trial.number:03d}",
                        nested=True,
                        tags={
                            **base_tags,
                            TAG_STAGE: "tuning-trial",
                            TAG_TRIAL: str(trial.number),
                            TAG_CURRENT: str(is_current).lower(),
                        },
                    ) as child:
                        mlflow.log_params({k: _log_value(v) for k, v in params.items()})
                        metrics, best_iteration = fit_and_score(params)
                        mlflow.log_metrics(
                            {
                                **{metric_key(k): v for k, v in metrics.items()},
                                "best_iteration": best_iteration,
                                "fit_seconds": time.perf_counter() - started,
                            }
                        )
                    outcome = TrialOutcome(
                        trial.number, params, metrics, child.info.run_id, is_current
                    )
                    outcomes.append(outcome)
                    if on_trial is not None:
                        on_trial(outcome, len(outcomes), config.n_trials)
                    return metrics[OBJECTIVE]

                study = optuna.create_study(
                    direction="maximize", sampler=optuna.samplers.TPESampler(seed=config.seed)
                )
                if current is not None:
                    study.enqueue_trial(current)
                study.optimize(
                    objective,
                    n_trials=config.n_trials,
                    timeout=None if config.timeout_minutes is None else config.timeout_minutes * 60,
                )
                best = next(o for o in outcomes if o.number == study.best_trial.number)
                reference = outcomes[0] if outcomes and outcomes[0].is_current else None
                best_config = ModelConfig.model_validate({**base.model_dump(), **best.params})
                snippet = toml_snippet(
                    _round(best.params),
                    _snippet_comment(best, reference, len(outcomes), parent.info.run_id, split),
                )
                _log_outcome(mlflow, best, reference, outcomes, snippet, metric_key)
    finally:
        optuna.logging.set_verbosity(verbosity)
    return TuneResult(
        parent_run_id=parent.info.run_id,
        experiment_id=experiment_id,
        split=split,
        trials=tuple(outcomes),
        best=best,
        current=reference,
        best_config=best_config,
        toml=snippet,
        rows=rows,
    )


def _snippet_comment(
    best: TrialOutcome,
    reference: TrialOutcome | None,
    n_trials: int,
    run_id: str,
    split: TuneSplit,
) -> str:
    dates = ", ".join(d.date().isoformat() for d in split.evaluation)
    lines = [
        f"Best of {n_trials} trials (MLflow run {run_id}).",
        f"AUC-PR {best.value:.4f} on the candidates at {dates}.",
    ]
    if reference is not None:
        lines.append(
            "The configured values are still the best."
            if best.number == reference.number
            else f"The configured values scored {reference.value:.4f}."
        )
    lines.append("A recommendation only: retrain, and let the promotion gate judge it.")
    return "\n".join(lines)


def _log_outcome(
    mlflow: Any,
    best: TrialOutcome,
    reference: TrialOutcome | None,
    outcomes: Sequence[TrialOutcome],
    snippet: str,
    metric_key: Callable[..., str],
) -> None:
    """The parent run's summary: best values and metrics, versus the configured ones."""
    mlflow.log_params({f"best.{k}": _log_value(v) for k, v in best.params.items()})
    mlflow.log_param("best.trial", best.number)
    metrics = {metric_key("best", k): v for k, v in best.metrics.items()}
    metrics["n_trials_completed"] = len(outcomes)
    if reference is not None:
        metrics.update({metric_key("current", k): v for k, v in reference.metrics.items()})
        metrics[metric_key("gain_over_current", OBJECTIVE)] = best.value - reference.value
    mlflow.log_metrics({k: v for k, v in metrics.items() if not math.isnan(v)})
    mlflow.set_tag(TAG_BEST_RUN, best.run_id)
    mlflow.log_text(snippet, BEST_TOML)
    mlflow.log_dict(_recommendation(best, reference), BEST_JSON)
    table = pd.DataFrame(
        [
            {"trial": o.number, "current_config": o.is_current, **o.params, **o.metrics}
            for o in outcomes
        ]
    )
    mlflow.log_text(table.to_csv(index=False), TRIALS_CSV)


def _recommendation(best: TrialOutcome, reference: TrialOutcome | None) -> dict[str, Any]:
    def clean(metrics: Mapping[str, float]) -> dict[str, float | None]:
        return {k: None if math.isnan(v) else v for k, v in metrics.items()}

    return {
        "training": {"model": _round(best.params)},
        "best_trial": best.number,
        "best_run_id": best.run_id,
        "metrics": clean(best.metrics),
        "current_config_metrics": clean(reference.metrics) if reference else None,
    }


def write_recommendation(result: TuneResult, out_dir: Path) -> tuple[Path, Path]:
    """``best_config.toml`` (the snippet) and ``best_config.json`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    toml_path, json_path = out_dir / BEST_TOML, out_dir / BEST_JSON
    toml_path.write_text(result.toml, encoding="utf-8")
    payload = {
        **_recommendation(result.best, result.current),
        "parent_run_id": result.parent_run_id,
        "split": result.split.summary(),
        "rows": result.rows,
    }
    json_path.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return toml_path, json_path


# ------------------------------------------------------------------ from a data directory

StepHook = Callable[[str], None]


@dataclass(frozen=True)
class TuneRun:
    """``tune`` on a data directory: the search plus what it was run on."""

    result: TuneResult
    snapshot_id: str
    as_of: pd.Timestamp


def tune(
    settings: Settings,
    data_dir: Path,
    *,
    as_of: date | pd.Timestamp | str | None = None,
    config: TuneConfig | None = None,
    on_step: StepHook | None = None,
    on_trial: TrialHook | None = None,
) -> TuneRun:
    """Search on the training rows of the backtest at ``as_of`` (default: what ``train`` uses).

    ``as_of`` defaults to the latest date whose label window the snapshot covers, the
    window ``train`` registers a model on; the search only sees training rows whose
    windows close on or before it, never the candidates at ``as_of`` themselves. The
    features are built into a temporary folder, so the live feature store is not touched.
    """
    from talentmap.settings import FeatureSettings
    from talentmap.training.pipeline.backtest import (
        assemble_training_rows,
        build_features,
        categorical_names,
        feature_names,
        load_snapshot,
        retrieve_features,
        training_dates,
    )
    from talentmap.training.pipeline.train import latest_covered_as_of
    from talentmap.training.tracking.target import resolve_target

    def step(description: str) -> None:
        if on_step is not None:
            on_step(description)

    config = config or settings.tune
    rules = settings.training.rules
    horizon = rules.horizon_months
    step("Ingesting the data directory")
    snapshot = load_snapshot(settings, Path(data_dir))
    when = pd.Timestamp(
        as_of if as_of is not None else latest_covered_as_of(snapshot.snapshot_date, horizon)
    ).normalize()
    if when > pd.Timestamp(snapshot.snapshot_date):
        raise TuneError(
            f"--as-of {when.date()} is after the snapshot date {snapshot.snapshot_date}"
        )
    step("Assembling training rows")
    dates = training_dates(snapshot.tables, when, horizon, settings.training.as_of_every_months)
    training = assemble_training_rows(snapshot.tables, dates, rules, cutoff=when)
    if training.rows.empty:
        raise TuneError(f"no training row whose label window closes by {when.date()}")
    with tempfile.TemporaryDirectory(prefix="talentmap-tune-", ignore_cleanup_errors=True) as tmp:
        staged = settings.model_copy(
            update={
                "features": FeatureSettings(
                    repo_dir=settings.feature_repo_dir,
                    tables_dir=Path(tmp) / "features",
                    store_dir=Path(tmp) / "feast",
                )
            }
        )
        step("Building the features (temporary store)")
        store = build_features(staged, snapshot)
        step("Retrieving training features")
        frame = retrieve_features(staged, store, training.rows)
    features = feature_names()
    step("Searching")
    result = tune_on_rows(
        frame,
        training.rows["label"].to_numpy(),
        training.rows["as_of"],
        config,
        resolve_target(settings),
        base=settings.training.model,
        horizon_months=horizon,
        features=features,
        categorical_features=categorical_names(features),
        cutoff=when,
        run_name=f"tune-{snapshot.snapshot_id}",
        tags={
            "lineage.snapshot_id": snapshot.snapshot_id,
            "talentmap.tune.as_of": when.date().isoformat(),
        },
        on_trial=on_trial,
    )
    return TuneRun(result, snapshot.snapshot_id, when)
