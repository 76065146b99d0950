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


SEARCH_NOTE = (
    "Hyperparameter search: a recommendation only. Nothing was registered or promoted; "
    "paste best_config.toml into talentmap.toml and retrain to use it."
)


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


@dataclass(frozen=True)
class TuningRows:
    """The labelled rows cut by ``tuning_split``: what the trials fit on and are judged on."""

    split: TuneSplit
    train_x: pd.DataFrame
    train_y: np.ndarray
    train_as_of: pd.Series
    eval_x: pd.DataFrame
    eval_y: np.ndarray
    features: list[str]
    counts: dict[str, int]


def prepare_rows(
    frame: pd.DataFrame,
    y: Any,
    as_of: pd.Series | pd.Index | np.ndarray,
    *,
    base: ModelConfig,
    horizon_months: int,
    eval_dates: int,
    features: Sequence[str] | None,
    cutoff: date | pd.Timestamp | None,
) -> TuningRows:
    """Split the rows by date into train and evaluation; refuse rows that cannot be tuned on."""
    labels = _labels(y, len(frame))
    dates = as_of_days(as_of)
    if len(dates) != len(frame):
        raise TuneError(f"as_of has {len(dates)} rows, frame has {len(frame)}")
    split = tuning_split(dates, horizon_months, eval_dates)
    parts = split.assign(dates)
    _check_rows(split, parts, labels, base, dates, None if cutoff is None else pd.Timestamp(cutoff))
    train_mask, eval_mask = parts == TRAIN, parts == EVALUATION
    train_y, eval_y = labels[train_mask], labels[eval_mask]
    return TuningRows(
        split=split,
        train_x=frame.loc[train_mask].reset_index(drop=True),
        train_y=train_y,
        train_as_of=dates[train_mask].reset_index(drop=True),
        eval_x=frame.loc[eval_mask].reset_index(drop=True),
        eval_y=eval_y,
        features=list(features) if features is not None else list(frame.columns),
        counts={
            "train_rows": int(train_mask.sum()),
            "train_positives": int(train_y.sum()),
            "evaluation_rows": int(eval_mask.sum()),
            "evaluation_positives": int(eval_y.sum()),
            "gap_rows": int((parts == GAP).sum()),
        },
    )


def _search_params(
    config: TuneConfig, rows: TuningRows, horizon_months: int, cutoff: date | pd.Timestamp | None
) -> dict[str, Any]:
    split = rows.split
    return {
        **{f"space.{k}": v for k, v in config.space.describe().items()},
        "objective": f"{OBJECTIVE} (maximise)",
        "n_trials": config.n_trials,
        "timeout_minutes": config.timeout_minutes,
        "seed": config.seed,
        "sampler": "TPESampler",
        "horizon_months": horizon_months,
        "cutoff": None if cutoff is None else pd.Timestamp(cutoff).date(),
        "n_features": len(rows.features),
        "train_as_of_first": split.train[0].date(),
        "train_as_of_last": split.train[-1].date(),
        "n_train_as_of": len(split.train),
        "evaluation_as_of": ",".join(d.date().isoformat() for d in split.evaluation),
        **rows.counts,
    }


