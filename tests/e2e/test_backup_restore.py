"""``talentmap backup`` and ``talentmap restore`` on the embedded profile (issue 12).

A small world goes through the real retrain chain; an organisation is forgotten (so the
register holds a line); the real server serves a shortlist. Then:

- ``talentmap backup --out`` copies the home under the retrain lock;
- the original home is moved away (so nothing can silently read from it) and
  ``talentmap restore`` fills an empty home;
- ``talentmap serve`` on the restored home serves the same champion version and the same
  shortlist, without the forgotten organisation;
- a backup with one damaged file is refused, naming the file, and touches nothing;
- restoring again into the now non-empty home is refused without ``--force``.

The production profile (``pg_dump`` / ``pg_restore``) has its own, smaller test at the end
of ``test_prod_profile.py``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_serving_world import (
    ADMIN_KEY,
    STAFF_KEY,
    ServingWorld,
    start_server,
    stop_server,
    wait_confirmed,
)
from typer.testing import CliRunner

from talentmap.app.backup_manifest import MANIFEST
from talentmap.app.cli import app as talentmap_app
from talentmap.optouts import record_opt_outs, register_path
from talentmap.serving.auth import hash_key
from talentmap.serving.watch_events import Filters
from talentmap.serving.watchlists import WatchlistStore
from talentmap.settings import Settings
from talentmap.settings.model import ModelConfig
from talentmap.settings.training import TrainingConfig
from talentmap.training.pipeline import ranking_file
from talentmap.training.pipeline.retrain import retrain

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STAFF = {"Authorization": f"Bearer {STAFF_KEY}"}


def _settings(home: Path) -> Settings:
    return Settings(home=home, training=TrainingConfig(model=ModelConfig(num_threads=1)))


def _env(home: Path) -> dict[str, str]:
    keys = [
        {"name": "staff-tester", "role": "staff", "sha256": hash_key(STAFF_KEY)},
        {"name": "admin-tester", "role": "admin", "sha256": hash_key(ADMIN_KEY)},
    ]
    return {
        "TALENTMAP_HOME": str(home),
        "TALENTMAP_SERVING__API_KEYS": json.dumps(keys),
        "TALENTMAP_SERVING__RELOAD_POLL_SECONDS": "0",
        "TALENTMAP_SERVING__RATE_LIMIT_PER_MINUTE": "0",
        "TALENTMAP_TRAINING__MODEL__NUM_THREADS": "1",
        "BENTOML_HOME": str(home / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "True",
    }


def _served(home: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(/model, /shortlist k=25) of ``talentmap serve`` on ``home``."""
    server = start_server(ServingWorld(home, _settings(home), _env(home)), home / "server.log")
    try:
        wait_confirmed(server.url, server.log_path)
        with httpx.Client(base_url=server.url, timeout=60) as http:
            model = http.get("/model", headers=STAFF)
            shortlist = http.post("/shortlist", json={"k": 25}, headers=STAFF)
    finally:
        stop_server(server.process)
    assert model.status_code == 200, model.text
    assert shortlist.status_code == 200, shortlist.text
    return model.json(), shortlist.json()


def _cli(monkeypatch: pytest.MonkeyPatch, home: Path, *args: str) -> Any:
    from talentmap.settings import get_settings

    monkeypatch.setenv("TALENTMAP_HOME", str(home))
    monkeypatch.setenv("TALENTMAP_TRAINING__MODEL__NUM_THREADS", "1")
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(talentmap_app, list(args))
    finally:
        get_settings.cache_clear()


def _rows(shortlist: dict[str, Any]) -> list[tuple[str, float]]:
    return [(row["org_id"], row["score"]) for row in shortlist["candidates"]]


def test_backup_restore_into_an_empty_home_serves_the_same_champion(
    small_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    settings = _settings(home)
    outcome = retrain(settings, small_world)
    assert outcome.promoted, outcome.decision_reason
    ranking = _ranking_meta(settings)
    forgotten = _top_org(settings)
    record_opt_outs(register_path(settings), [("org", forgotten)])
    register = register_path(settings).read_bytes()
    watchlists_db = settings.path(settings.serving.watchlists.db)
    WatchlistStore(watchlists_db).create("alice", "Occitanie", Filters(region="Occitanie", k=10))

    backup_dir = tmp_path / "backup"
    taken = _cli(monkeypatch, home, "backup", "--out", str(backup_dir))
    assert taken.exit_code == 0, taken.output
    manifest = json.loads((backup_dir / MANIFEST).read_text())
    assert manifest["profile"] == "embedded"
    assert manifest["champion_version"] == outcome.model_version
    assert manifest["details"]["feature_version"] == outcome.version_dir.name
    assert "mlflow/mlruns.db" in manifest["files"]
    assert "optouts/register.jsonl" in manifest["files"]
    assert "serving/watchlists.sqlite" in manifest["files"]
    assert any(name.startswith("lake/snapshots/") for name in manifest["files"])

    model_before, shortlist_before = _served(home)
    assert model_before["version"] == outcome.model_version
    assert forgotten not in {org for org, _ in _rows(shortlist_before)}

    # Nothing may read the original home from now on.
    moved = tmp_path / "original-home-moved-away"
    home.rename(moved)
    restored = tmp_path / "restored"
    done = _cli(monkeypatch, restored, "restore", str(backup_dir))
    assert done.exit_code == 0, done.output
    restored_settings = _settings(restored)
    assert register_path(restored_settings).read_bytes() == register
    restored_lists = WatchlistStore(restored_settings.path(restored_settings.serving.watchlists.db))
    assert [w.name for w in restored_lists.list("alice")] == ["Occitanie"]
    assert restored_settings.feature_store_dir.is_symlink()
    assert restored_settings.feature_store_dir.resolve().parent.name == outcome.version_dir.name
    assert _ranking_meta(restored_settings) == ranking

    model_after, shortlist_after = _served(restored)
    assert model_after["version"] == model_before["version"]
    assert model_after["run_id"] == model_before["run_id"]
    assert model_after["source"] == "registry"
    assert _rows(shortlist_after) == _rows(shortlist_before)
    assert shortlist_after["lineage"] == shortlist_before["lineage"]

    # Into a home that now holds data: refused without --force.
    again = _cli(monkeypatch, restored, "restore", str(backup_dir))
    assert again.exit_code == 1 and "not empty" in again.output

    # A damaged copy of the backup: refused, the file named, nothing written.
    damaged = tmp_path / "damaged"
    shutil.copytree(backup_dir, damaged)
    victim = damaged / "mlflow" / "mlruns.db"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    empty = tmp_path / "never-written"
    refused = _cli(monkeypatch, empty, "restore", str(damaged))
    assert refused.exit_code == 74, refused.output
    flat = " ".join(refused.output.split())
    assert "mlruns.db" in flat and "sha256" in flat
    assert not empty.exists()


def _top_org(settings: Settings) -> str:
    import pyarrow.parquet as pq

    folder = ranking_file.folder_of(settings.feature_tables_dir)
    table = pq.read_table(folder / ranking_file.PARQUET_FILE, columns=["org_id"])
    return str(table.column("org_id")[0])


def _ranking_meta(settings: Settings) -> dict[str, Any]:
    folder = ranking_file.folder_of(settings.feature_tables_dir)
    return json.loads((folder / ranking_file.META_FILE).read_text(encoding="utf-8"))
