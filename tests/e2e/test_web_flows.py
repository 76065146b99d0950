"""The mission-staff flows of issue 11 on a real server, over HTTP and in Chromium.

World: a generated ecosystem goes through the real retrain chain twice: first as it was
six months before its snapshot (``truncation.truncate_world``), then whole. Each retrain
publishes a feature-store version with its ranking and logs the list to the producing
MLflow run, so the served ranking has a previous published snapshot and a history.

- ``/api/changes`` equals the diff of the two published files (read back independently),
  needs a key, refuses bad parameters; ``talentmap changes`` prints it as JSON, CSV, table;
- ``/api/company/<org_id>``: profile, founders, timeline up to the serving date, current
  score, history across both rankings with MLflow links; audited; 404 when unknown;
- in Chromium, in French and in English: the company page opened from a shortlist row, and
  the "what changed" section (axe-core: no serious or critical violation; keyboard
  reachable; screenshots in ``tests/artifacts/``);
- last, a company forgotten through ``/admin/forget`` leaves the changes and its page.
"""

from __future__ import annotations

import json
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import assert_accessible, browser_page, log_in, save_screenshot, tab_to
from test_serving_world import (
    ADMIN_KEY,
    STAFF_KEY,
    WORLD_ORGS,
    WORLD_SEED,
    Server,
    ServingWorld,
    start_server,
    stop_server,
)
from truncation import truncate_world
from typer.testing import CliRunner