@dataclass
class TrialRunner:
    """Optuna's objective: fit one trial's model, score it, log it as a nested MLflow run."""

    rows: TuningRows
    config: TuneConfig
    base: ModelConfig
    categorical_features: Sequence[str] | None
    experiment_id: str
    tags: Mapping[str, str]
    on_trial: TrialHook | None
    current: Mapping[str, Any] | None
    outcomes: list[TrialOutcome]

    def fit_and_score(self, params: Mapping[str, Any]) -> tuple[dict[str, float], int]:
        from talentmap.training.model.estimator import PromiseModel

        rows = self.rows
        trial_config = ModelConfig.model_validate({**self.base.model_dump(), **params})
        model = PromiseModel(trial_config, rows.features, self.categorical_features)
        model.fit(rows.train_x, rows.train_y, rows.train_as_of)
        return _evaluate(rows.eval_y, model.predict_proba(rows.eval_x)[:, 1]), model.best_iteration_

    def __call__(self, trial: optuna.Trial) -> float:
        import mlflow

        from talentmap.training.tracking.target import metric_key

        params = self.config.space.suggest(trial)
        is_current = self.current is not None and trial.number == 0
        started = time.perf_counter()
        with mlflow.start_run(
            experiment_id=self.experiment_id,
            run_name=f"trial-{trial.number:03d}",
            nested=True,
            tags={
                **self.tags,
                TAG_STAGE: "tuning-trial",
                TAG_TRIAL: str(trial.number),
                TAG_CURRENT: str(is_current).lower(),
            },
        ) as child:
            mlflow.log_params({k: _log_value(v) for k, v in params.items()})
            metrics, best_iteration = self.fit_and_score(params)
            mlflow.log_metrics(
                {
                    **{metric_key(k): v for k, v in metrics.items()},
                    "best_iteration": best_iteration,
                    "fit_seconds": time.perf_counter() - started,
                }
            )
        outcome = TrialOutcome(trial.number, params, metrics, child.info.run_id, is_current)
        self.outcomes.append(outcome)
        if self.on_trial is not None:
            self.on_trial(outcome, len(self.outcomes), self.config.n_trials)
        return metrics[OBJECTIVE]


def _run_study(runner: TrialRunner) -> optuna.Study:
    import optuna

    config = runner.config
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=config.seed)
    )
    if runner.current is not None:
        study.enqueue_trial(dict(runner.current))
    study.optimize(
        runner,
        n_trials=config.n_trials,
        timeout=None if config.timeout_minutes is None else config.timeout_minutes * 60,
    )
    return study


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

    from talentmap.training.tracking import provenance
    from talentmap.training.tracking.target import activate, ensure_experiment, metric_key

    rows = prepare_rows(
        frame,
        y,
        as_of,
        base=base,
        horizon_months=horizon_months,
        eval_dates=config.eval_dates,
        features=features,
        cutoff=cutoff,
    )
    git = provenance.git_state()
    base_tags = {"mlflow.user": target.run_user, "git.commit": git.commit, **dict(tags or {})}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with activate(target) as client:
            experiment_id = ensure_experiment(client, target.experiment, target.artifact_root)
            with mlflow.start_run(
                experiment_id=experiment_id,
                run_name=run_name,
                tags={**base_tags, TAG_STAGE: "tuning", "mlflow.note.content": SEARCH_NOTE},
            ) as parent:
                mlflow.log_params(_search_params(config, rows, horizon_months, cutoff))
                mlflow.log_dict(rows.split.summary(), SPLIT_JSON)
                mlflow.log_dict(base.model_dump(mode="json"), BASE_CONFIG_JSON)
                runner = TrialRunner(
                    rows=rows,
                    config=config,
                    base=base,
                    categorical_features=categorical_features,
                    experiment_id=experiment_id,
                    tags=base_tags,
                    on_trial=on_trial,
                    current=config.space.current_values(base) if config.include_current else None,
                    outcomes=[],
                )
                study = _run_study(runner)
                outcomes = runner.outcomes
                best = next(o for o in outcomes if o.number == study.best_trial.number)
                reference = outcomes[0] if outcomes and outcomes[0].is_current else None
                best_config = ModelConfig.model_validate({**base.model_dump(), **best.params})
                snippet = toml_snippet(
                    _round(best.params),
                    _snippet_comment(
                        best, reference, len(outcomes), parent.info.run_id, rows.split
                    ),
                )
                _log_outcome(mlflow, best, reference, outcomes, snippet, metric_key)
    finally:
        optuna.logging.set_verbosity(verbosity)
    return TuneResult(
        parent_run_id=parent.info.run_id,
        experiment_id=experiment_id,
        split=rows.split,
        trials=tuple(outcomes),
        best=best,
        current=reference,
        best_config=best_config,
        toml=snippet,
        rows=rows.counts,
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
