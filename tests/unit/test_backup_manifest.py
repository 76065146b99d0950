"""The backup manifest (``backup.json``): hashes, verification, and the pieces of
``talentmap backup`` / ``restore`` that need no server (issue 12)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from filelock import FileLock

from talentmap.app.backup import (
    LockBusyError,
    backup,
    copy_complete_lines,
    is_sqlite,
    sqlite_copy,
)
from talentmap.app.backup_manifest import (
    MANIFEST,
    BackupError,
    BackupManifest,
    DamagedBackupError,
    files_under,
    read_manifest,
    sha256_of,
    verify,
    write_manifest,
)
from talentmap.app.restore import rewrite_prefix
from talentmap.settings import Settings


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "backup"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "one.txt").write_text("one\n")
    (root / "two.bin").write_bytes(b"\x00\x01\x02")
    write_manifest(root, BackupManifest(profile="embedded", champion_version="3"))
    return root


def test_manifest_lists_every_file_with_its_hash_and_size(tmp_path: Path) -> None:
    root = _folder(tmp_path)
    body = json.loads((root / MANIFEST).read_text())
    assert body["format"] == 1 and body["profile"] == "embedded"
    assert body["champion_version"] == "3" and body["created_at"]
    assert sorted(body["files"]) == ["a/b/one.txt", "two.bin"]
    assert body["files"]["two.bin"] == {"sha256": sha256_of(root / "two.bin"), "size": 3}
    assert files_under(root) == ["a/b/one.txt", "two.bin"]  # the manifest is not listed
    assert verify(root).champion_version == "3"


def test_sha256_is_the_standard_digest(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert sha256_of(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda r: (r / "two.bin").write_bytes(b"\x00\x01\x03"), "two.bin: sha256"),
        (lambda r: (r / "two.bin").write_bytes(b"\x00"), "two.bin: 1 bytes"),
        (lambda r: (r / "a" / "b" / "one.txt").unlink(), "one.txt: missing"),
        (lambda r: (r / "extra").write_text("x"), "extra: not listed"),
    ],
)
def test_a_damaged_backup_is_refused_naming_the_file(tmp_path: Path, damage, expected) -> None:
    root = _folder(tmp_path)
    damage(root)
    with pytest.raises(DamagedBackupError, match=expected):
        verify(root)


def test_a_folder_without_manifest_or_with_a_bad_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DamagedBackupError, match="not a TalentMap backup"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST).write_text("{not json")
    with pytest.raises(BackupError, match="not JSON"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST).write_text(json.dumps({"format": 99, "files": {}}))
    with pytest.raises(BackupError, match="format 99"):
        read_manifest(tmp_path)


def test_manifest_paths_cannot_escape_the_backup(tmp_path: Path) -> None:
    root = _folder(tmp_path)
    body = json.loads((root / MANIFEST).read_text())
    body["files"]["../outside"] = {"sha256": "0" * 64, "size": 0}
    (root / MANIFEST).write_text(json.dumps(body))
    with pytest.raises(DamagedBackupError, match="outside the backup"):
        verify(root)


def test_sqlite_copy_uses_the_backup_api_and_keeps_the_rows(tmp_path: Path) -> None:
    source = tmp_path / "src.db"
    with sqlite3.connect(source) as connection:
        connection.execute("CREATE TABLE t (v TEXT)")
        connection.execute("INSERT INTO t VALUES ('x')")
    copy = tmp_path / "copy" / "dst.db"
    sqlite_copy(source, copy)
    assert is_sqlite(copy)
    assert sqlite3.connect(copy).execute("SELECT v FROM t").fetchall() == [("x",)]


def test_register_copy_stops_at_the_last_complete_line(tmp_path: Path) -> None:
    source = tmp_path / "register.jsonl"
    source.write_bytes(b'{"a": 1}\n{"b": 2}\n{"c": ')  # a writer is half-way through a line
    copy = tmp_path / "out" / "register.jsonl"
    copy_complete_lines(source, copy)
    assert copy.read_bytes() == b'{"a": 1}\n{"b": 2}\n'


def test_rewrite_prefix_moves_artifact_locations_only_at_the_start(tmp_path: Path) -> None:
    database = tmp_path / "m.db"
    old, new = "file:///old/home/mlflow/artifacts", "file:///new/place/mlflow/artifacts"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE experiments (id INTEGER, artifact_location TEXT)")
        connection.execute("CREATE TABLE tags (value TEXT)")
        connection.execute("INSERT INTO experiments VALUES (1, ?)", (f"{old}/exp",))
        connection.execute("INSERT INTO tags VALUES (?)", (f"see {old}",))
    assert rewrite_prefix(database, old, new) == 1
    connection = sqlite3.connect(database)
    assert connection.execute("SELECT artifact_location FROM experiments").fetchone() == (
        f"{new}/exp",
    )
    assert connection.execute("SELECT value FROM tags").fetchone() == (f"see {old}",)


def test_backup_refuses_a_non_empty_out_and_a_held_lock(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    out = tmp_path / "out"
    out.mkdir()
    (out / "x").write_text("x")
    with pytest.raises(BackupError, match="not an empty folder"):
        backup(settings, out)
    lock = settings.path(settings.retrain.lock_file)
    lock.parent.mkdir(parents=True)
    with FileLock(str(lock)), pytest.raises(LockBusyError, match="retrain holds the lock"):
        backup(settings, tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".fresh")]  # no leftovers
