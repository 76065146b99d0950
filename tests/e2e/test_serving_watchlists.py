"""Watchlists over HTTP against the real server (2 workers) and the real retrain chain.

A world goes through ``talentmap retrain`` (publish included); the real server starts with
two workers and the poller off. Over HTTP, a staff member makes a watchlist of the top 10
that also follows a few companies just below it. New data then arrives (funding rounds for
those companies, dated before the snapshot date, so they arrive late) and a second retrain publishes a new
ranking. The feed, polled as a feed reader does (the key as the HTTP Basic password),
then shows:

- exactly the entries, exits and moves that ``/shortlist`` before and after implies;
- a ``round`` entry for each followed company's new round;

and it is valid Atom (feedparser), stable between polls, free of the key and of founders'
names, private to its holder, and a forgotten company leaves it at once.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
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

from talentmap.generate.world import generate_world
from talentmap.serving.auth import hash_key
from talentmap.settings import Settings
from talentmap.settings.model import ModelConfig
from talentmap.settings.training import TrainingConfig
from talentmap.training.pipeline.retrain import retrain

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STAFF = {"Authorization": f"Bearer {STAFF_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
K = 10
THRESHOLD = 2
NEW_ROUND_DAY = "2025-12-15"  # before the world's snapshot date (2025-12-31)


def _settings(home: Path) -> Settings:
    return Settings(home=home, training=TrainingConfig(model=ModelConfig(num_threads=1)))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    home = tmp_path_factory.mktemp("watch-home")
    data = home / "world"
    generate_world(data, WORLD_ORGS, WORLD_SEED)
    settings = _settings(home)
    outcome = retrain(settings, data)
    assert outcome.promoted, outcome.decision_reason
    keys = [
        {"name": "staff-tester", "role": "staff", "sha256": hash_key(STAFF_KEY)},
        {"name": "admin-tester", "role": "admin", "sha256": hash_key(ADMIN_KEY)},
    ]
    env = {
        "TALENTMAP_HOME": str(home),
        "TALENTMAP_SERVING__API_KEYS": json.dumps(keys),
        "TALENTMAP_SERVING__RELOAD_POLL_SECONDS": "0",
        "TALENTMAP_SERVING__WORKERS": "2",
        "TALENTMAP_SERVING__RATE_LIMIT_PER_MINUTE": "0",
        "TALENTMAP_SERVING__WATCHLISTS__MOVE_THRESHOLD": str(THRESHOLD),
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
        base_url=server.url, timeout=120, limits=httpx.Limits(max_keepalive_connections=0)
    ) as http:
        yield http


def _top(client: httpx.Client, k: int) -> dict[str, dict[str, Any]]:
    response = client.post(
        "/shortlist", json={"k": k, "include_explanations": False}, headers=STAFF
    )
    assert response.status_code == 200, response.text
    return {c["org_id"]: c for c in response.json()["candidates"]}


def _add_rounds(data: Path, org_ids: list[str]) -> None:
    path = data / "funding_rounds.csv"
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC)
        for i, org in enumerate(org_ids):
            # a seed round (not a milestone: the company stays a candidate)
            writer.writerow([f"rnd-watch-{i:04d}", org, NEW_ROUND_DAY, "seed", 400_000, 2])


def _feed(client: httpx.Client, watchlist_id: str, lang: str = "en") -> tuple[bytes, Any]:
    response = client.get(
        f"/watchlists/{watchlist_id}/feed.atom",
        params={"lang": lang},
        auth=("staff-tester", STAFF_KEY),  # what a feed reader sends
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return response.content, parsed


def test_a_new_ranking_makes_the_feed_show_its_events(server: Server, client: httpx.Client) -> None:
    before = _top(client, 1000)
    order = list(before)
    followed = order[K : K + 3]  # just below the watched top 10
    made = client.post(
        "/watchlists",
        json={"name": "Top 10 France", "k": K, "companies": followed},
        headers=STAFF,
    )
    assert made.status_code == 201, made.text
    watchlist = made.json()
    assert watchlist["companies"] == followed and watchlist["filters"]["k"] == K
    assert client.get("/watchlists", headers=STAFF).json()["watchlists"][0]["id"] == watchlist["id"]
    _, parsed = _feed(client, watchlist["id"])
    assert parsed.entries == []  # nothing happened yet

    # New data: a round for each followed company; then the retrain chain publishes.
    _add_rounds(server.world.home / "world", followed)
    outcome = retrain(server.world.settings, server.world.home / "world", force=True)
    assert not outcome.skipped

    text, parsed = _feed(client, watchlist["id"])  # follows the publish, derives the events
    after = _top(client, 1000)
    top_before = {o: before[o]["rank"] for o in order[:K]}
    top_after = {o: c["rank"] for o, c in list(after.items())[:K]}
    expected = {("entry", o) for o in top_after if o not in top_before}
    expected |= {("exit", o) for o in top_before if o not in top_after}
    expected |= {
        ("move", o)
        for o in top_after
        if o in top_before and abs(top_after[o] - top_before[o]) >= THRESHOLD
    }
    # followed companies outside the shortlist's events: moves beyond the threshold
    in_list = {o for _, o in expected}
    ranks_after = {o: c["rank"] for o, c in after.items()}
    for org in followed:
        if org in in_list:
            continue
        now = ranks_after.get(org)
        if now is None:
            expected.add(("exit", org))
        elif abs(now - before[org]["rank"]) >= THRESHOLD:
            expected.add(("move", org))
    expected |= {("round", o) for o in followed}
    found = {(e.tags[0].term, e.link.rsplit("/", 1)[1].split("?")[0]) for e in parsed.entries}
    assert found == expected
    rounds = [e for e in parsed.entries if e.tags[0].term == "round"]
    assert rounds and all("new round (seed, 2025-12-15)" in e.title for e in rounds)

    # What a feed reader relies on: stable ids and dates, absolute links, no key, no founder
    again, _ = _feed(client, watchlist["id"])
    assert again == text
    feed = parsed.feed
    assert feed.id == f"urn:uuid:{watchlist['id']}" and feed.updated_parsed
    self_link = next(link.href for link in feed.links if link.rel == "self")
    assert self_link == f"{server.url}/watchlists/{watchlist['id']}/feed.atom?lang=en"
    for entry in parsed.entries:
        assert entry.id.startswith("urn:uuid:") and entry.updated_parsed
        assert entry.link.startswith(f"{server.url}/company/")
    assert STAFF_KEY.encode() not in text
    founders = {f["name"] for c in after.values() for f in c["founders"]}
    assert founders and not any(name.encode() in text for name in founders)
    french = _feed(client, watchlist["id"], "fr")[1]
    assert french.feed.language == "fr" and {e.id for e in french.entries} == {
        e.id for e in parsed.entries
    }

    # The JSON route says the same; the holder alone sees the list.
    detail = client.get(f"/watchlists/{watchlist['id']}", headers=STAFF).json()
    assert {(e["kind"], e["org_id"]) for e in detail["events"]} == expected
    other = client.get(f"/watchlists/{watchlist['id']}/feed.atom", auth=("x", ADMIN_KEY))
    assert other.status_code == 404
    assert client.get(f"/watchlists/{watchlist['id']}/feed.atom").status_code == 401
    assert client.get("/watchlists", headers=ADMIN).json() == {"watchlists": []}

    # Forget: the company leaves the watchlist and every feed entry at once.
    gone = followed[0]
    forgot = client.post("/admin/forget", json={"org_ids": [gone]}, headers=ADMIN)
    assert forgot.status_code == 200, forgot.text
    listing = client.get(f"/watchlists/{watchlist['id']}", headers=STAFF).json()
    assert gone not in listing["companies"]
    assert all(e["org_id"] != gone for e in listing["events"])
    text, parsed = _feed(client, watchlist["id"])
    assert gone.encode() not in text and before[gone]["name"].encode() not in text
    assert len(parsed.entries) == len(expected) - sum(1 for _, o in expected if o == gone)

    # Bad input is a 4xx with a message; delete works.
    bad = client.post("/watchlists", json={"name": "x", "k": 0}, headers=STAFF)
    assert bad.status_code == 400 and "k" in bad.json()["error"]
    unknown = client.post(
        f"/watchlists/{watchlist['id']}/companies", json={"org_id": "nope"}, headers=STAFF
    )
    assert unknown.status_code == 404
    assert client.delete(f"/watchlists/{watchlist['id']}", headers=STAFF).status_code == 200
    assert client.get(f"/watchlists/{watchlist['id']}", headers=STAFF).status_code == 404


EXPECTED_ENTRY = {"fr": "entre dans la liste", "en": "enters the list"}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_page_creates_a_watchlist_and_reads_its_feed(
    server: Server, client: httpx.Client, lang: str
) -> None:
    """In Chromium: save the current filters as a watchlist, follow a company from a
    shortlist row, then (after a forget changes the served ranking) read the list's
    events in the page and its feed through the page's link; axe and Tab checks."""
    from browser import assert_accessible, browser_page, log_in, save_screenshot, tab_to

    expect = pytest.importorskip("playwright.sync_api").expect

    with browser_page(server.url) as page:
        log_in(page, server.url, STAFF_KEY, lang=lang)
        page.locator("#watchlists-panel").wait_for()
        page.fill("#f-k", "5")
        page.locator("#filters button[type=submit]").click()
        # a locator assertion, not wait_for_function: the page's CSP forbids eval
        expect(page.locator("#shortlist tbody tr.row")).to_have_count(5)
        page.locator("#shortlist tbody tr.row .follow").first.wait_for()

        name = f"Top 5 ({lang})"
        tab_to(page, "#wl-name")
        page.keyboard.type(name)
        page.locator("#wl-create").click()
        item = page.locator("#watchlists li.watchlist", has_text=name)
        item.wait_for()
        row = page.locator("#shortlist tbody tr.row").nth(2)
        followed = row.get_attribute("data-org-id")
        tab_to(page, "#shortlist tbody tr.row:nth-of-type(1) .follow")
        row.locator(".follow").click()
        added = {"fr": "ajoutée à la liste", "en": "added to the list"}[lang]
        page.locator("#wl-status", has_text=added).wait_for()
        made = client.get("/watchlists", headers=STAFF).json()["watchlists"]
        mine = next(w for w in made if w["name"] == name)
        assert mine["companies"] == [followed] and mine["filters"]["k"] == 5

        # The served ranking changes: the top company is forgotten, number 6 enters.
        top = _top(client, 6)
        ids = list(top)
        first, sixth = ids[0], ids[5]
        forgot = client.post("/admin/forget", json={"org_ids": [first]}, headers=ADMIN)
        assert forgot.status_code == 200, forgot.text

        item = page.locator("#watchlists li.watchlist", has_text=name)
        item.locator("button[aria-expanded]").click()
        events = item.locator(".watchlist-events li")
        events.first.wait_for()
        assert events.count() == 1
        text = events.first.inner_text()
        assert EXPECTED_ENTRY[lang] in text and top[sixth]["name"] in text
        assert_accessible(page)
        tab_to(page, f"#watchlist-{mine['id']} .feed-link")
        save_screenshot(page, f"watchlists-{lang}")

        href = item.locator(".feed-link").get_attribute("href")
        assert href == f"/watchlists/{mine['id']}/feed.atom?lang={lang}"
        answer = httpx.get(server.url + href, auth=("staff-tester", STAFF_KEY), timeout=60)
        assert answer.status_code == 200
        parsed = feedparser.parse(answer.content)
        assert not parsed.bozo and len(parsed.entries) == 1
        assert EXPECTED_ENTRY[lang] in parsed.entries[0].title
        assert parsed.entries[0].link.endswith(f"/company/{sixth}?lang={lang}")

        item.locator("button", has_text={"fr": "Supprimer", "en": "Delete"}[lang]).click()
        page.locator("#watchlists li.watchlist", has_text=name).wait_for(state="detached")
