"""``talentmap backup``: a consistent copy of everything a restored home needs to serve.

What it copies (layout in ``backup_manifest``):

- MLflow's runs and registry: on the embedded profile the SQLite file, through the
  ``sqlite3`` backup API (a consistent snapshot even while a reader holds it open), and
  the artifact folder; on the production profile a ``pg_dump -Fc`` of the ``mlflow``
  database and the tracking server's artifact root;
- the Feast registry: on the embedded profile it is a file inside the live feature-store
  version (below); with the SQL registry a ``pg_dump -Fc`` of the ``feast`` database;
- the live feature-store version (offline tables, published ranking, file registry,
  SQLite online store), whose name the manifest records;
- the lake's snapshots, each with its manifest (immutable and read-only: hard-linked when
  the backup is on the same file system, copied otherwise);
- the opt-out / forget register and the champion history;
- ``backup.json``: sha256 and size of every file, creation time, profile, champion version.

Consistency: the whole copy runs under the retrain lock (``retrain.lock_file``), so no
retrain publishes a version or moves the champion half-way. ``forget`` does not take the
lock; it appends whole lines to the register and deletes online rows in SQLite
transactions, and both are copied consistently (the register up to its last complete
line, SQLite through the backup API). The backup is built in a hidden folder next to
``--out`` and renamed to it at the end: a folder named ``--out`` is always complete.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from talentmap.app.backup_manifest import BackupError, BackupManifest, write_manifest
from talentmap.lake import MANIFEST as LAKE_MANIFEST
from talentmap.lake import SNAPSHOTS
from talentmap.optouts import register_path
from talentmap.settings import Settings

SQLITE_HEADER = b"SQLite format 3\x00"
MLFLOW_DB = "mlflow/mlruns.db"
MLFLOW_DUMP = "mlflow/mlflow.pgdump"
ARTIFACTS = "mlflow/artifacts"
HISTORY = "mlflow/champion_history.jsonl"
FEAST_DUMP = "feast/feast.pgdump"
FEATURE_VERSION = "feature-version"
LAKE = "lake"
REGISTER = "optouts/register.jsonl"
# Staff watchlists and their feeds' events live with the service's state (issue 11).
WATCHLISTS = "serving/watchlists.sqlite"
EMBEDDED, PRODUCTION = "embedded", "production"


class LockBusyError(BackupError):
    """A retrain holds the lock; try again later (exit code 75)."""


@dataclass
class BackupReport:
    folder: Path
    manifest: BackupManifest
    seconds: float


def is_sqlite(path: Path) -> bool:
    with Path(path).open("rb") as handle:
        return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER


def sqlite_copy(source: Path, destination: Path) -> None:
    """A consistent copy of a SQLite database through the backup API (not a file copy)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(destination)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def copy_file(source: Path, destination: Path) -> None:
    """SQLite files through the backup API, anything else byte for byte (with its mode)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    if is_sqlite(source):
        sqlite_copy(source, destination)
    else:
        shutil.copy2(source, destination)


def copy_tree(source: Path, destination: Path) -> None:
    """``source``'s regular files below ``destination`` (symlinks followed, SQLite safely)."""
    for folder, _dirs, names in os.walk(source, followlinks=True):
        for name in names:
            path = Path(folder) / name
            if path.is_file():
                copy_file(path, destination / path.relative_to(source))


def link_or_copy(source: Path, destination: Path, link: bool) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    if link:
        try:
            os.link(source, destination)
            return
        except OSError:
            pass  # another file system, or links not allowed: copy
    shutil.copy2(source, destination)


def copy_complete_lines(source: Path, destination: Path) -> None:
    """An append-only JSON-lines file up to its last complete line (a writer may be
    appending while we read)."""
    data = source.read_bytes()
    end = data.rfind(b"\n") + 1
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_bytes(data[:end])


def profile_of(settings: Settings) -> str:
    from talentmap.training.tracking.target import resolve_target

    return EMBEDDED if resolve_target(settings).sqlite_path is not None else PRODUCTION


def sqlite_champion(database: Path, model: str) -> str | None:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        row = connection.execute(
            "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = 'champion'",
            (model,),
        ).fetchone()
    except sqlite3.Error:
        return None
    finally:
        connection.close()
    return None if row is None else str(row[0])


def server_champion(settings: Settings) -> str | None:
    from mlflow.exceptions import MlflowException

    from talentmap.training.tracking.target import activate, resolve_target

    target = resolve_target(settings)
    with activate(target) as client:
        try:
            version = client.get_model_version_by_alias(target.registered_model, "champion")
        except MlflowException:
            return None
    return str(version.version)


def pg_tool(tool: str, state: dict[str, Any], role: str, database: str, *args: str) -> None:
    """Run ``pg_dump`` or ``pg_restore`` on one database of the profile's cluster, as the
    database's owner (password through ``PGPASSWORD``, never on the command line)."""
    from talentmap.app.prod.packages import postgres_bin_dir

    folder = postgres_bin_dir()
    if folder is None:
        raise BackupError(f"{tool} not found: PostgreSQL is not installed")
    done = subprocess.run(
        [
            str(folder / tool),
            "--no-owner",
            "--host=127.0.0.1",
            f"--port={state['ports']['postgres']}",
            f"--username={role}",
            *args,
        ],
        env={**os.environ, "PGPASSWORD": state["passwords"][role]},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"{tool} of {database} failed: {done.stderr.strip()[-800:]}")