from talentmap.app.cli import app as talentmap_app
from talentmap.generate.world import generate_world
from talentmap.serving.audit import read_audit
from talentmap.serving.auth import hash_key
from talentmap.serving.changes import ranking_changes
from talentmap.serving.history import published_rankings, read_frame
from talentmap.serving.translations import load_catalogue
from talentmap.settings import Settings
from talentmap.settings.model import ModelConfig
from talentmap.settings.training import TrainingConfig
from talentmap.training.pipeline.retrain import retrain

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STAFF = {"Authorization": f"Bearer {STAFF_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
EARLIER_DAYS = 183


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    home = tmp_path_factory.mktemp("flows-home")
    full, early = home / "world", home / "world-early"
    generate_world(full, WORLD_ORGS, WORLD_SEED)
    snapshot = date.fromisoformat(json.loads((full / "dataset.json").read_text())["snapshot_date"])
    truncate_world(full, early, snapshot - timedelta(days=EARLIER_DAYS))
    settings = Settings(home=home, training=TrainingConfig(model=ModelConfig(num_threads=1)))
    first = retrain(settings, early)
    assert first.promoted, first.decision_reason
    retrain(settings, full)  # promoted or not, it publishes a ranking of the new snapshot
    keys = [
        {"name": "staff-tester", "role": "staff", "sha256": hash_key(STAFF_KEY)},
        {"name": "admin-tester", "role": "admin", "sha256": hash_key(ADMIN_KEY)},
    ]
    env = {
        "TALENTMAP_HOME": str(home),
        "TALENTMAP_SERVING__API_KEYS": json.dumps(keys),
        "TALENTMAP_SERVING__RELOAD_POLL_SECONDS": "0",
        "TALENTMAP_SERVING__RATE_LIMIT_PER_MINUTE": "0",
        "TALENTMAP_TRAINING__MODEL__NUM_THREADS": "1",
        "BENTOML_HOME": str(home / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "True",
    }
    started = start_server(ServingWorld(home, settings, env), home / "server.log")
    yield started
    stop_server(started.process)


@pytest.fixture(scope="module")
def client(server: Server) -> httpx.Client:
    with httpx.Client(
        base_url=server.url, timeout=120, limits=httpx.Limits(keepalive_expiry=2.0)
    ) as http:
        yield http


def get(client: httpx.Client, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params, headers=STAFF)
    assert response.status_code == 200, response.text
    return response.json()


def top_org(client: httpx.Client) -> dict[str, Any]:
    response = client.post("/shortlist", json={"k": 1}, headers=STAFF)
    assert response.status_code == 200, response.text
    return response.json()["candidates"][0]


# ------------------------------------------------------------------ what changed (API, CLI)


def test_changes_compare_the_served_ranking_with_the_previous_published_one(
    client: httpx.Client, server: Server
) -> None:
    answer = get(client, "/api/changes", k=5)
    published = published_rankings(server.world.settings)
    assert len(published) == 2
    older, newer = published
    assert answer["previous"]["source"] == "published"
    assert answer["previous"]["ranking_id"] == older.ranking_id
    assert answer["previous"]["as_of"] == older.as_of < answer["current"]["as_of"]
    assert answer["current"]["ranking_id"].split("-")[0] == newer.ranking_id
    # The same diff computed here from the two files, with the opt-outs of the served side.
    served = client.post(
        "/shortlist", json={"k": 1000, "include_explanations": False}, headers=STAFF
    )
    served_ids = {c["org_id"] for c in served.json()["candidates"]}
    current = read_frame(newer)
    gone = set(current["org_id"]) - served_ids  # opted out, removed on read
    expected = ranking_changes(read_frame(older), current, 5, exclude=gone).as_dict()
    assert answer["regions"] == expected["regions"]
    assert answer["overall"] == expected["overall"]
    assert any(scope["entrants"] or scope["leavers"] for scope in answer["regions"].values()), (
        "six months of news should change some region's top 5"
    )


def test_changes_need_a_key_and_good_parameters(client: httpx.Client) -> None:
    assert client.get("/api/changes").status_code == 401
    bad = client.get("/api/changes", params={"region": "Bavaria"}, headers=STAFF)
    assert bad.status_code == 400 and "region must be one of" in bad.json()["error"]
    one = get(client, "/api/changes", k=3, region="Occitanie")
    assert set(one["regions"]) <= {"Occitanie"}


def test_changes_cli_json_csv_table(server: Server, client: httpx.Client) -> None:
    runner = CliRunner()
    env = {"TALENTMAP_API_KEY": STAFF_KEY, "TALENTMAP_LOG_FORMAT": "text"}
    base = ["changes", "--url", server.url, "--k", "5"]
    out = runner.invoke(talentmap_app, [*base, "--format", "json"], env=env)
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["regions"] == get(client, "/api/changes", k=5)["regions"]
    out = runner.invoke(talentmap_app, [*base, "--format", "csv"], env=env)
    assert out.exit_code == 0, out.output
    lines = out.stdout.strip().splitlines()
    assert (
        lines[0]
        == "scope,change,org_id,name,region,sector,rank_before,rank_after,places,score_before,score_after"
    )
    answer = get(client, "/api/changes", k=5)
    count = sum(
        len(s[g])
        for s in [answer["overall"], *answer["regions"].values()]
        for g in ("entrants", "leavers", "up", "down")
    )
    assert len(lines) - 1 == count
    out = runner.invoke(talentmap_app, [*base, "--format", "table"], env=env)
    assert out.exit_code == 0 and "previous" in out.stdout and "all regions" in out.stdout
    out = runner.invoke(talentmap_app, [*base, "--format", "xml"], env=env)
    assert out.exit_code == 2
    out = runner.invoke(talentmap_app, base, env={"TALENTMAP_API_KEY": "wrong"})
    assert out.exit_code == 1


# ------------------------------------------------------------------ company page (API)


def test_company_answer(client: httpx.Client, server: Server) -> None:
    top = top_org(client)
    body = get(client, f"/api/company/{top['org_id']}")
    assert body["profile"]["name"] == top["name"] and body["profile"]["region"] == top["region"]
    assert body["founders"] == top["founders"]
    assert body["current"]["rank"] == 1 and body["current"]["score"] == top["score"]
    assert 1 <= len(body["current"]["reasons"]) <= 3
    as_of = body["lineage"]["as_of"]
    assert body["timeline"], "a top company has dated signals"
    assert all(e["date"] <= as_of for e in body["timeline"])
    assert [e["date"] for e in body["timeline"]] == sorted(e["date"] for e in body["timeline"])
    assert {e["kind"] for e in body["timeline"]} & {
        "round",
        "programme",
        "job_posting",
        "headcount",
    }
    # History: both published rankings (the current one included), each with its run link.
    assert len(body["history"]) == 2
    assert body["history"][-1]["rank"] == 1
    for entry in body["history"]:
        assert entry["run_id"] and entry["mlflow_run_url"].endswith(f"/runs/{entry['run_id']}")
        assert entry["lineage_url"].endswith("/artifacts/lineage.json")
        assert entry["artifact_path"] and entry["artifact_path"].endswith("ranking.parquet")
    audit = [line for line in read_audit(server.world.audit_path) if line.get("event") == "company"]
    assert audit and audit[-1]["org_ids"] == [top["org_id"]] and audit[-1]["who"] == "staff-tester"


def test_company_unknown_or_without_key(client: httpx.Client) -> None:
    assert client.get("/api/company/no-such-org", headers=STAFF).status_code == 404
    assert client.get("/api/company/no-such-org").status_code == 401
    shell = client.get("/company/no-such-org")  # the shell is public and holds no data
    assert shell.status_code == 200 and "company.js" in shell.text


# ------------------------------------------------------------------ in the browser


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_company_page_from_a_shortlist_row(server: Server, client: httpx.Client, lang: str) -> None:
    words = load_catalogue(lang)
    top = top_org(client)
    with browser_page(server.url) as page:
        log_in(page, server.url, STAFF_KEY, lang=lang)
        link = page.locator("#shortlist tbody tr.row").first.locator("a.company-link")
        assert link.inner_text() == top["name"]
        link.click()
        page.locator("#company").wait_for(state="visible")
        assert page.url.startswith(f"{server.url}/company/{top['org_id']}")
        assert page.locator("#company-title").inner_text() == top["name"]
        assert page.evaluate("document.documentElement.lang") == lang
        assert page.locator("#timeline-title").inner_text() == words["company.timeline"]
        assert page.locator("#timeline tbody tr.event").count() >= 1
        assert page.locator("#history tbody tr").count() == 2
        assert page.locator("#history a", has_text=words["company.run_link"]).count() >= 2
        founders = page.locator("#founders").inner_text()
        for founder in top["founders"]:
            assert founder["name"] in founders
        # The reasons in the page's language, worded from the reasons the published file
        # holds (English only there), never marked as another language.
        reasons = page.locator("#reasons li")
        assert reasons.all_text_contents() == [r["texts"][lang] for r in top["reasons"]]
        assert reasons.evaluate_all("lis => lis.map(li => li.lang)") == [""] * len(top["reasons"])
        if lang == "fr":
            assert all(r["texts"]["fr"] != r["text"] for r in top["reasons"])
            assert all("score)" in t for t in reasons.all_text_contents())
        assert_accessible(page)
        tab_to(page, "#back-link")
        tab_to(page, "#history a")
        save_screenshot(page, f"company-{lang}")
        page.locator("#back-link").click()
        page.locator("#shortlist tbody tr.row").first.wait_for()
        assert page.evaluate("document.documentElement.lang") == lang


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_what_changed_section(server: Server, client: httpx.Client, lang: str) -> None:
    words = load_catalogue(lang)
    answer = get(client, "/api/changes", k=10)
    with browser_page(server.url) as page:
        log_in(page, server.url, STAFF_KEY, lang=lang)
        page.locator("#changes .changes-scope").first.wait_for()
        assert page.locator("#changes-title").inner_text() == words["changes.title"]
        shown = {
            node.get_attribute("data-scope")
            for node in page.locator("#changes .changes-scope").all()
        }
        assert shown == {words["changes.overall"], *answer["regions"]}
        entrants = page.locator("#changes ul.changes-entrants a.company-link").all_inner_texts()
        expected = [
            c["name"]
            for s in [answer["overall"], *answer["regions"].values()]
            for c in s["entrants"]
        ]
        assert sorted(entrants) == sorted(expected)
        assert_accessible(page)
        tab_to(page, "#changes-k", max_tabs=200)
        save_screenshot(page, f"changes-{lang}")
        # A smaller k from the section's own form; a region picked on the map narrows it.
        page.fill("#changes-k", "2")
        page.locator("#changes-form button[type=submit]").click()
        page.locator("#changes-caption", has_text="2").wait_for()
        region = next(iter(answer["regions"]))
        page.select_option("#f-region", region)
        page.wait_for_function(
            "(r) => [...document.querySelectorAll('#changes .changes-scope')].every(n => n.dataset.scope === r)",
            arg=region,
        )
        # Entrants link to their company page.
        first = page.locator("#changes a.company-link").first
        if first.count():
            name = first.inner_text()
            first.click()
            page.locator("#company").wait_for(state="visible")
            assert page.locator("#company-title").inner_text() == name


# ------------------------------------------------------------------ forget (last)


def test_a_forgotten_company_leaves_the_changes_and_its_page(client: httpx.Client) -> None:
    answer = get(client, "/api/changes", k=10)
    listed = [
        c
        for s in answer["regions"].values()
        for g in ("entrants", "leavers", "up", "down")
        for c in s[g]
    ]
    # A leaver comes from the previous ranking only: the older file must not bring it back.
    victim = next((c for c in listed if c["rank_after"] is None), listed[0])
    assert client.get(f"/api/company/{victim['org_id']}", headers=STAFF).status_code in (200, 404)
    forgot = client.post("/admin/forget", json={"org_ids": [victim["org_id"]]}, headers=ADMIN)
    assert forgot.status_code == 200, forgot.text
    after = get(client, "/api/changes", k=10)
    assert victim["org_id"] not in json.dumps(after)
    assert client.get(f"/api/company/{victim['org_id']}", headers=STAFF).status_code == 404


def test_docs_screenshots_are_kept(server: Server) -> None:
    # docs/screenshots/ holds the French main page and a company page, as produced by this
    # module's browser tests (copied from tests/artifacts/ when TALENTMAP_UPDATE_DOCS=1).
    docs = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("TALENTMAP_UPDATE_DOCS") == "1":
        from browser import artifacts_dir

        docs.mkdir(parents=True, exist_ok=True)
        # the French main page with its "what changed" section, and a company page
        for artefact, name in (("changes-fr", "talentmap-main-fr"), ("company-fr", "company-fr")):
            source = artifacts_dir() / f"{artefact}.png"
            if source.is_file():
                (docs / f"{name}.png").write_bytes(source.read_bytes())
    for name in ("talentmap-main-fr", "company-fr"):
        assert (docs / f"{name}.png").is_file(), f"docs/screenshots/{name}.png missing"
