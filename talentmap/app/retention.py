"""Retention: delete what is past its keeping period from the lake, the audit log and MLflow.

Each store has its rule in ``RetentionConfig`` (``None`` keeps forever); nothing is deleted
until ``talentmap retention apply`` runs, and ``--dry-run`` lists what it would delete.

- **Lake**: a snapshot is deleted only when *every* configured rule lets it go: it is not
  among the ``lake_keep_snapshots`` most recent, and it was ingested more than
  ``lake_max_age_days`` ago. Whatever the rules, these are kept: the latest snapshot, any
  snapshot a model version with an alias (``champion``, ``challenger``) was trained on
  (its run's ``lineage.snapshot_id`` tag), and the one the live feature tables were built
  from (serving reads names and founders from it). If MLflow cannot be read, no snapshot is
  deleted. A snapshot is first renamed to a dot-folder (which ``Lake.snapshots`` ignores),
  then removed, so a reader never sees half a snapshot.
- **Audit log**: lines older than ``audit_max_age_days`` are dropped by writing the kept
  lines to a temporary file and renaming it over the log (atomic). Lines that cannot be
  dated are kept. The old file is locked (``flock``) while it is read and replaced, and any
  line appended to it meanwhile is copied over after the rename.
- **MLflow**: runs of the training and promotion experiments started more than
  ``mlflow_run_max_age_days`` ago are deleted, unless a model version with an alias comes
  from them. Their model versions without an alias and their logged models go with them.
  With a database backend (the default SQLite one) they are then purged for good, with
  their artifacts (``mlflow gc``); with a remote tracking server they are soft-deleted and
  its operator runs ``mlflow gc`` there.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import stat
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from talentmap.lake import Lake
from talentmap.settings import Settings
from talentmap.settings.privacy import RetentionConfig

DELETING_PREFIX = ".deleting-"
# Tracking backends `mlflow gc` can purge from here (anything else: a server purges itself).
DATABASE_SCHEMES = frozenset({"sqlite", "postgresql", "mysql", "mssql"})


@dataclass(frozen=True)
class Decision:
    """One item looked at: kept or deleted, and why."""

    item: str
    when: datetime | None
    delete: bool
    reason: str


@dataclass
class RetentionReport:
    """What ``apply_retention`` did (or, in a dry run, would do), per store."""

    dry_run: bool
    lake: list[Decision] = field(default_factory=list)
    audit_dropped: int = 0
    audit_kept: int = 0
    audit_undated: int = 0
    mlflow: list[Decision] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def lake_deleted(self) -> list[str]:
        return [d.item for d in self.lake if d.delete]

    @property
    def runs_deleted(self) -> list[str]:
        return [d.item for d in self.mlflow if d.delete]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# ------------------------------------------------------------------ lake


def plan_lake(
    lake: Lake, config: RetentionConfig, protected: Iterable[str], now: datetime
) -> list[Decision]:
    """A decision per snapshot, newest first."""
    refs = list(reversed(lake.snapshots()))
    keep_ids = set(protected)
    if refs:
        keep_ids.add(refs[0].snapshot_id)
    rules = config.lake_keep_snapshots is not None or config.lake_max_age_days is not None
    cutoff = (
        now - timedelta(days=config.lake_max_age_days)
        if config.lake_max_age_days is not None
        else None
    )
    decisions = []
    for position, ref in enumerate(refs):
        ingested = _utc(ref.ingested_at)
        if position == 0:
            reason = "latest snapshot"
        elif ref.snapshot_id in keep_ids:
            reason = "used by an aliased model version or the live features"
        elif not rules:
            reason = "no lake retention rule configured"
        elif config.lake_keep_snapshots is not None and position < config.lake_keep_snapshots:
            reason = f"among the {config.lake_keep_snapshots} most recent"
        elif cutoff is not None and ingested > cutoff:
            reason = f"ingested less than {config.lake_max_age_days} days ago"
        else:
            decisions.append(Decision(ref.snapshot_id, ingested, True, "past retention"))
            continue
        decisions.append(Decision(ref.snapshot_id, ingested, False, reason))
    return decisions


def delete_snapshot(lake: Lake, snapshot_id: str) -> None:
    """Rename the snapshot out of readers' sight, then remove it (files are read-only)."""
    source = lake.snapshots_dir / snapshot_id
    if not (source / "manifest.json").is_file():
        return
    hidden = lake.snapshots_dir / f"{DELETING_PREFIX}{snapshot_id}-{uuid.uuid4().hex[:8]}"
    os.rename(source, hidden)

    def make_writable(func: Any, target: str, _exc: Any) -> None:
        os.chmod(target, stat.S_IRWXU)
        func(target)

    for folder in [hidden, *(p for p in hidden.rglob("*") if p.is_dir())]:
        folder.chmod(stat.S_IRWXU)
    shutil.rmtree(hidden, onerror=make_writable)


