"""The production profile against real servers (issue 12): ``talentmap prod up`` in a
temporary home starts PostgreSQL, Redis and the MLflow server with basic auth; the tests
check the files it writes, the role matrix over MLflow's REST API, a data-team
``retrain`` end to end on the small world, then ``talentmap serve`` reading the Redis
online store. ``prod down`` runs at the end.

Skipped only when PostgreSQL or Redis is missing and apt-get cannot install them.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_serving_world import STAFF_KEY, ServingWorld, start_server, stop_server

from talentmap.app.prod.layout import read_env_file, read_users_file
from talentmap.serving.auth import hash_key
from talentmap.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TALENTMAP = str(Path(sys.executable).parent / "talentmap")
API = "/api/2.0/mlflow"


@dataclass
class Profile:
    home: Path
    env: dict[str, str]  # production.env
    users: dict[str, dict[str, str]]  # by role
    up_seconds: float

    @property
    def mlflow(self) -> str:
        return self.env["TALENTMAP_TRACKING__URI"]

    def auth(self, role: str) -> tuple[str, str]:
        return self.users[role]["name"], self.users[role]["password"]

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [TALENTMAP, *args],
            cwd=self.home,
            env={**os.environ, **self.env, "TALENTMAP_TRAINING__MODEL__NUM_THREADS": "1"},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _servers_or_skip() -> None:
    from talentmap.app.prod.layout import ProfileError
    from talentmap.app.prod.packages import ensure_installed

    try:
        ensure_installed(install=True)
    except ProfileError as missing:
        pytest.skip(f"PostgreSQL/Redis unavailable and apt-get cannot install them: {missing}")


def _up(home: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TALENTMAP_", "MLFLOW_"))}
    started = time.perf_counter()
    done = subprocess.run(
        [TALENTMAP, "prod", "up"],
        cwd=home,
        env={**env, "TALENTMAP_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return done, time.perf_counter() - started


@pytest.fixture(scope="session")
def profile() -> Iterator[Profile]:
    _servers_or_skip()
    # Outside pytest's 0700 temp folders: PostgreSQL runs as its own account when we are
    # root and must reach its data folder.
    home = Path(tempfile.mkdtemp(prefix="talentmap-prod-"))
    home.chmod(0o711)
    try:
        done, seconds = _up(home)
        assert done.returncode == 0, done.stdout + done.stderr
        folder = home / "data" / "prod"
        users = {u["role"]: u for u in read_users_file(folder / "users.json")}
        yield Profile(home, read_env_file(folder / "production.env"), users, seconds)
    finally:
        down = subprocess.run(
            [TALENTMAP, "prod", "down"],
            cwd=home,
            env={**os.environ, "TALENTMAP_HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        print(down.stdout, down.stderr)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def retrained(profile: Profile, small_world: Path) -> dict[str, Any]:
    """The data team's ``retrain`` on the small world; the registered champion's facts."""
    started = time.perf_counter()
    done = profile.run("retrain", "--data", str(small_world))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    seconds = time.perf_counter() - started
    with httpx.Client(base_url=profile.mlflow, auth=profile.auth("admin"), timeout=30) as http:
        alias = http.get(
            f"{API}/registered-models/alias", params={"name": "talent-promise", "alias": "champion"}
        )
        assert alias.status_code == 200, alias.text
        version = alias.json()["model_version"]
    return {"run_id": version["run_id"], "version": version["version"], "seconds": seconds}


# ------------------------------------------------------------------ the profile itself


def test_up_writes_private_files_and_is_idempotent(profile: Profile) -> None:
    folder = profile.home / "data" / "prod"
    for name in ("production.env", "users.json", "state.json"):
        assert (folder / name).stat().st_mode & 0o777 == 0o600, name
    assert sorted(profile.users) == ["admin", "auditor", "data-team"]
    assert all(len(u["password"]) >= 24 for u in profile.users.values())
    for name in (
        "TALENTMAP_HOME",
        "TALENTMAP_TRACKING__URI",
        "TALENTMAP_FEATURES__REGISTRY",
        "TALENTMAP_FEATURES__ONLINE_STORE",
        "TALENTMAP_FEAST_REGISTRY_URL",
        "TALENTMAP_FEAST_REDIS_URL",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
    ):
        assert profile.env.get(name), name
    assert profile.env["MLFLOW_TRACKING_USERNAME"] == "data-team"
    before = (folder / "state.json").read_text()
    again, seconds = _up(profile.home)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already running" in again.stdout
    assert (folder / "state.json").read_text() == before  # same ports and passwords
    print(f"prod up: {profile.up_seconds:.1f}s from nothing, {seconds:.1f}s when already up")


# ------------------------------------------------------------------ roles


def test_no_credentials_gets_401(profile: Profile) -> None:
    url = f"{profile.mlflow}{API}/experiments/search"
    assert httpx.post(url, json={"max_results": 5}, timeout=30).status_code == 401
    wrong = httpx.post(url, json={"max_results": 5}, auth=("auditor", "wrong"), timeout=30)
    assert wrong.status_code == 401


def test_auditor_reads_runs_metrics_artifacts_and_model_card(
    profile: Profile, retrained: dict[str, Any]
) -> None:
    run_id = retrained["run_id"]
    with httpx.Client(base_url=profile.mlflow, auth=profile.auth("auditor"), timeout=30) as http:
        run = http.get(f"{API}/runs/get", params={"run_id": run_id})
        assert run.status_code == 200, run.text
        experiment_id = run.json()["run"]["info"]["experiment_id"]
        found = http.post(f"{API}/runs/search", json={"experiment_ids": [experiment_id]})
        assert found.status_code == 200 and found.json()["runs"], found.text
        metrics = run.json()["run"]["data"]["metrics"]
        assert metrics
        history = http.get(
            f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": metrics[0]["key"]}
        )
        assert history.status_code == 200 and history.json()["metrics"], history.text
        listed = http.get(f"{API}/artifacts/list", params={"run_id": run_id})
        assert listed.status_code == 200, listed.text
        assert "model_card.md" in {f["path"] for f in listed.json()["files"]}
        card = http.get("/get-artifact", params={"run_id": run_id, "path": "model_card.md"})
        assert card.status_code == 200 and "#" in card.text, card.text[:300]
        model = http.get(f"{API}/registered-models/get", params={"name": "talent-promise"})
        assert model.status_code == 200, model.text


def _writes(http: httpx.Client, run_id: str, version: str) -> dict[str, int]:
    now = int(time.time() * 1000)
    return {
        "delete run": http.post(f"{API}/runs/delete", json={"run_id": run_id}).status_code,
        "log to run": http.post(
            f"{API}/runs/log-metric",
            json={"run_id": run_id, "key": "tampered", "value": 1.0, "timestamp": now},
        ).status_code,
        "move alias": http.post(
            f"{API}/registered-models/alias",
            json={"name": "talent-promise", "alias": "champion", "version": version},
        ).status_code,
    }


def test_auditor_gets_403_on_every_write(profile: Profile, retrained: dict[str, Any]) -> None:
    with httpx.Client(base_url=profile.mlflow, auth=profile.auth("auditor"), timeout=30) as http:
        statuses = _writes(http, retrained["run_id"], retrained["version"])
    assert statuses == {"delete run": 403, "log to run": 403, "move alias": 403}


def test_data_team_edits_but_cannot_delete(profile: Profile, retrained: dict[str, Any]) -> None:
    with httpx.Client(base_url=profile.mlflow, auth=profile.auth("data-team"), timeout=30) as http:
        statuses = _writes(http, retrained["run_id"], retrained["version"])
    # The alias is moved to the version it already names: nothing changes.
    assert statuses == {"delete run": 403, "log to run": 200, "move alias": 200}


def test_admin_manages_what_the_data_team_may_not(
    profile: Profile, retrained: dict[str, Any]
) -> None:
    # A scratch run of the experiment: deleting it (MANAGE) leaves the champion alone.
    with httpx.Client(base_url=profile.mlflow, auth=profile.auth("admin"), timeout=30) as http:
        run = http.get(f"{API}/runs/get", params={"run_id": retrained["run_id"]})
        assert run.status_code == 200, run.text
        experiment_id = run.json()["run"]["info"]["experiment_id"]
        created = http.post(
            f"{API}/runs/create", json={"experiment_id": experiment_id, "run_name": "scratch"}
        )
        assert created.status_code == 200, created.text
        scratch = created.json()["run"]["info"]["run_id"]
    with httpx.Client(base_url=profile.mlflow, auth=profile.auth("data-team"), timeout=30) as http:
        assert http.post(f"{API}/runs/delete", json={"run_id": scratch}).status_code == 403
    with httpx.Client(base_url=profile.mlflow, auth=profile.auth("admin"), timeout=30) as http:
        assert http.post(f"{API}/runs/delete", json={"run_id": scratch}).status_code == 200
        gone = http.get(f"{API}/runs/get", params={"run_id": scratch})
        assert gone.json()["run"]["info"]["lifecycle_stage"] == "deleted", gone.text


# ------------------------------------------------------------------ retrain and serve


def test_data_team_retrain_published_to_postgres_and_redis(
    profile: Profile, retrained: dict[str, Any]
) -> None:
    import redis

    from talentmap.features.store import project_name

    settings = Settings(home=profile.home)
    env_settings = {k: v for k, v in profile.env.items() if k.startswith("TALENTMAP_FEATURES")}
    assert env_settings == {
        "TALENTMAP_FEATURES__REGISTRY": "sql",
        "TALENTMAP_FEATURES__ONLINE_STORE": "redis",
    }
    host_port, password = profile.env["TALENTMAP_FEAST_REDIS_URL"].split(",password=")
    host, port = host_port.split(":")
    keys = redis.Redis(host=host, port=int(port), password=password).dbsize()
    assert keys > 0
    assert (settings.feature_store_dir).is_symlink()  # published version
    live = settings.model_copy(
        update={
            "features": settings.features.model_copy(
                update={"registry": "sql", "online_store": "redis"}
            )
        }
    )
    assert project_name(live).startswith("talentmap_")
    print(f"retrain on the profile: {retrained['seconds']:.1f}s; {keys} Redis keys")


def test_serve_shortlists_from_the_redis_online_store(
    profile: Profile, retrained: dict[str, Any]
) -> None:
    keys = [{"name": "staff-tester", "role": "staff", "sha256": hash_key(STAFF_KEY)}]
    env = {
        **profile.env,
        "TALENTMAP_SERVING__API_KEYS": json.dumps(keys),
        "TALENTMAP_SERVING__RELOAD_POLL_SECONDS": "0",
        "TALENTMAP_SERVING__RATE_LIMIT_PER_MINUTE": "0",
        "BENTOML_HOME": str(profile.home / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "True",
    }
    world = ServingWorld(profile.home, Settings(home=profile.home), env)
    server = start_server(world, profile.home / "serve.log")
    try:
        headers = {"Authorization": f"Bearer {STAFF_KEY}"}
        with httpx.Client(base_url=server.url, timeout=60, headers=headers) as http:
            model = http.get("/model").json()
            assert str(model.get("version")) == str(retrained["version"]), model
            first = http.post("/shortlist", json={"k": 20})
            assert first.status_code == 200, first.text
            orgs = [row["org_id"] for row in first.json()["candidates"]]
            assert orgs
            scored = http.post("/score", json={"org_ids": orgs[:5]})
            assert scored.status_code == 200, scored.text
            assert {r["status"] for r in scored.json()["results"]} == {"scored"}, scored.text
            shortlist_ms = _timed(lambda: http.post("/shortlist", json={"k": 20}))
            score_ms = _timed(lambda: http.post("/score", json={"org_ids": orgs[:5]}))
    finally:
        stop_server(server.process)
    print(
        f"serve on Redis: ready in {server.seconds_to_ready:.1f}s; /shortlist k=20 median "
        f"{shortlist_ms:.1f} ms, /score 5 orgs median {score_ms:.1f} ms"
    )


def _timed(call: Any, repeat: int = 30) -> float:
    """Median milliseconds of ``call()`` (each answer must be 200)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = call()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return statistics.median(times)


