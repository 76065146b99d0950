"""``talentmap restore``: put a backup (``talentmap backup``) back into a home.

Order, so that a damaged backup or a refusal changes nothing:

1. verify: every file the manifest lists is re-hashed (sha256 and size); a damaged,
   missing or unlisted file stops the restore and is named;
2. check the target: the backup's profile must match the settings' (embedded backups go
   to an embedded home, production backups to a running production profile), and the
   places it writes must be empty unless ``force``;
3. stage: everything is copied into a hidden folder inside the home (same file system),
   the MLflow SQLite copy has its artifact locations rewritten from the original home's
   artifact root to this home's;
4. place: each piece is renamed into its place (``os.replace``: a reader sees the old or
   the new, never half a file); with ``force``, what was there is first moved aside into
   ``.pre-restore-<stamp>/`` in the home, never deleted. The feature-store links are
   switched last, the way a retrain publishes.

On the production profile (run ``talentmap prod up`` first) the ``mlflow`` and ``feast``
databases are restored with ``pg_restore --clean --if-exists`` and the artifacts are put
in the server's artifact root. MLflow's users live in ``mlflow_auth``, which is not
restored: ``prod up`` (``auth bootstrap``) creates them for the new profile.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from talentmap.app import backup as parts
from talentmap.app.backup_manifest import BackupError, BackupManifest, verify
from talentmap.optouts import register_path
from talentmap.settings import Settings


@dataclass
class RestoreReport:
    manifest: BackupManifest
    placed: list[Path] = field(default_factory=list)
    moved_aside: Path | None = None
    seconds: float = 0.0


def rewrite_prefix(database: Path, old: str, new: str) -> int:
    """Replace the leading ``old`` by ``new`` in every text value of every table of a
    SQLite database (MLflow stores absolute artifact locations); rows changed."""
    if old == new:
        return 0
    changed = 0
    connection = sqlite3.connect(database)
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for table in tables:
            columns = [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                cursor = connection.execute(
                    f'UPDATE "{table}" SET "{column}" = ? || substr("{column}", ?) '
                    f'WHERE typeof("{column}") = \'text\' AND substr("{column}", 1, ?) = ?',
                    (new, len(old) + 1, len(old), old),
                )
                changed += cursor.rowcount
        connection.commit()
    finally:
        connection.close()
    return changed


def _has_content(path: Path) -> bool:
    if path.is_symlink() or path.is_file():
        return True
    return path.is_dir() and any(path.iterdir())


@dataclass
class _Plan:
    """(staged path, final path) pairs, placed in order."""

    moves: list[tuple[Path, Path]] = field(default_factory=list)
    links: list[tuple[Path, Path]] = field(default_factory=list)  # (live, target)


def restore(
    settings: Settings,
    folder: Path,
    *,
    force: bool = False,
    profile_dir: Path | None = None,
) -> RestoreReport:
    """Restore ``folder`` into the settings' home; see the module's docstring."""
    started = time.perf_counter()
    folder = Path(folder).absolute()
    manifest = verify(folder)  # 1: before anything else
    profile = parts.profile_of(settings)
    if manifest.profile != profile:
        raise BackupError(
            f"{folder} is a backup of the {manifest.profile} profile, but these settings use "
            f"the {profile} profile; restore it into a home of the same profile"
        )
    home = settings.home.absolute()
    home.mkdir(parents=True, exist_ok=True)
    stage = home / f".restore-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    report = RestoreReport(manifest)
    try:
        stage.mkdir()
        plan = _stage(settings, folder, manifest, stage, profile_dir, force)
        occupied = [final for _staged, final in plan.moves if _has_content(final)]
        occupied += [live for live, _target in plan.links if _has_content(live)]
        if occupied and not force:
            raise BackupError(
                "the target is not empty (use --force to replace it; what is there is "
                "moved aside, not deleted): " + ", ".join(str(p) for p in occupied)
            )
        if manifest.profile == parts.PRODUCTION:
            _restore_databases(settings, folder, manifest, profile_dir, force)
        aside = home / f".pre-restore-{datetime.now(UTC):%Y%m%dT%H%M%S}"
        for staged, final in plan.moves:
            if final.exists() or final.is_symlink():
                if not force:
                    continue  # a lake snapshot that is already there: same id, same content
                relative = final.relative_to(home) if final.is_relative_to(home) else final.name
                holder = aside / relative
                holder.parent.mkdir(parents=True, exist_ok=True)
                os.replace(final, holder)
                report.moved_aside = aside
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, final)
            report.placed.append(final)
        from talentmap.training.pipeline.retrain import point_live_path

        versions_dir = settings.path(settings.retrain.versions_dir)
        for live, target in plan.links:
            point_live_path(live, target, versions_dir)
            report.placed.append(live)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    report.seconds = time.perf_counter() - started
    return report


def _stage(
    settings: Settings,
    folder: Path,
    manifest: BackupManifest,
    stage: Path,
    profile_dir: Path | None,
    force: bool,
) -> _Plan:
    from talentmap.training.tracking.target import resolve_target

    plan = _Plan()
    details: dict[str, Any] = manifest.details
    target = resolve_target(settings)
    if manifest.profile == parts.EMBEDDED:
        assert target.sqlite_path is not None
        staged_db = stage / "mlruns.db"
        parts.sqlite_copy(folder / parts.MLFLOW_DB, staged_db)
        old_root, new_root = details.get("artifact_root"), target.artifact_root
        if old_root and new_root:
            rewrite_prefix(staged_db, str(old_root), str(new_root))
        plan.moves.append((staged_db, target.sqlite_path))
        root = target.artifact_root or ""
        if (folder / parts.ARTIFACTS).is_dir() and root.startswith("file://"):
            shutil.copytree(folder / parts.ARTIFACTS, stage / "artifacts")
            plan.moves.append((stage / "artifacts", Path(root.removeprefix("file://"))))
    else:
        from talentmap.app.prod.layout import DEFAULT_DIR, ProfileLayout

        layout = ProfileLayout(settings.path(profile_dir or DEFAULT_DIR))
        if (folder / parts.ARTIFACTS).is_dir():
            shutil.copytree(folder / parts.ARTIFACTS, stage / "artifacts")
            plan.moves.append((stage / "artifacts", layout.artifacts_dir))
    if (folder / parts.HISTORY).is_file():
        shutil.copy2(folder / parts.HISTORY, stage / "champion_history.jsonl")
        plan.moves.append(
            (stage / "champion_history.jsonl", settings.path(settings.tracking.history_file))
        )
    versions = folder / parts.FEATURE_VERSION
    if versions.is_dir():
        label = details.get("feature_version") or (f"restored-{datetime.now(UTC):%Y%m%dT%H%M%S}")
        source = versions / (details.get("feature_version") or "unversioned")
        staged_version = stage / "feature-version"
        shutil.copytree(source, staged_version)
        version_dir = settings.path(settings.retrain.versions_dir) / label
        plan.moves.append((staged_version, version_dir))
        if (source / "feast").is_dir() or manifest.profile == parts.PRODUCTION:
            (staged_version / "feast").mkdir(exist_ok=True)
            plan.links.append((settings.feature_store_dir, version_dir / "feast"))
        if (source / "features").is_dir():
            plan.links.append((settings.feature_tables_dir, version_dir / "features"))
    lake_snapshots = folder / parts.LAKE / "snapshots"
    if lake_snapshots.is_dir():
        for snapshot in sorted(lake_snapshots.iterdir()):
            final = settings.lake_dir / "snapshots" / snapshot.name
            if final.exists() and not force:
                continue  # content-addressed: the same id holds the same content
            staged = stage / "lake" / snapshot.name
            shutil.copytree(snapshot, staged)
            _read_only(staged)
            plan.moves.append((staged, final))
    if (folder / parts.REGISTER).is_file():
        shutil.copy2(folder / parts.REGISTER, stage / "register.jsonl")
        plan.moves.append((stage / "register.jsonl", register_path(settings)))
    if (folder / parts.WATCHLISTS).is_file():
        staged = stage / "watchlists.sqlite"
        shutil.copy2(folder / parts.WATCHLISTS, staged)
        staged.chmod(0o600)  # holders' lists: readable by the service's user only
        plan.moves.append((staged, settings.path(settings.serving.watchlists.db)))
    return plan


def _read_only(root: Path) -> None:
    """Lake files are stored read-only (``talentmap.lake``)."""
    for current, _dirs, names in os.walk(root):
        for name in names:
            os.chmod(Path(current) / name, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def _restore_databases(
    settings: Settings,
    folder: Path,
    manifest: BackupManifest,
    profile_dir: Path | None,
    force: bool,
) -> None:
    """pg_restore the ``mlflow`` (and ``feast``) databases into the running profile.

    Tested as a forced restore into the same running profile (test_prod_profile.py); a
    restore into a second, empty profile is not tested yet (docs/OPERATIONS.md).
    """
    from talentmap.app.prod.layout import DEFAULT_DIR, ProfileLayout, load_state

    layout = ProfileLayout(settings.path(profile_dir or DEFAULT_DIR))
    state = load_state(layout)
    if not state:
        raise BackupError(
            f"{layout.state_file}: missing; start the profile first (talentmap prod up)"
        )
    if not force and _mlflow_has_runs(state):
        raise BackupError(
            "the profile's mlflow database already holds runs; use --force to replace it"
        )
    jobs = [("mlflow", "mlflow", parts.MLFLOW_DUMP)]
    if (folder / parts.FEAST_DUMP).is_file():
        jobs.append(("feast", "feast", parts.FEAST_DUMP))
    for role, database, dump in jobs:
        parts.pg_tool(
            "pg_restore",
            state,
            role,
            database,
            "--clean",
            "--if-exists",
            "--single-transaction",
            f"--dbname={database}",
            str(folder / dump),
        )


def _mlflow_has_runs(state: dict[str, Any]) -> bool:
    import psycopg

    from talentmap.app.prod.postgres import url

    dsn = url(state, "mlflow", "mlflow").replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as connection:
        exists = connection.execute("SELECT to_regclass('public.runs')").fetchone()
        if exists is None or exists[0] is None:
            return False
        row = connection.execute("SELECT count(*) FROM runs").fetchone()
        return bool(row and row[0])
