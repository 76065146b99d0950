"""The data lake: validated snapshots stored immutably as Parquet, with a manifest.

Layout under the lake folder::

    snapshots/<snapshot_id>/manifest.json          what the snapshot holds, with hashes
    snapshots/<snapshot_id>/tables/<table>.parquet one file per ingested table
    snapshots/<snapshot_id>/quarantine/<table>.csv rows dropped by the ingest policy
    snapshots/<snapshot_id>/repairs.csv            values blanked by the repair policy
    .staging-<pid>-<random>/                       an ingest in progress (never read)

A snapshot appears in one atomic ``rename`` of a fully written staging folder, so a failed
or killed ingest never leaves a partial snapshot where readers look. Stored files are made
read-only and every read re-hashes them against the manifest: a damaged file is refused,
never used. The snapshot id is derived from the content, so the same content always lands
in the same folder and ingesting it twice is a no-op. There is no mutable pointer file:
"latest" is the snapshot with the latest ingest time recorded in its manifest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from talentmap.contract import TABLES, column_kinds
from talentmap.contract_io import parse_table
from talentmap.contract_parse import STRING_KINDS, Kind
from talentmap.errors import StorageError

MANIFEST = "manifest.json"
SNAPSHOTS = "snapshots"
TABLES_DIR = "tables"
QUARANTINE_DIR = "quarantine"
REPAIRS_FILE = "repairs.csv"
STAGING_PREFIX = ".staging-"
# 2: adds policy, actions and repairs (absent from format 1 manifests, which stay valid).
MANIFEST_FORMAT = 2
_READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
_CHUNK = 1 << 22


class LakeError(StorageError):
    """Base class of the lake's errors."""


class SnapshotNotFoundError(LakeError, KeyError):
    """No snapshot with that id in this lake."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "snapshot not found"


class CorruptSnapshotError(LakeError):
    """A stored file no longer matches its manifest; the snapshot must not be used."""


class SnapshotExistsError(LakeError):
    """Something that is not a stored snapshot occupies a snapshot's place; never replaced."""


@dataclass(frozen=True)
class SnapshotRef:
    """A stored snapshot, as listed by ``Lake.snapshots()``."""

    snapshot_id: str
    path: Path
    ingested_at: datetime
    snapshot_date: date | None
    name: str | None
    source: str | None
    tables: tuple[str, ...]
    rows: int
    quarantined_rows: int
    repaired_values: int = 0
    policy: str | None = None  # None: ingested before policies were recorded

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST


class Lake:
    """A folder of immutable snapshots."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def snapshots_dir(self) -> Path:
        return self.root / SNAPSHOTS

    # Reading -------------------------------------------------------------------------

    def snapshots(self) -> list[SnapshotRef]:
        """Every snapshot, oldest ingest first."""
        if not self.snapshots_dir.is_dir():
            return []
        refs = []
        for entry in self.snapshots_dir.iterdir():
            if entry.name.startswith(".") or not (entry / MANIFEST).is_file():
                continue
            with contextlib.suppress(CorruptSnapshotError):
                refs.append(_ref(entry, self._read_manifest(entry)))
        return sorted(refs, key=lambda r: (r.ingested_at, r.snapshot_id))

    def latest(self) -> SnapshotRef | None:
        refs = self.snapshots()
        return refs[-1] if refs else None

    def has(self, snapshot_id: str) -> bool:
        return (self.snapshots_dir / snapshot_id / MANIFEST).is_file()

    def get(self, snapshot_id: str) -> SnapshotRef:
        path = self._path(snapshot_id)
        return _ref(path, self._read_manifest(path))

    def manifest(self, snapshot_id: str) -> dict[str, Any]:
        return self._read_manifest(self._path(snapshot_id))

    def verify(self, snapshot_id: str, tables: Iterable[str] | None = None) -> dict[str, Any]:
        """Re-hash stored files against the manifest; returns the manifest if all match.

        Checks the given tables only, or every table and quarantine file when ``tables`` is
        None. Raises ``CorruptSnapshotError`` naming the first file that does not match.
        """
        path = self._path(snapshot_id)
        manifest = self._read_manifest(path)
        expected = snapshot_id_for(manifest)
        if expected != snapshot_id:
            raise CorruptSnapshotError(
                f"{path / MANIFEST}: its content describes snapshot {expected}, "
                f"not {snapshot_id}; the manifest was altered"
            )
        entries = dict(manifest["tables"])
        if tables is None:
            entries.update(
                {f"quarantine:{t}": e for t, e in manifest.get("quarantine", {}).items()}
            )
            if manifest.get("repairs"):
                entries["repairs"] = manifest["repairs"]
        else:
            wanted = list(tables)
            unknown = [t for t in wanted if t not in entries]
            if unknown:
                raise KeyError(
                    f"snapshot {snapshot_id} has no table(s) {', '.join(unknown)}; "
                    f"it holds {', '.join(entries)}"
                )
            entries = {t: entries[t] for t in wanted}
        for entry in entries.values():
            file = path / entry["file"]
            if not file.is_file():
                raise CorruptSnapshotError(f"{file}: missing from snapshot {snapshot_id}")
            digest = file_sha256(file)
            if digest != entry["sha256"]:
                raise CorruptSnapshotError(
                    f"{file}: sha256 {digest} does not match the manifest's {entry['sha256']}; "
                    f"snapshot {snapshot_id} is corrupt and will not be used"
                )
        return manifest

    def load(
        self, snapshot_id: str, tables: Iterable[str] | None = None
    ) -> dict[str, pd.DataFrame]:
        """Typed tables of a snapshot, after checking their files against the manifest.

        Tables absent from the snapshot are absent from the result (a missing table means
        an unknown signal). Optional columns absent from the source stay absent.
        """
        manifest = self.manifest(snapshot_id)
        stored = [t for t in TABLES if t in manifest["tables"]]
        wanted = stored if tables is None else [t for t in tables if t in manifest["tables"]]
        unknown = [] if tables is None else [t for t in tables if t not in TABLES]
        if unknown:
            raise KeyError(f"unknown table(s) {', '.join(unknown)}")
        self.verify(snapshot_id, wanted)
        path = self._path(snapshot_id)
        out = {}
        for table in wanted:
            file = path / manifest["tables"][table]["file"]
            parsed = parse_table(table, pq.read_table(file))
            if not parsed.problems.empty:
                raise CorruptSnapshotError(f"{file}: stored values do not fit the contract")
            out[table] = parsed.frame
        return out

    def load_quarantine(self, snapshot_id: str) -> dict[str, pd.DataFrame]:
        """Rejected rows (original text plus ``_row`` and ``_reasons``) per table."""
        manifest = self.verify(snapshot_id)
        path = self._path(snapshot_id)
        return {
            table: pd.read_csv(path / entry["file"], dtype=str, keep_default_na=False)
            for table, entry in manifest.get("quarantine", {}).items()
        }

    def load_repairs(self, snapshot_id: str) -> pd.DataFrame | None:
        """Repaired values (table, file, row, column, original value, rule), or None."""
        manifest = self.verify(snapshot_id)
        entry = manifest.get("repairs")
        if not entry:
            return None
        path = self._path(snapshot_id) / entry["file"]
        return pd.read_csv(path, dtype=str, keep_default_na=False)

    def _path(self, snapshot_id: str) -> Path:
        if not snapshot_id or "/" in snapshot_id or snapshot_id.startswith("."):
            raise SnapshotNotFoundError(f"invalid snapshot id {snapshot_id!r}")
        path = self.snapshots_dir / snapshot_id
        if not (path / MANIFEST).is_file():
            raise SnapshotNotFoundError(f"no snapshot {snapshot_id} in {self.root}")
        return path

    @staticmethod
    def _read_manifest(path: Path) -> dict[str, Any]:
        try:
            manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CorruptSnapshotError(f"{path / MANIFEST}: unreadable ({exc})") from exc
        if not isinstance(manifest, dict) or not isinstance(manifest.get("tables"), dict):
            raise CorruptSnapshotError(f"{path / MANIFEST}: not a snapshot manifest")
        return manifest

    # Writing (used by ingest) -----------------------------------------------------------

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A private folder inside the lake; removed again if anything fails.

        If the lake folder itself did not exist, it is removed too, so a failed first
        ingest leaves no trace.
        """
        created_root = not self.root.exists()
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_abandoned_staging()
        stage = self.root / f"{STAGING_PREFIX}{os.getpid()}-{uuid.uuid4().hex}"
        stage.mkdir()
        try:
            yield stage
        except BaseException:
            if stage.exists():
                _remove_tree(stage)
            if created_root:
                with contextlib.suppress(OSError):
                    self.root.rmdir()
            raise

    def publish(self, stage: Path, snapshot_id: str) -> bool:
        """Make ``stage`` the snapshot ``snapshot_id`` in one rename; never replace anything.

        If the snapshot is already stored, ``stage`` is removed and False returned: the id
        comes from the content, so the same content is there. If anything else is at its
        place (an empty or partial folder, a file), ``SnapshotExistsError`` is raised and
        both are left as they are (``staging`` removes the stage).
        """
        target = self.snapshots_dir / snapshot_id
        # os.rename silently replaces an EMPTY directory, so the place is checked first.
        if os.path.lexists(target):
            return self._already_there(stage, snapshot_id)
        for file in stage.rglob("*"):
            if file.is_file():
                file.chmod(_READ_ONLY)
        _fsync_dir(stage)
        self.snapshots_dir.mkdir(exist_ok=True)
        try:
            # A concurrent ingest of the same content may publish between the check and
            # here; its folder is not empty, so this rename fails rather than replace it
            # (only an empty folder made in that instant could still be replaced).
            os.rename(stage, target)
        except OSError as exc:
            if os.path.lexists(target):
                return self._already_there(stage, snapshot_id, exc)
            raise
        _fsync_dir(self.snapshots_dir)
        return True

    def _already_there(self, stage: Path, snapshot_id: str, cause: OSError | None = None) -> bool:
        if self.has(snapshot_id):
            _remove_tree(stage)
            return False
        raise SnapshotExistsError(
            f"{self.snapshots_dir / snapshot_id} exists but holds no snapshot manifest; it was "
            "left untouched and nothing was published. Look at what it holds before "
            "removing it by hand"
        ) from cause

    def _remove_abandoned_staging(self) -> None:
        """Clear staging folders of ingests that were killed (their process is gone)."""
        for entry in self.root.glob(f"{STAGING_PREFIX}*"):
            pid_text = entry.name[len(STAGING_PREFIX) :].split("-", 1)[0]
            if pid_text.isdigit() and not _process_alive(int(pid_text)):
                _remove_tree(entry)