def test_forget_deletes_the_organisation_from_redis(
    profile: Profile, retrained: dict[str, Any]
) -> None:
    """Last: it records an opt-out in the profile's home."""
    import pandas as pd
    import redis

    from talentmap.features.catalog import FAMILIES, table_path

    settings = Settings(home=profile.home)
    table = pd.read_parquet(table_path(settings.feature_tables_dir, next(iter(FAMILIES))))
    org = str(table["org_id"].iloc[0])
    host_port, password = profile.env["TALENTMAP_FEAST_REDIS_URL"].split(",password=")
    host, port = host_port.split(":")
    client = redis.Redis(host=host, port=int(port), password=password)
    before = client.dbsize()
    done = profile.run("forget", "--org", org, "--no-notify")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "redis:org_id: 1" in done.stdout, done.stdout
    assert client.dbsize() == before - 1


def test_backup_and_forced_restore_with_pg_dump_and_pg_restore(
    profile: Profile, retrained: dict[str, Any], tmp_path: Path
) -> None:
    """After every other test (it restores over the profile): ``talentmap backup`` dumps the
    mlflow and feast databases and copies the server's artifacts; ``talentmap restore
    --force`` puts them back with pg_restore into the same running profile, and MLflow
    still names the same champion. A restore into a second, empty profile is not tested."""
    out = tmp_path / "backup"
    taken = profile.run("backup", "--out", str(out))
    assert taken.returncode == 0, taken.stdout + taken.stderr
    manifest = json.loads((out / "backup.json").read_text())
    assert manifest["profile"] == "production"
    assert manifest["champion_version"] == retrained["version"]
    files = manifest["files"]
    assert "mlflow/mlflow.pgdump" in files and "feast/feast.pgdump" in files
    assert any(name.startswith("mlflow/artifacts/") for name in files)
    assert "optouts/register.jsonl" in files  # the forget test's opt-out

    refused = profile.run("restore", str(out))
    assert refused.returncode == 1 and "not empty" in refused.stdout + refused.stderr
    restored = profile.run("restore", "--force", str(out))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    with httpx.Client(base_url=profile.mlflow, auth=profile.auth("auditor"), timeout=30) as http:
        alias = http.get(
            f"{API}/registered-models/alias", params={"name": "talent-promise", "alias": "champion"}
        )
        assert alias.status_code == 200, alias.text
        assert alias.json()["model_version"]["run_id"] == retrained["run_id"]
        run = http.get(f"{API}/runs/get", params={"run_id": retrained["run_id"]})
        assert run.status_code == 200, run.text
