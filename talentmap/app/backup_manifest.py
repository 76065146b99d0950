"""The manifest of a backup folder (``backup.json``): what it holds, with a hash per file.

``talentmap backup`` writes it last, after every file is in place; ``talentmap restore``
reads it first and re-hashes every file it lists before touching the target home, so a
damaged, truncated, missing or unlisted file stops the restore and is named.

Layout of a backup folder (paths in the manifest are relative to it, with ``/``)::

    backup.json                        this manifest
    mlflow/mlruns.db                   embedded: SQLite copy (sqlite3 backup API)
    mlflow/mlflow.pgdump               production: pg_dump -Fc of the mlflow database
    mlflow/artifacts/...               the artifact root (local folder / server's root)
    mlflow/champion_history.jsonl      the champion history, if any
    feast/feast.pgdump                 production: pg_dump -Fc of the feast database
    feature-version/<name>/...         the live feature-store version (tables, ranking,
                                       file registry and SQLite online store)
    lake/snapshots/<id>/...            the lake's snapshots (manifests and tables)
    optouts/register.jsonl             the opt-out / forget register, if any
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MANIFEST = "backup.json"
FORMAT = 1
_CHUNK = 1 << 22


class BackupError(RuntimeError):
    """A backup cannot be taken or restored; the message says which file and why."""


class DamagedBackupError(BackupError):
    """A file of the backup is missing, unlisted or fails its hash (exit code 74)."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def files_under(root: Path) -> list[str]:
    """Every regular file below ``root``, as sorted ``/``-separated relative paths
    (the manifest itself excluded)."""
    root = Path(root)
    found = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            relative = (Path(folder) / name).relative_to(root).as_posix()
            if relative != MANIFEST:
                found.append(relative)
    return sorted(found)


@dataclass
class BackupManifest:
    """What a backup holds. ``files`` maps each relative path to ``{sha256, size}``."""

    profile: str
    champion_version: str | None
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    format: int = FORMAT
    details: dict[str, Any] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> str:
        body = {
            "format": self.format,
            "created_at": self.created_at,
            "profile": self.profile,
            "champion_version": self.champion_version,
            "details": self.details,
            "files": self.files,
        }
        return json.dumps(body, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str = MANIFEST) -> BackupManifest:
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise BackupError(f"{where}: not JSON ({exc})") from exc
        if not isinstance(body, dict) or not isinstance(body.get("files"), dict):
            raise BackupError(f"{where}: not a TalentMap backup manifest (no 'files')")
        if body.get("format") != FORMAT:
            raise BackupError(f"{where}: backup format {body.get('format')!r}, expected {FORMAT}")
        for name in ("profile", "created_at"):
            if not isinstance(body.get(name), str):
                raise BackupError(f"{where}: '{name}' is missing")
        return cls(
            profile=body["profile"],
            champion_version=body.get("champion_version"),
            created_at=body["created_at"],
            format=body["format"],
            details=dict(body.get("details") or {}),
            files={str(k): dict(v) for k, v in body["files"].items()},
        )


def hash_files(root: Path, relatives: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``{relative: {sha256, size}}`` of the given files below ``root``."""
    out = {}
    for relative in relatives:
        path = Path(root) / relative
        out[relative] = {"sha256": sha256_of(path), "size": path.stat().st_size}
    return out


def write_manifest(root: Path, manifest: BackupManifest) -> Path:
    """Hash every file below ``root`` into ``manifest`` and write ``backup.json`` (last,
    under a temporary name, then renamed: a folder without it is not a backup)."""
    manifest.files = hash_files(root, files_under(root))
    path = Path(root) / MANIFEST
    temporary = path.with_name(f".{MANIFEST}.tmp")
    temporary.write_text(manifest.to_json(), encoding="utf-8")
    os.replace(temporary, path)
    return path


def read_manifest(root: Path) -> BackupManifest:
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise DamagedBackupError(f"{path}: missing; {root} is not a TalentMap backup")
    return BackupManifest.from_json(path.read_text(encoding="utf-8"), str(path))


def verify(root: Path) -> BackupManifest:
    """The manifest, once every file it lists matches its size and sha256 and no file is
    left unlisted; otherwise ``BackupError`` naming every bad file."""
    root = Path(root)
    manifest = read_manifest(root)
    problems = []
    for relative, entry in sorted(manifest.files.items()):
        path = root / relative
        if ".." in Path(relative).parts or Path(relative).is_absolute():
            problems.append(f"{relative}: path outside the backup")
        elif not path.is_file():
            problems.append(f"{path}: missing")
        elif path.stat().st_size != entry.get("size"):
            problems.append(
                f"{path}: {path.stat().st_size} bytes, the manifest says {entry.get('size')}"
            )
        elif sha256_of(path) != entry.get("sha256"):
            problems.append(f"{path}: sha256 does not match the manifest")
    problems += [
        f"{root / extra}: not listed in the manifest"
        for extra in files_under(root)
        if extra not in manifest.files
    ]
    if problems:
        raise DamagedBackupError(
            "the backup is damaged, nothing was restored:\n  " + "\n  ".join(problems)
        )
    return manifest
