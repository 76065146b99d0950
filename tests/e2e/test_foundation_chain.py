"""The foundation chain as a user runs it: the real `talentmap` command, in a fresh home.

generate → validate → ingest → features build → apply → materialize, then historical
and online retrieval through Feast, and finally `talentmap demo` itself.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pandas as pd
import pytest

from talentmap.settings import Settings

TALENTMAP = str(Path(sys.executable).parent / "talentmap")


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed console command with every store under ``home``."""
    env = {**os.environ, "TALENTMAP_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([TALENTMAP, *args], cwd=home, env=env, capture_output=True, text=True)


@pytest.mark.e2e
def test_generate_validate_ingest_build_apply_materialize_retrieve(tmp_path: Path) -> None:
    world = tmp_path / "world"
    generated = run(tmp_path, "generate", "--out", str(world), "--orgs", "400", "--seed", "3")
    assert generated.returncode == 0, generated.stderr
    assert (world / "organizations.csv").exists() and (world / "truth" / "oracle.parquet").exists()

    validated = run(tmp_path, "validate", str(world))
    assert validated.returncode == 0, validated.stdout + validated.stderr

    ingested = run(tmp_path, "ingest", str(world))
    assert ingested.returncode == 0, ingested.stdout + ingested.stderr
    again = run(tmp_path, "ingest", str(world))
    assert again.returncode == 0
    snapshots = [p for p in (tmp_path / "data" / "lake" / "snapshots").iterdir() if p.is_dir()]
    assert len(snapshots) == 1, "re-ingesting the same content must be a no-op"

    for step in (["features", "build"], ["features", "apply"], ["features", "materialize"]):
        done = run(tmp_path, *step)
        assert done.returncode == 0, f"{step}: {done.stdout}\n{done.stderr}"
    assert (tmp_path / "data" / "feast" / "online.db").exists()

    from talentmap.features import store

    settings = Settings(home=tmp_path)
    orgs = pd.read_csv(world / "organizations.csv", dtype=str)
    as_of = pd.Timestamp("2023-06-30", tz=UTC)
    entity = pd.DataFrame({"org_id": orgs["org_id"].head(50), "as_of": as_of})
    historical = store.get_training_frame(settings, entity)
    assert len(historical) == 50
    assert set(historical["org_id"]) == set(entity["org_id"])

    snapshot_date = json.loads((world / "dataset.json").read_text())["snapshot_date"]
    now = datetime.fromisoformat(snapshot_date).replace(tzinfo=UTC)
    online = store.get_online_features(settings, orgs["org_id"].head(20).tolist(), now)
    assert len(online) == 20
    feature_columns = [c for c in online.columns if c not in {"org_id", "as_of"}]
    assert online[feature_columns].notna().any().any(), "the online store returned no values"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.e2e
def test_demo_trains_serves_and_prints_a_shortlist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve_port, ui_port = _free_port(), _free_port()
    monkeypatch.setenv("TALENTMAP_SERVING__PORT", str(serve_port))
    monkeypatch.setenv("TALENTMAP_TRACKING__UI_PORT", str(ui_port))
    monkeypatch.setenv("TALENTMAP_TRAINING__MODEL__NUM_THREADS", "1")
    try:
        done = run(tmp_path, "demo", "--orgs", "400", "--seed", "5")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "promoted to champion" in done.stdout
        assert f"http://127.0.0.1:{serve_port}/" in done.stdout
        assert f"http://127.0.0.1:{ui_port}/" in done.stdout
        assert (tmp_path / "data" / "feast" / "online.db").exists()
        # The service it left running answers with the champion's ranking.
        key = (tmp_path / "data" / "demo" / "api_key").read_text().strip()
        answer = httpx.post(
            f"http://127.0.0.1:{serve_port}/shortlist",
            json={"k": 5},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert answer.status_code == 200 and len(answer.json()["candidates"]) == 5
        assert httpx.get(f"http://127.0.0.1:{ui_port}/health", timeout=10).status_code == 200
    finally:
        stopped = run(tmp_path, "stop")
    assert stopped.returncode == 0 and "serve: stopped" in stopped.stdout
