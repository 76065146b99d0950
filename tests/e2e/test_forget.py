"""``talentmap forget`` end to end, against a real BentoML server of its own.

Its own server and world (small: 300 organisations), built with the helpers of
``test_serving_world``: the session server there is shared by tests that compare what is
served with the lake, so forgetting subjects on it would disturb them.

One test, in the order an operator lives it: pick a shortlisted company and a founder
shown in a shortlist; ``talentmap forget --org … --person …``; then the service no longer
shows them (shortlist, /score, CSV export), the online store holds nothing for them, the
register has the lines, the next start of the service applies them, and the next feature
build no longer counts the founder in their company's features.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import typer
from test_serving_world import (
    ADMIN_KEY,
    STAFF_KEY,
    Server,
    ServingWorld,
    prepare_world,
    start_server,
    stop_server,
)
from typer.testing import CliRunner

from talentmap.app.cli import app as talentmap_app
from talentmap.features import cli as feature_commands
from talentmap.features.store import get_online_features
from talentmap.lake import Lake
from talentmap.optouts import read_register, register_path
from talentmap.serving.commands import shortlist as shortlist_commands
from talentmap.serving.inputs import load_inputs
from talentmap.settings import get_settings

pytestmark = pytest.mark.e2e

ORGS, SEED = 300, 23
STAFF = {"Authorization": f"Bearer {STAFF_KEY}"}


def _prepare(home: Path) -> ServingWorld:
    """As ``test_serving_world.prepare_world``, on a smaller world."""
    return prepare_world(home, ORGS, SEED)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("forget-home")
    running = start_server(_prepare(home), home / "server.log")
    try:
        yield running
    finally:
        stop_server(running.process)


def _invoke(app: typer.Typer, args: list[str], env: dict[str, str]) -> Any:
    """Run a CLI command in-process with ``env``; the cached settings follow it."""
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, args, env=env)
    finally:
        get_settings.cache_clear()


def _shortlist(url: str) -> dict[str, Any]:
    response = httpx.post(f"{url}/shortlist", json={"k": 1000}, headers=STAFF, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def _latest(frame: pd.DataFrame, org_id: str) -> pd.Series:
    return frame.loc[frame["org_id"] == org_id].sort_values("event_timestamp").iloc[-1]


def test_forget_an_org_and_a_founder(server: Server) -> None:
    world = server.world
    settings = world.settings
    lake = Lake(settings.lake_dir)
    tables = lake.load(lake.latest().snapshot_id)
    people, roles, education = tables["people"], tables["roles"], tables["education"]

    # ---- pick a shortlisted company, and a founder (a PhD if any) shown elsewhere
    before = _shortlist(server.url)["candidates"]
    gone_org = before[0]["org_id"]
    phds = set(education.loc[education["degree"] == "phd", "person_id"])
    shown = [
        (c["org_id"], f["name"])
        for c in before[1:]
        for f in c["founders"]
        if c["org_id"] != gone_org
    ]
    founder_ids = {
        (org, name): roles.loc[
            (roles["org_id"] == org)
            & (roles["role"] == "founder")
            & roles["person_id"].isin(people.loc[people["full_name"] == name, "person_id"]),
            "person_id",
        ].iloc[0]
        for org, name in shown
    }
    full_names = people.set_index("person_id")["full_name"]
    same_name = people.groupby("full_name")["person_id"].transform("size")
    unique_name = set(people.loc[same_name == 1, "person_id"])
    # Best: a founder whose name nobody else bears (so the name can be searched for in every
    # answer) and who holds a PhD (so a company-level count visibly drops).
    founders_of = roles.loc[roles["role"] == "founder"].groupby("org_id")["person_id"].nunique()
    # ... of a company with another founder, whose founder counts then visibly drop by one
    # (a sole founder's company would simply lose its founder rows).
    (their_org, name), person = min(
        founder_ids.items(),
        key=lambda kv: (
            kv[1] not in unique_name,
            kv[1] not in phds,
            founders_of.get(kv[0][0], 0) < 2,
            kv[0],
        ),
    )
    assert full_names[person] == name
    assert person in phds and person in unique_name, "the world should hold such a founder"
    founders_table = settings.feature_tables_dir / "founders.parquet"
    team_table = settings.feature_tables_dir / "team.parquet"
    was_founders = _latest(pd.read_parquet(founders_table), their_org)
    was_team = _latest(pd.read_parquet(team_table), their_org)

    # ---- talentmap forget --org … --person …, reaching the running service
    env = {**world.env, "TALENTMAP_ADMIN_API_KEY": ADMIN_KEY}
    app = talentmap_app
    args = ["forget", "--org", gone_org, "--person", person, "--url", server.url]
    result = _invoke(app, args, env)
    assert result.exit_code == 0, result.output
    assert "1 organisation(s) removed" in result.output

    # ---- the service drops them at once: shortlist, score, CSV export
    after = _shortlist(server.url)
    assert gone_org not in {c["org_id"] for c in after["candidates"]}
    assert len(after["candidates"]) == len(before) - 1
    theirs = next(c for c in after["candidates"] if c["org_id"] == their_org)
    assert name not in {f["name"] for f in theirs["founders"]}
    assert name not in json.dumps(after, ensure_ascii=False)
    scored = httpx.post(
        f"{server.url}/score", json={"org_ids": [gone_org]}, headers=STAFF, timeout=60
    ).json()
    assert scored["results"][0]["status"] == "unknown"
    export = CliRunner().invoke(
        _serving_app(),
        ["shortlist", "--url", server.url, "--k", "1000", "--format", "csv"],
        env={shortlist_commands.API_KEY_ENV: STAFF_KEY},
    )
    assert export.exit_code == 0, export.output
    assert gone_org not in export.stdout and export.stdout.count("\n") == len(before)
    assert name not in export.stdout

    # ---- the online store holds nothing for them
    online = get_online_features(settings, [gone_org, their_org])
    stored = online.drop(columns=["org_id", "as_of"])
    assert stored.iloc[0].isna().all(), stored.iloc[0][stored.iloc[0].notna()]
    assert stored.iloc[1].notna().any()  # the other company is still there
    # Persons' own view (person_research) is read by no online request, so the online
    # load does not write it (tests/e2e/test_online_load.py); the forgotten person's
    # rows are checked in its offline table below.

    # ---- the register has the lines, and the next start applies them
    register = read_register(register_path(settings))
    assert {("org", gone_org), ("person", person)} <= set(
        zip(register["subject_kind"], register["subject_id"], strict=True)
    )
    inputs = load_inputs(settings, settings.serving)
    assert gone_org not in inputs.candidate_ids
    assert person not in set(inputs.tables["people"]["person_id"])
    assert person not in set(inputs.tables["roles"]["person_id"])

    # ---- a service that refuses the call (staff key) still drops the subject: its poller
    # sees the register change (nothing else changed, so nothing else could reload it)
    # Another company than the founder's: its rows must stay for the checks below.
    other = next(c["org_id"] for c in after["candidates"] if c["org_id"] != their_org)
    refused = _invoke(
        app,
        ["forget", "--org", other, "--url", server.url],
        {**world.env, "TALENTMAP_ADMIN_API_KEY": STAFF_KEY},
    )
    assert refused.exit_code == 2, refused.output
    assert "did not drop them" in refused.output
    deadline = time.monotonic() + 60  # the poll interval is 2 s here
    while other in {c["org_id"] for c in _shortlist(server.url)["candidates"]}:
        assert time.monotonic() < deadline, "the poller never applied the register"
        time.sleep(0.5)

    # ---- the next feature build no longer counts the founder
    built = _invoke(feature_commands.app, ["build"], world.env)
    assert built.exit_code == 0, built.output
    now_founders = _latest(pd.read_parquet(founders_table), their_org)
    now_team = _latest(pd.read_parquet(team_table), their_org)
    assert now_team["n_founders_total"] == was_team["n_founders_total"] - 1
    assert now_founders["n_founders_phd"] == was_founders["n_founders_phd"] - 1
    assert gone_org not in set(pd.read_parquet(founders_table)["org_id"])
    research = pd.read_parquet(settings.feature_tables_dir / "person_research.parquet")
    assert person not in set(research["person_id"])
    assert np.isfinite(now_team["n_founders_total"])


def _serving_app() -> typer.Typer:
    return talentmap_app


def test_forget_without_a_service_still_records(tmp_path: Path) -> None:
    """No service at the URL: the opt-out is recorded, the command says so and succeeds."""
    env = {"TALENTMAP_HOME": str(tmp_path), "TALENTMAP_ADMIN_API_KEY": "x"}
    app = talentmap_app
    port_nobody_uses = "http://127.0.0.1:9"
    result = _invoke(app, ["forget", "--person", "p-1", "--url", port_nobody_uses], env)
    assert result.exit_code == 0, result.output
    assert "no service answered" in result.output
    register = tmp_path / "data" / "optouts" / "register.jsonl"
    assert json.loads(register.read_text())["subject_id"] == "p-1"
    assert os.stat(register).st_mode & 0o777 == 0o600