def protected_snapshots(settings: Settings) -> set[str]:
    """Snapshots that must survive: aliased model versions' and the live features'."""
    from talentmap.features.store import read_lineage

    found = set()
    lineage = read_lineage(settings.feature_tables_dir) or {}
    if lineage.get("snapshot_id"):
        found.add(str(lineage["snapshot_id"]))
    for _alias, run in _aliased_runs(settings):
        snapshot = run.data.tags.get("lineage.snapshot_id")
        if snapshot:
            found.add(snapshot)
    return found


# ------------------------------------------------------------------ audit log


def _record_time(line: bytes) -> datetime | None:
    try:
        record = json.loads(line)
        return _utc(datetime.fromisoformat(str(record["at"])))
    except (ValueError, KeyError, TypeError):
        return None


def prune_audit(
    path: Path, max_age_days: int | None, now: datetime, *, dry_run: bool
) -> tuple[int, int, int]:
    """(dropped, kept, undated) lines; rewrites the file atomically unless ``dry_run``."""
    path = Path(path)
    if max_age_days is None or not path.is_file():
        return 0, 0, 0
    cutoff = now - timedelta(days=max_age_days)
    with path.open("rb") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            data = handle.read()
            kept: list[bytes] = []
            dropped = undated = 0
            for line in data.splitlines(keepends=True):
                if not line.strip():
                    continue
                when = _record_time(line)
                if when is None:
                    undated += 1
                elif when < cutoff:
                    dropped += 1
                    continue
                kept.append(line if line.endswith(b"\n") else line + b"\n")
            if dry_run or dropped == 0:
                return dropped, len(kept), undated
            temporary = path.with_name(f".{path.name}.retention-{os.getpid()}")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, b"".join(kept))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, path)
            # Lines a writer appended to the old file after our read: carry them over.
            late = handle.read()
            if late:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND)
                try:
                    os.write(fd, late)
                    os.fsync(fd)
                finally:
                    os.close(fd)
            _fsync_dir(path.parent)
            return dropped, len(kept) + late.count(b"\n"), undated
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


# ------------------------------------------------------------------ MLflow


def _aliased_runs(settings: Settings) -> list[tuple[str, Any]]:
    """(alias, run) of every aliased version of the registered model (none if unregistered)."""
    from mlflow.exceptions import MlflowException

    from talentmap.training.tracking.target import activate, resolve_target

    target = resolve_target(settings)
    with activate(target) as client:
        try:
            model = client.get_registered_model(target.registered_model)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":  # nothing registered yet
                return []
            raise  # an unreadable registry must not look like an empty one
        out = []
        for alias, version in (model.aliases or {}).items():
            found = client.get_model_version(target.registered_model, str(version))
            out.append((alias, client.get_run(found.run_id)))
        return out


