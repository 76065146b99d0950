"""Scheduled retraining: the whole chain, safe to run from cron.

ingest (with validation) → build → materialize → train and evaluate → promotion gate →
publish. Two promises hold whatever fails, including a SIGKILL between any two steps:

- the ``champion`` alias moves only inside the promotion gate, after everything else
  succeeded;
- the live feature store (offline tables and online store) is never written in place.
  Each run builds a new version under ``versions_dir``; the live paths are symlinks that
  are switched to it with one atomic rename each, only after the gate has decided.

With ``retrain.tune_budget_seconds > 0`` (or ``tune_budget_seconds=``) the train step
first runs a budgeted hyperparameter search on the rows it is about to fit and fits the
searched values only if they beat the configured ones on the search's inner evaluation
(``retrain_tune``); the promotion gate then judges the challenger as usual.

A file lock keeps two retrains from running at once; the operating system releases it
when its holder dies, so a killed run never blocks the next one. A run whose snapshot,
code and settings match the champion's is a no-op, so a cron job can fire freely.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

from talentmap.settings import Settings

if TYPE_CHECKING:
    from feast import FeatureStore

    from talentmap.training.pipeline.backtest import Snapshot
    from talentmap.training.pipeline.retrain_tune import TuningDecision
    from talentmap.training.pipeline.train import TrainingRun
    from talentmap.training.tracking.registry import PromotionDecision

logger = logging.getLogger("talentmap.retrain")

RETRAIN_STEPS: tuple[str, ...] = (
    "ingest",
    "build",
    "materialize",
    "train",
    "promote",
    "publish",
)

# Called with the name of each step as it starts; the fault tests use it to stop a run.
StepHook = Callable[[str], None]
# Called with facts about the step in progress (``rows=...``) for the command's logs.
FactsHook = Callable[..., None]


class RetrainBusyError(RuntimeError):
    """Another retrain holds the lock."""


class RetrainError(RuntimeError):
    """A step failed; the champion and the live feature store are untouched."""

    def __init__(self, step: str, cause: BaseException) -> None:
        super().__init__(f"retrain failed at step '{step}': {cause}")
        self.step = step
        self.cause = cause


@dataclass(frozen=True)
class RetrainOutcome:
    """What a retrain did."""

    skipped: bool
    reason: str
    snapshot_id: str
    version_dir: Path | None = None
    model_version: str | None = None
    run_id: str | None = None
    promoted: bool | None = None
    decision_reason: str | None = None
    tuning: TuningDecision | None = None  # None when no search ran (budget 0)


def _version_settings(settings: Settings, version_dir: Path) -> Settings:
    """The settings of one run: same everything, feature store inside ``version_dir``."""
    # A copy, so the kind of registry and online store (file/sql, sqlite/redis) carries over.
    features = settings.features.model_copy(
        update={
            "repo_dir": settings.feature_repo_dir,
            "tables_dir": version_dir / "features",
            "store_dir": version_dir / "feast",
        }
    )
    return settings.model_copy(update={"features": features})


def config_fingerprint(settings: Settings, tune_budget_seconds: float = 0.0) -> str:
    """A short hash of what shapes the model: the candidate rules and hyperparameters.

    A tuning search shapes it too: with a budget, the ``[tune]`` settings and the budget
    are hashed as well (without one, the hash is what it always was).
    """
    text = settings.training.model_dump_json()
    if tune_budget_seconds > 0:
        text += f"\ntune={settings.tune.model_dump_json()}\nbudget={tune_budget_seconds!r}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def point_live_path(live: Path, target: Path, aside_dir: Path) -> None:
    """Atomically make ``live`` a symlink to ``target``.

    A real folder left at ``live`` (by ``talentmap features build`` or ``make demo``) is
    first moved aside into ``aside_dir``, once; from then on ``live`` is always a link.
    """
    live.parent.mkdir(parents=True, exist_ok=True)
    if live.exists() and not live.is_symlink():
        aside_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        live.rename(aside_dir / f"pre-retrain-{live.name}-{stamp}")
    temporary = live.with_name(f".{live.name}.link-{os.getpid()}")
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(target.resolve(), target_is_directory=True)
    os.replace(temporary, live)


def prune_versions(versions_dir: Path, keep: int, live: set[Path]) -> None:
    """Delete the oldest version folders beyond ``keep``, never a live one."""
    if not versions_dir.is_dir():
        return
    folders = sorted(p for p in versions_dir.iterdir() if p.is_dir() and not p.is_symlink())
    for folder in folders[: max(0, len(folders) - keep)]:
        if folder.resolve() not in live:
            shutil.rmtree(folder, ignore_errors=True)


def _champion_matches(
    settings: Settings, snapshot_id: str, opt_outs: str, fingerprint: str
) -> str | None:
    """The champion's version if it was trained on this snapshot, code, config and opt-outs.

    Opt-outs count: a `forget` since the champion's run must lead to a retrain without it.
    """
    from mlflow.exceptions import MlflowException

    from talentmap.features.store import read_lineage
    from talentmap.training.tracking.provenance import git_state
    from talentmap.training.tracking.target import activate, resolve_target

    target = resolve_target(settings)
    git = git_state()
    with activate(target) as client:
        try:
            version = client.get_model_version_by_alias(target.registered_model, "champion")
        except MlflowException:  # no registered model, or no champion yet
            return None
        tags = client.get_run(version.run_id).data.tags
    same = (
        tags.get("lineage.snapshot_id") == snapshot_id
        and tags.get("git.commit") == git.commit
        and git.dirty is False
        and tags.get("talentmap.config_fingerprint") == fingerprint
        and tags.get("talentmap.opt_outs_fingerprint") == opt_outs
        # A run killed between promotion and publication left the old store live.
        and (read_lineage(settings.feature_tables_dir) or {}).get("snapshot_id") == snapshot_id
    )
    return str(version.version) if same else None


def retrain(
    settings: Settings,
    data_dir: Path,
    *,
    force: bool = False,
    on_step: StepHook | None = None,
    tune_budget_seconds: float | None = None,
    on_facts: FactsHook | None = None,
) -> RetrainOutcome:
    """Run the whole chain under the lock; raise ``RetrainError`` naming the failed step.

    ``tune_budget_seconds`` overrides ``retrain.tune_budget_seconds`` (0 = no search).
    """
    budget = (
        settings.retrain.tune_budget_seconds if tune_budget_seconds is None else tune_budget_seconds
    )
    if budget < 0:
        raise ValueError(f"the tuning budget must be 0 (off) or positive, not {budget}")
    lock_path = settings.path(settings.retrain.lock_file)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(lock_path), timeout=0):
            return _retrain_locked(
                settings,
                Path(data_dir),
                force=force,
                on_step=on_step,
                budget=budget,
                on_facts=on_facts,
            )
    except Timeout as busy:
        raise RetrainBusyError(
            f"another retrain is running (lock {lock_path} is held); try again later"
        ) from busy


def _retrain_locked(
    settings: Settings,
    data_dir: Path,
    *,
    force: bool,
    on_step: StepHook | None,
    budget: float,
    on_facts: FactsHook | None = None,
) -> RetrainOutcome:
    from talentmap.features import store as feature_store
    from talentmap.memory import release_unused_memory
    from talentmap.optouts import opt_outs_fingerprint
    from talentmap.training.pipeline.backtest import build_features, load_snapshot
    from talentmap.training.pipeline.snapshot_slim import slim_snapshot
    from talentmap.training.pipeline.train import train
    from talentmap.training.tracking.registry import promote
    from talentmap.training.tracking.target import resolve_target

    def begin(step: str) -> None:
        if on_step is not None:
            on_step(step)

    def facts(**found: object) -> None:
        if on_facts is not None:
            on_facts(**found)

    step = "ingest"
    version_dir: Path | None = None
    published = False
    try:
        begin(step)
        snapshot = load_snapshot(settings, data_dir)
        opt_outs = opt_outs_fingerprint(snapshot.tables.get("opt_outs"))
        fingerprint = config_fingerprint(settings, budget)
        facts(rows=len(snapshot.tables["organizations"]), snapshot_id=snapshot.snapshot_id)
        if not force:
            current = _champion_matches(settings, snapshot.snapshot_id, opt_outs, fingerprint)
            if current is not None:
                return RetrainOutcome(
                    skipped=True,
                    reason=(
                        f"champion v{current} was trained on snapshot {snapshot.snapshot_id} "
                        "with this code and configuration: nothing to do"
                    ),
                    snapshot_id=snapshot.snapshot_id,
                )

        step = "build"
        begin(step)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        versions_dir = settings.path(settings.retrain.versions_dir)
        version_dir = versions_dir / f"{stamp}-{snapshot.snapshot_id}"
        staged = _version_settings(settings, version_dir)
        store = build_features(staged, snapshot)

        step = "materialize"
        begin(step)
        feature_store.materialize(staged, snapshot.snapshot_date)

        step = "train"
        begin(step)
        # The features are built: from here on the chain reads a few columns of a few
        # tables (``snapshot_slim``), so the full tables are let go before the fit.
        # Dropping the full tables frees memory inside the process only: glibc and Arrow
        # keep the pages (about 300 MB of 600 at 100,000 organisations) unless handed back.
        snapshot = slim_snapshot(snapshot)
        gc.collect()
        release_unused_memory()
        out_dir = settings.path(settings.retrain.runs_dir) / version_dir.name
        # `train` registers the challenger (after the budgeted search, if any); the
        # fingerprint tag lets the next run skip.
        run = train(
            staged, data_dir, out_dir, snapshot=snapshot, store=store, tune_budget_seconds=budget
        )
        _tag_run(settings, run.logged.run_id, opt_outs, fingerprint)
        facts(rows=len(run.backtest.training_rows), model_version=run.logged.model_version)

        step = "promote"
        begin(step)
        decision = promote(resolve_target(settings))
        facts(promoted=decision.promoted)

        step = "publish"
        begin(step)
        # The champion after the gate ranks every candidate in batch from this version's
        # offline store; the ranking sits in the version's tables folder, so it goes
        # live with the same pointer flip as the tables, and nowhere else.
        ranked = _publish_ranking(staged, store, snapshot, decision, run)
        facts(rows=ranked[1] if ranked else 0)
        point_live_path(settings.feature_store_dir, version_dir / "feast", versions_dir)
        point_live_path(settings.feature_tables_dir, version_dir / "features", versions_dir)
        published = True
        if ranked is not None:
            _log_ranking(settings, ranked[0], decision.promoted, version_dir.name)
        live = {settings.feature_store_dir.resolve(), settings.feature_tables_dir.resolve()}
        prune_versions(versions_dir, settings.retrain.keep_versions, {p.parent for p in live})
        return RetrainOutcome(
            skipped=False,
            reason="retrained",
            snapshot_id=snapshot.snapshot_id,
            version_dir=version_dir,
            model_version=run.logged.model_version,
            run_id=run.logged.run_id,
            promoted=decision.promoted,
            decision_reason=decision.reason,
            tuning=run.tuning,
        )
    except Exception as failure:
        if version_dir is not None and not published:
            shutil.rmtree(version_dir, ignore_errors=True)
        raise RetrainError(step, failure) from failure


def _publish_ranking(
    staged: Settings,
    store: FeatureStore,
    snapshot: Snapshot,
    decision: PromotionDecision,
    run: TrainingRun,
) -> tuple[PublishedBy, int] | None:
    """Write the batch ranking into the staged version; (what to log, rows) or None."""
    from talentmap.training.pipeline.batch_ranking import (
        RankedBy,
        load_registered_model,
        publish_ranking,
    )

    if decision.champion_after is None:
        logger.warning("no champion after the gate: no ranking published with this version")
        return None
    if decision.promoted:
        logged = run.logged
        ranked_by = RankedBy(
            run.backtest.model, decision.model_name, str(logged.model_version), logged.run_id
        )
    else:
        ranked_by = load_registered_model(staged, str(decision.champion_after))
    folder, meta = publish_ranking(
        staged,
        store,
        staged.feature_tables_dir,
        snapshot.tables,
        snapshot.snapshot_id,
        snapshot.snapshot_date,
        ranked_by,
    )
    return PublishedBy(folder, ranked_by.run_id), int(meta["rows"])


@dataclass(frozen=True)
class PublishedBy:
    folder: Path
    run_id: str | None


def _log_ranking(settings: Settings, ranked: PublishedBy, promoted: bool, name: str) -> None:
    """Log the published Parquet file to the run of the model that produced it.

    After the pointer flip: a failure here is logged, not raised (the version is live).
    """
    from talentmap.training.pipeline.batch_ranking import artifact_path, log_ranking

    if ranked.run_id is None:
        return
    try:
        log_ranking(settings, ranked.run_id, ranked.folder, artifact_path(promoted, name))
    except Exception as exc:
        logger.error("the published ranking could not be logged to run %s: %s", ranked.run_id, exc)


def _tag_run(settings: Settings, run_id: str, opt_outs: str, fingerprint: str) -> None:
    from talentmap.training.tracking.target import activate, resolve_target

    with activate(resolve_target(settings)) as client:
        client.set_tag(run_id, "talentmap.config_fingerprint", fingerprint)
        client.set_tag(run_id, "talentmap.opt_outs_fingerprint", opt_outs)