def snapshot_identity(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest fields that define a snapshot's content (and hence its id).

    The ingest policy counts only when it changed something (a repair or a dropped row):
    valid data gives the same snapshot under every policy, and manifests written before
    policies were recorded keep their ids.
    """
    identity = {
        "contract_version": manifest["contract_version"],
        "dataset": {k: manifest["dataset"].get(k) for k in ("name", "source", "licence")},
        "snapshot_date": manifest["snapshot_date"],
        "tables": {
            t: {"rows": e["rows"], "content_hash": e["content_hash"]}
            for t, e in sorted(manifest["tables"].items())
        },
        "quarantine": {
            t: {"rows": e["rows"], "content_hash": e["content_hash"]}
            for t, e in sorted(manifest.get("quarantine", {}).items())
        },
    }
    repairs = manifest.get("repairs")
    if repairs:
        identity["repairs"] = {"rows": repairs["rows"], "content_hash": repairs["content_hash"]}
    if "policy" in manifest and (repairs or manifest.get("quarantine")):
        identity["policy"] = manifest["policy"]
    return identity


def snapshot_id_for(manifest: dict[str, Any]) -> str:
    """``<YYYYMMDD of the snapshot date>-<16 hex of the content digest>``."""
    canonical = json.dumps(snapshot_identity(manifest), sort_keys=True, ensure_ascii=True)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
    day = manifest.get("snapshot_date")
    prefix = day.replace("-", "") if day else "undated"
    return f"{prefix}-{digest}"


def content_hash(frame: pd.DataFrame) -> str:
    """A hash of a frame's values, names and dtypes that ignores how it is stored.

    Hashing values rather than Parquet bytes keeps the id stable across writer versions
    and compression settings; it is vectorised (pandas' hash of each column).
    """
    digest = hashlib.sha256(f"rows={len(frame)}\n".encode())
    for name in frame.columns:
        series = frame[name]
        digest.update(f"{name}\0{series.dtype}\n".encode())
        hashed = pd.util.hash_pandas_object(series, index=False)
        digest.update(hashed.to_numpy().tobytes())
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_parquet(frame: pd.DataFrame, table: str, path: Path) -> None:
    """Write a typed table with explicit Arrow types (dates as date32), durably."""
    kinds = column_kinds(table)
    arrays = []
    for name in frame.columns:
        kind = kinds.get(name)
        arrays.append(_to_arrow(frame[name], kind))
    arrow = pa.table(arrays, names=[str(c) for c in frame.columns])
    with path.open("wb") as handle:
        pq.write_table(arrow, handle, compression="zstd")
        handle.flush()
        os.fsync(handle.fileno())


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        frame.to_csv(handle, index=False)
        handle.flush()
        os.fsync(handle.fileno())


def write_json(data: dict[str, Any], path: Path) -> None:
    with path.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False, sort_keys=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())


def _to_arrow(series: pd.Series, kind: Kind | None) -> pa.Array:
    if kind is None:
        try:
            return pa.array(series, from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError):
            # Mixed-type extra column: keep it, as text.
            as_text = (
                series.astype(object)
                .where(series.notna(), None)
                .map(lambda v: v if v is None else str(v))
            )
            return pa.array(as_text, type=pa.string(), from_pandas=True)
    if kind in STRING_KINDS:
        return pa.array(series, type=pa.string(), from_pandas=True)
    if kind is Kind.DATE:
        stamps = pa.array(series.to_numpy(dtype="datetime64[ns]"), type=pa.timestamp("ns"))
        return stamps.cast(pa.date32())
    if kind is Kind.AMOUNT:
        return pa.array(series.to_numpy(dtype="float64"), type=pa.float64(), from_pandas=True)
    if kind in (Kind.COUNT, Kind.YEAR):
        return pa.array(series.astype("Int64"), type=pa.int64(), from_pandas=True)
    if kind is Kind.BOOL:
        return pa.array(series.astype("boolean"), type=pa.bool_(), from_pandas=True)
    raise ValueError(f"unknown kind {kind!r}")


def _ref(path: Path, manifest: dict[str, Any]) -> SnapshotRef:
    try:
        dataset = manifest.get("dataset", {})
        day = manifest.get("snapshot_date")
        return SnapshotRef(
            snapshot_id=path.name,
            path=path,
            ingested_at=datetime.fromisoformat(manifest["ingested_at"]),
            snapshot_date=date.fromisoformat(day) if day else None,
            name=dataset.get("name"),
            source=dataset.get("source"),
            tables=tuple(manifest["tables"]),
            rows=sum(int(e["rows"]) for e in manifest["tables"].values()),
            quarantined_rows=sum(int(e["rows"]) for e in manifest.get("quarantine", {}).values()),
            repaired_values=int((manifest.get("actions") or {}).get("repaired_cells", 0)),
            policy=manifest.get("policy"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptSnapshotError(f"{path / MANIFEST}: incomplete manifest ({exc})") from exc


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_tree(path: Path) -> None:
    def make_writable(func: Any, target: str, _exc: Any) -> None:
        os.chmod(target, stat.S_IRWXU)
        func(target)

    shutil.rmtree(path, onerror=make_writable)


def _fsync_dir(path: Path) -> None:
    # Durability of the rename itself; not supported everywhere, hence best effort.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