def pg_dump(state: dict[str, Any], role: str, database: str, out: Path) -> None:
    """``pg_dump -Fc`` of one database of the profile's cluster."""
    out.parent.mkdir(parents=True, exist_ok=True)
    pg_tool("pg_dump", state, role, database, "--format=custom", f"--file={out}", database)


def live_version(settings: Settings) -> tuple[str | None, Path | None, Path | None]:
    """(version name, live tables folder, live store folder) as the links resolve now."""
    tables, store = settings.feature_tables_dir, settings.feature_store_dir
    name = None
    if store.is_symlink():
        name = store.resolve().parent.name
    tables_real = tables.resolve() if tables.exists() else None
    store_real = store.resolve() if store.exists() else None
    return name, tables_real, store_real


def backup(
    settings: Settings,
    out: Path,
    *,
    profile_dir: Path | None = None,
    link_lake: bool = True,
    lock_timeout: float = 0.0,
) -> BackupReport:
    """Take a backup into ``out`` (which must not exist yet, or be an empty folder)."""
    out = Path(out).absolute()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} exists and is not an empty folder; choose a new --out")
    started = time.perf_counter()
    lock_path = settings.path(settings.retrain.lock_file)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    stage = out.parent / f".{out.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(lock_path), timeout=lock_timeout):
            stage.mkdir()
            manifest = _copy_everything(settings, stage, profile_dir, link_lake)
            write_manifest(stage, manifest)
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(stage, out)
    except Timeout as busy:
        raise LockBusyError(
            f"a retrain holds the lock {lock_path}; no backup taken, try again later"
        ) from busy
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
    return BackupReport(out, manifest, time.perf_counter() - started)


def _copy_everything(
    settings: Settings, stage: Path, profile_dir: Path | None, link_lake: bool
) -> BackupManifest:
    from talentmap.training.tracking.target import resolve_target

    target = resolve_target(settings)
    profile = profile_of(settings)
    details: dict[str, Any] = {
        "home": str(settings.home.absolute()),
        "registered_model": target.registered_model,
        "artifact_root": target.artifact_root,
        "feature_registry": settings.features.registry,
        "online_store": settings.features.online_store,
    }
    if profile == EMBEDDED:
        assert target.sqlite_path is not None
        if not target.sqlite_path.is_file():
            raise BackupError(f"{target.sqlite_path}: no MLflow database to back up")
        sqlite_copy(target.sqlite_path, stage / MLFLOW_DB)
        champion = sqlite_champion(stage / MLFLOW_DB, target.registered_model)
        root = target.artifact_root or ""
        if root.startswith("file://"):
            artifacts = Path(root.removeprefix("file://"))
            if artifacts.is_dir():
                copy_tree(artifacts, stage / ARTIFACTS)
    else:
        from talentmap.app.prod.layout import DEFAULT_DIR, ProfileLayout, load_state

        layout = ProfileLayout(settings.path(profile_dir or DEFAULT_DIR))
        state = load_state(layout)
        if not state:
            raise BackupError(f"{layout.state_file}: missing; is this the production profile?")
        details["tracking_uri"] = target.tracking_uri
        pg_dump(state, "mlflow", "mlflow", stage / MLFLOW_DUMP)
        if layout.artifacts_dir.is_dir():
            copy_tree(layout.artifacts_dir, stage / ARTIFACTS)
        if settings.features.registry == "sql":
            pg_dump(state, "feast", "feast", stage / FEAST_DUMP)
        champion = server_champion(settings)
    history = settings.path(settings.tracking.history_file)
    if history.is_file():
        copy_complete_lines(history, stage / HISTORY)

    name, tables, store = live_version(settings)
    details["feature_version"] = name
    label = name or "unversioned"
    if tables is not None and tables.is_dir():
        copy_tree(tables, stage / FEATURE_VERSION / label / "features")
    if store is not None and store.is_dir():
        copy_tree(store, stage / FEATURE_VERSION / label / "feast")

    snapshots = []
    lake_snapshots = settings.lake_dir / SNAPSHOTS
    if lake_snapshots.is_dir():
        for snapshot in sorted(lake_snapshots.iterdir()):
            if not (snapshot / LAKE_MANIFEST).is_file():
                continue  # not a complete snapshot
            snapshots.append(snapshot.name)
            for folder, _dirs, names in os.walk(snapshot):
                for file in names:
                    path = Path(folder) / file
                    relative = path.relative_to(settings.lake_dir)
                    link_or_copy(path, stage / LAKE / relative, link_lake)
    details["lake_snapshots"] = snapshots

    register = register_path(settings)
    if register.is_file():
        copy_complete_lines(register, stage / REGISTER)
    watchlists = settings.path(settings.serving.watchlists.db)
    if watchlists.is_file():
        sqlite_copy(watchlists, stage / WATCHLISTS)
    return BackupManifest(profile=profile, champion_version=champion, details=details)