def plan_mlflow(settings: Settings, max_age_days: int | None, now: datetime) -> list[Decision]:
    """A decision per run of the training and promotion experiments, oldest first."""
    if max_age_days is None:
        return []
    from talentmap.training.tracking.target import activate, resolve_target

    target = resolve_target(settings)
    cutoff_ms = int((now - timedelta(days=max_age_days)).timestamp() * 1000)
    protected = {run.info.run_id for _, run in _aliased_runs(settings)}
    with activate(target) as client:
        experiments = [
            e
            for name in (target.experiment, target.promotion_experiment)
            if (e := client.get_experiment_by_name(name)) is not None
        ]
        if not experiments:
            return []
        runs = client.search_runs(
            [e.experiment_id for e in experiments],
            max_results=50_000,
            order_by=["attributes.start_time ASC"],
        )
    decisions = []
    for run in runs:
        started = datetime.fromtimestamp(run.info.start_time / 1000, tz=UTC)
        if run.info.run_id in protected:
            decisions.append(Decision(run.info.run_id, started, False, "has an aliased version"))
        elif run.info.start_time >= cutoff_ms:
            decisions.append(
                Decision(run.info.run_id, started, False, f"newer than {max_age_days} days")
            )
        else:
            decisions.append(Decision(run.info.run_id, started, True, "past retention"))
    return decisions


def delete_runs(settings: Settings, run_ids: list[str]) -> list[str]:
    """Delete runs, their unaliased model versions and logged models; purge if possible.

    Returns notes for the operator.
    """
    if not run_ids:
        return []
    from talentmap.training.tracking.target import activate, resolve_target

    target = resolve_target(settings)
    notes: list[str] = []
    doomed = set(run_ids)
    logged_ids: list[str] = []
    with activate(target) as client:
        with contextlib.suppress(Exception):  # no registered model yet
            for version in client.search_model_versions(f"name='{target.registered_model}'"):
                if version.run_id in doomed and not getattr(version, "aliases", None):
                    client.delete_model_version(target.registered_model, str(version.version))
        experiment_ids = sorted({client.get_run(r).info.experiment_id for r in doomed})
        for run_id in sorted(doomed):
            with contextlib.suppress(Exception):  # older MLflow or no logged models
                for model in client.search_logged_models(
                    experiment_ids, filter_string=f"source_run_id = '{run_id}'"
                ):
                    client.delete_logged_model(model.model_id)
                    logged_ids.append(model.model_id)
            client.delete_run(run_id)
    if target.tracking_uri.split(":", 1)[0].lower() not in DATABASE_SCHEMES:
        notes.append(
            f"{len(doomed)} run(s) soft-deleted on the tracking server; run `mlflow gc` there "
            "to purge them and their artifacts"
        )
        return notes
    from mlflow.cli import gc as gc_command

    args = [
        "--backend-store-uri",
        target.tracking_uri,
        "--tracking-uri",
        target.tracking_uri,
        "--run-ids",
        ",".join(sorted(doomed)),
    ]
    if logged_ids:
        args += ["--logged-model-ids", ",".join(logged_ids)]
    with activate(target):
        gc_command.main(args, standalone_mode=False)
    return notes


# ------------------------------------------------------------------ everything


def apply_retention(
    settings: Settings,
    *,
    config: RetentionConfig | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> RetentionReport:
    """Apply retention rules (default: the settings') to the lake, audit log and MLflow."""

    config = config or settings.privacy.retention
    moment = _utc(now or datetime.now(UTC))
    report = RetentionReport(dry_run=dry_run)

    lake = Lake(settings.lake_dir)
    lake_rules = config.lake_keep_snapshots is not None or config.lake_max_age_days is not None
    if lake_rules and lake.snapshots():
        try:
            protected = protected_snapshots(settings)
        except Exception as exc:  # never delete a snapshot we cannot prove unused
            report.notes.append(f"lake left untouched: cannot read the model registry ({exc})")
        else:
            report.lake = plan_lake(lake, config, protected, moment)
            if not dry_run:
                for decision in report.lake:
                    if decision.delete:
                        delete_snapshot(lake, decision.item)

    audit = settings.path(settings.serving.audit_log)
    dropped, kept, undated = prune_audit(audit, config.audit_max_age_days, moment, dry_run=dry_run)
    report.audit_dropped, report.audit_kept, report.audit_undated = dropped, kept, undated

    try:
        report.mlflow = plan_mlflow(settings, config.mlflow_run_max_age_days, moment)
    except Exception as exc:
        report.notes.append(f"MLflow left untouched: cannot read the tracking store ({exc})")
    else:
        if not dry_run:
            report.notes += delete_runs(settings, report.runs_deleted)
    return report


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
