"""Watchlists: event derivation, the SQLite store (forget, several processes), the Atom
feed (parsed by feedparser, as a feed reader would) and HTTP Basic on feed routes only.

Rankings here are plain lists turned into ``RankingView``s; ``test_view_of_a_real_ranking``
checks the adapter over a real ``Ranking``.
"""

from __future__ import annotations

import base64
import multiprocessing
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import feedparser
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from talentmap.serving.auth import GuardMiddleware, KeyRing, basic_auth_path, hash_key, new_key
from talentmap.serving.watch_events import (
    Filters,
    RankingView,
    Round,
    Row,
    derive,
    diff_ranks,
)
from talentmap.serving.watch_feed import render_feed
from talentmap.serving.watchlists import NotFoundError, WatchlistError, WatchlistStore
from talentmap.settings.serving import ApiKeyEntry

AS_OF = date(2025, 6, 30)
REGIONS = ("Bretagne", "Occitanie")


def rows_of(order: Sequence[str]) -> list[Row]:
    """Companies in rank order; region alternates, sector by the id's last digit."""
    return [
        Row(o, i + 1, f"Company {o}", REGIONS[int(o[1:]) % 2], f"s{int(o[1:]) % 3}")
        for i, o in enumerate(order)
    ]


def make_view(
    ranking_id: str,
    order: Sequence[str],
    as_of: date = AS_OF,
    opted_out: Sequence[str] = (),
    rounds: Sequence[Round] = (),
) -> RankingView:
    gone = set(opted_out)
    rows = [r for r in rows_of(order) if r.org_id not in gone]
    rows = [Row(r.org_id, i + 1, r.name, r.region, r.sector) for i, r in enumerate(rows)]

    def shortlist(filters: Filters) -> list[Row]:
        picked = [
            r
            for r in rows
            if (filters.region is None or r.region == filters.region)
            and (filters.sector is None or r.sector == filters.sector)
        ]
        return picked[: filters.k or 0]

    return RankingView(
        ranking_id=ranking_id,
        as_of=as_of,
        shortlist=shortlist,
        lookup=lambda o: next((r for r in rows if r.org_id == o), None),
        opted_out=frozenset(gone),
        rounds=lambda ids: [r for r in rounds if r.org_id in ids and r.announced_on <= as_of],
    )


ORDER_1 = [f"c{i}" for i in range(1, 41)]  # c1 .. c40


def test_diff_ranks() -> None:
    change = diff_ranks({"a": 1, "b": 2, "c": 3}, {"b": 1, "d": 2, "a": 3})
    assert change.entrants == ["d"] and change.leavers == ["c"]
    assert change.moves == [("b", 2, 1), ("a", 1, 3)]


def test_a_new_watchlist_reports_nothing_then_entries_exits_and_moves() -> None:
    filters = Filters(k=5)
    events, state = derive("w", filters, {}, None, make_view("r1", ORDER_1), threshold=3)
    assert events == []
    assert state.shortlist == {"c1": 1, "c2": 2, "c3": 3, "c4": 4, "c5": 5}
    # c30 jumps to the top; c5 falls out; c1 falls to rank 2 (a move of 1: below threshold)
    order_2 = ["c30", *[o for o in ORDER_1 if o != "c30"]]
    events, state2 = derive("w", filters, {}, state, make_view("r2", order_2), threshold=3)
    kinds = {(e.kind, e.org_id) for e in events}
    assert kinds == {("entry", "c30"), ("exit", "c5")}
    entry = next(e for e in events if e.kind == "entry")
    assert entry.details == {
        "scope": "shortlist",
        "name": "Company c30",
        "region": "Bretagne",
        "sector": "s0",
        "rank": 1,
        "previous_rank": None,
    }
    leaving = next(e for e in events if e.kind == "exit")
    assert leaving.details["previous_rank"] == 5 and leaving.details["rank"] == 6
    assert leaving.details["name"] == "Company c5"
    # a move beyond the threshold inside the shortlist
    order_3 = ["c30", "c4", "c1", "c2", "c3", *ORDER_1[4:29], *ORDER_1[30:]]
    events, _ = derive("w", Filters(k=5), {}, state2, make_view("r3", order_3), threshold=2)
    assert {(e.kind, e.org_id) for e in events} == {("move", "c4")}
    moved = events[0].details
    assert (moved["previous_rank"], moved["rank"]) == (5, 2)


def test_filters_select_the_shortlist() -> None:
    filters = Filters(region="Occitanie", sector="s1", k=2)
    _, state = derive("w", filters, {}, None, make_view("r1", ORDER_1), threshold=1)
    assert list(state.shortlist) == ["c1", "c7"]  # odd ids in Occitanie, id % 3 == 1


def test_followed_companies_move_leave_and_raise_rounds() -> None:
    rounds = [
        Round("old", "c20", date(2024, 1, 1), "seed", 500_000.0),
        Round("new", "c20", date(2025, 9, 1), "series_a", 3_000_000.0),
        Round("late", "c20", date(2026, 2, 1), "series_b", None),  # after the 2nd as_of
    ]
    followed = {"c20": AS_OF.isoformat(), "c33": AS_OF.isoformat()}
    first = make_view("r1", ORDER_1, rounds=rounds)
    events, state = derive("w", Filters(), followed, None, first, threshold=5)
    assert events == [] and state.followed == {"c20": 20, "c33": 33}
    assert state.rounds == {"c20": ["old"], "c33": []}  # known when followed: not news
    later = date(2025, 12, 31)
    order_2 = ["c20", *[o for o in ORDER_1 if o not in ("c20", "c33")]]  # c33 unranked
    second = make_view("r2", order_2, as_of=later, rounds=rounds)
    events, state = derive("w", Filters(), followed, state, second, threshold=5)
    found = {(e.kind, e.org_id): e.details for e in events}
    assert set(found) == {("round", "c20"), ("move", "c20"), ("exit", "c33")}
    assert found[("round", "c20")]["round_type"] == "series_a"
    assert found[("round", "c20")]["announced_on"] == "2025-09-01"
    assert found[("move", "c20")]["previous_rank"] == 20 and found[("move", "c20")]["rank"] == 1
    assert found[("exit", "c33")]["name"] == "Company c33"  # named from the previous state
    # the same round is not reported twice
    events, _ = derive(
        "w", Filters(), followed, state, make_view("r3", order_2, later, rounds=rounds), 5
    )
    assert [e for e in events if e.kind == "round"] == []


def test_a_round_that_arrives_late_is_news_whatever_its_date() -> None:
    followed = ["c2"]
    _, state = derive("w", Filters(), followed, None, make_view("r1", ORDER_1), 5)
    assert state.rounds == {"c2": []}
    late = [Round("x", "c2", date(2025, 6, 1), "seed", None)]  # dated before following
    events, state = derive(
        "w", Filters(), followed, state, make_view("r2", ORDER_1, rounds=late), 5
    )
    assert [(e.kind, e.details["announced_on"]) for e in events] == [("round", "2025-06-01")]
    events, _ = derive("w", Filters(), followed, state, make_view("r3", ORDER_1, rounds=late), 5)
    assert events == []


def test_following_records_what_is_known_then(tmp_path: Path) -> None:
    store = WatchlistStore(tmp_path / "w.sqlite")
    known = [Round("old", "c7", date(2024, 1, 1), "seed", 100_000.0)]
    first = make_view("r1", ORDER_1, rounds=known)
    made = store.create("alice", "mine", Filters(), view=first)
    store.sync(first, 1)
    store.add_company("alice", made.id, "c7", view=first)  # its round "old" is known
    news = [*known, Round("new", "c7", date(2025, 3, 1), "seed", None)]
    store.sync(make_view("r2", ["c7", *ORDER_1], rounds=news), 3)
    found = {
        (e.kind, e.org_id, e.details.get("announced_on")) for e in store.events("alice", made.id)
    }
    assert found == {("round", "c7", "2025-03-01"), ("move", "c7", None)}


def test_an_opted_out_company_is_gone_not_a_leaver() -> None:
    followed = {"c2": AS_OF.isoformat()}
    _, state = derive("w", Filters(k=5), followed, None, make_view("r1", ORDER_1), 1)
    events, state = derive(
        "w", Filters(k=5), followed, state, make_view("r2", ORDER_1, opted_out=["c2"]), 1
    )
    assert all(e.org_id != "c2" for e in events)
    assert "c2" not in state.shortlist and "c2" not in state.followed and "c2" not in state.shown
    assert {(e.kind, e.org_id) for e in events} == {("entry", "c6")} | {
        ("move", o) for o in ("c3", "c4", "c5")
    }


def test_event_ids_are_deterministic() -> None:
    _, state = derive("w", Filters(k=3), {}, None, make_view("r1", ORDER_1), 1)
    view = make_view("r2", list(reversed(ORDER_1)))
    first, _ = derive("w", Filters(k=3), {}, state, view, 1)
    again, _ = derive("w", Filters(k=3), {}, state, view, 1)
    assert [e.id for e in first] == [e.id for e in again] and len(first) == 6
    other, _ = derive("v", Filters(k=3), {}, state, view, 1)
    assert not {e.id for e in first} & {e.id for e in other}


# ---------------------------------------------------------------------- the store


def test_crud_is_per_holder(tmp_path: Path) -> None:
    store = WatchlistStore(tmp_path / "w.sqlite", max_per_holder=2, max_companies=2)
    made = store.create("alice", "Bretagne fintech", Filters(region="Bretagne", k=10), ["c1"])
    assert (tmp_path / "w.sqlite").stat().st_mode & 0o777 == 0o600
    assert [w.name for w in store.list("alice")] == ["Bretagne fintech"]
    assert store.list("bob") == []
    with pytest.raises(NotFoundError):
        store.get("bob", made.id)
    with pytest.raises(NotFoundError):
        store.delete("bob", made.id)
    with pytest.raises(WatchlistError, match="already have"):
        store.create("alice", "Bretagne fintech", Filters())
    store.create("bob", "Bretagne fintech", Filters())  # names are per holder
    store.add_company("alice", made.id, "c2")
    store.add_company("alice", made.id, "c2")  # idempotent
    with pytest.raises(WatchlistError, match="at most 2 companies"):
        store.add_company("alice", made.id, "c3")
    assert store.remove_company("alice", made.id, "c1").companies == ("c2",)
    renamed = store.update("alice", made.id, "Bretagne", Filters(region="Bretagne", k=5))
    assert renamed.name == "Bretagne" and renamed.filters.k == 5
    store.create("alice", "second", Filters())
    with pytest.raises(WatchlistError, match="at most 2 watchlists"):
        store.create("alice", "third", Filters())
    store.delete("alice", made.id)
    assert [w.name for w in store.list("alice")] == ["second"]


def test_sync_derives_once_per_ranking_and_never_back(tmp_path: Path) -> None:
    store = WatchlistStore(tmp_path / "w.sqlite")
    first = make_view("r1", ORDER_1)
    made = store.create("alice", "top", Filters(k=3), view=first)
    assert store.sync(first, 1) == 0
    assert store.sync(first, 1) is None
    second = make_view("r2", ["c9", *ORDER_1])
    assert store.sync(second, 1) == 4
    assert store.sync(second, 1) is None
    # a worker that still serves r1 derives nothing (r1 was seen): no flapping
    assert store.sync(first, 1) is None
    events = store.events("alice", made.id)
    assert sorted((e.kind, e.org_id) for e in events) == [
        ("entry", "c9"),
        ("exit", "c3"),
        ("move", "c1"),
        ("move", "c2"),
    ]
    assert {e.ranking_id for e in events} == {"r2"}
    assert {e.previous_ranking_id for e in events} == {"r1"}
    with pytest.raises(NotFoundError):
        store.events("bob", made.id)


def test_forget_removes_a_company_from_every_list_state_and_feed(tmp_path: Path) -> None:
    store = WatchlistStore(tmp_path / "w.sqlite")
    first = make_view("r1", ORDER_1)
    a = store.create("alice", "top", Filters(k=3), ["c9"], view=first)
    b = store.create("bob", "mine", Filters(), ["c9", "c10"], view=first)
    store.sync(first, 1)
    store.sync(make_view("r2", ["c9", *ORDER_1]), 1)
    assert any(e.org_id == "c9" for e in store.events("alice", a.id))
    assert store.forget(["c9"]) == {"companies": 2, "events": 2}
    assert all(e.org_id != "c9" for e in store.events("alice", a.id))
    assert store.get("bob", b.id).companies == ("c10",)
    with store._read() as db:
        states = [r[0] for r in db.execute("SELECT state FROM watchlists")]
    assert all('"c9"' not in s for s in states), states


def test_an_opt_out_seen_in_a_ranking_purges_the_store(tmp_path: Path) -> None:
    store = WatchlistStore(tmp_path / "w.sqlite")
    first = make_view("r1", ORDER_1)
    made = store.create("alice", "mine", Filters(), ["c4", "c5"], view=first)
    store.sync(first, 1)
    store.sync(make_view("r2", ORDER_1, opted_out=["c4"]), 1)
    assert store.get("alice", made.id).companies == ("c5",)
    events = store.events("alice", made.id)  # c5 moved up a rank; c4 is simply gone
    assert [(e.kind, e.org_id) for e in events] == [("move", "c5")]


def _worker(path: str, holder: str, barrier: Any, results: Any) -> None:
    store = WatchlistStore(Path(path))
    barrier.wait()
    for i in range(5):
        store.create(holder, f"list {i}", Filters(k=3), ["c20"], view=make_view("r1", ORDER_1))
    barrier.wait()
    results.put(store.sync(make_view("r2", ["c9", "c20", *ORDER_1]), 1))


def test_several_processes_share_the_store(tmp_path: Path) -> None:
    """Four worker processes create lists at once, then all see the same new ranking:
    every list is kept and its events are derived exactly once."""
    path = tmp_path / "w.sqlite"
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(4), context.Queue()
    workers = [
        context.Process(target=_worker, args=(str(path), f"holder{i}", barrier, results))
        for i in range(4)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    made = sorted((results.get(timeout=10) for _ in workers), key=lambda x: x is not None)
    assert made == [None, None, None, 100]  # one worker derived them all: 20 lists x 5
    store = WatchlistStore(path)
    lists = [w for i in range(4) for w in store.list(f"holder{i}")]
    assert len(lists) == 20
    for found in lists:
        events = store.events(found.holder, found.id)
        assert sorted((e.kind, e.org_id) for e in events) == [
            ("entry", "c20"),
            ("entry", "c9"),
            ("exit", "c2"),
            ("exit", "c3"),
            ("move", "c1"),
        ]
    with store._read() as db:
        assert db.execute("SELECT COUNT(*) FROM rankings_seen").fetchone()[0] == 1


# ---------------------------------------------------------------------- the feed


def test_the_atom_feed_parses_and_says_only_what_the_shortlist_shows(tmp_path: Path) -> None:
    store = WatchlistStore(tmp_path / "w.sqlite")
    rounds = [Round("r-x", "c20", date(2025, 9, 1), "series_a", 2_500_000.0)]
    first = make_view("r1", ORDER_1)
    made = store.create("alice", "Occitanie <top>", Filters(k=3), ["c20"], view=first)
    store.sync(first, 1)
    store.sync(make_view("r2", ["c9", *ORDER_1], date(2025, 12, 31), rounds=rounds), 1)
    events = store.events("alice", made.id)
    base = "http://127.0.0.1:3000/"
    for lang, words in (("fr", "nouvelle levée"), ("en", "new round")):
        text = render_feed(made, events, base, lang)
        parsed = feedparser.parse(text)
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert parsed.version == "atom10"
        feed = parsed.feed
        assert feed.id == f"urn:uuid:{made.id}"
        assert "Occitanie <top>" in feed.title  # escaped in XML, read back
        assert feed.updated_parsed is not None
        links = {link.rel: link.href for link in feed.links}
        assert links["self"] == f"{base}watchlists/{made.id}/feed.atom?lang={lang}"
        assert links["alternate"].startswith(base)
        assert len(parsed.entries) == len(events) >= 5
        ids = [e.id for e in parsed.entries]
        assert len(set(ids)) == len(ids) and all(i.startswith("urn:uuid:") for i in ids)
        for entry in parsed.entries:
            assert entry.updated_parsed is not None and entry.title and entry.summary
            assert entry.link.startswith(f"{base}company/")
        assert any(words in e.title for e in parsed.entries)
        assert "Person" not in text.decode() and "founder" not in text.decode().lower()
    # rendering is stable between polls
    assert render_feed(made, events, base, "en") == render_feed(made, events, base, "en")
    hidden = render_feed(made, events, base, "en", hidden=frozenset({"c9"}))
    assert (
        "Company c9" not in hidden.decode()
        and "Company c9" in render_feed(made, events, base, "en").decode()
    )


def test_an_empty_feed_is_valid(tmp_path: Path) -> None:
    store = WatchlistStore(tmp_path / "w.sqlite")
    made = store.create("alice", "empty", Filters())
    parsed = feedparser.parse(render_feed(made, [], "http://h/", "fr"))
    assert not parsed.bozo and parsed.entries == [] and parsed.feed.updated_parsed


# ---------------------------------------------------------------------- HTTP Basic

KEY = new_key()
RING = KeyRing([ApiKeyEntry(name="alice", role="staff", sha256=hash_key(KEY))])


def _client() -> TestClient:
    async def ok(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[
            Route("/watchlists/{w}/feed.atom", ok),
            Route("/watchlists", ok),
            Route("/shortlist", ok),
        ]
    )
    guarded = GuardMiddleware(
        app, keyring=lambda: RING, max_body_bytes=lambda: 1024, readiness=lambda: (True, "ok")
    )
    return TestClient(guarded)


def _basic(user: str, key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode()}


def test_feeds_take_the_key_as_basic_password_and_nothing_else_does() -> None:
    client = _client()
    assert basic_auth_path("/watchlists/abc/feed.atom")
    assert not basic_auth_path("/watchlists/abc") and not basic_auth_path("/shortlist")
    assert client.get("/watchlists/abc/feed.atom", headers=_basic("alice", KEY)).status_code == 200
    assert client.get("/watchlists/abc/feed.atom", headers=_basic("any", KEY)).status_code == 200
    bearer = {"Authorization": f"Bearer {KEY}"}
    assert client.get("/watchlists/abc/feed.atom", headers=bearer).status_code == 200
    refused = client.get("/watchlists/abc/feed.atom", headers=_basic("alice", KEY + "x"))
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic")  # readers then ask
    assert (
        client.get("/watchlists/abc/feed.atom", headers={"Authorization": "Basic %%%"}).status_code
        == 401
    )
    for path in ("/watchlists", "/shortlist"):
        answer = client.get(path, headers=_basic("alice", KEY))
        assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer")


# ---------------------------------------------------------------------- a real ranking


def test_view_of_a_real_ranking() -> None:
    """``watch_ranking.view`` over a real ``Ranking``: a watchlist's shortlist is what
    ``/shortlist`` gives for the same filters, age counted back from the ranking's date."""
    import numpy as np
    import pandas as pd
    from fixtures.toy_rows import toy_training_rows

    from talentmap.serving.ranking import OptOuts, RankingLineage, build_ranking
    from talentmap.serving.watch_ranking import view, years_before
    from talentmap.settings.model import ModelConfig
    from talentmap.training.model.estimator import PromiseModel

    features = ["n_rounds", "days_since_last_round", "headcount_growth_12m", "n_founders_phd"]
    frame, y, as_of = toy_training_rows(seed=3, n_dates=8, per_date=100)
    model = PromiseModel(ModelConfig(num_threads=1, n_estimators=20), features=features)
    model.fit(frame, y, as_of)
    n = 120
    ids = [f"org-{i:04d}" for i in range(n)]
    current = frame.tail(n).reset_index(drop=True).assign(org_id=ids)
    rng = np.random.default_rng(1)
    orgs = pd.DataFrame(
        {
            "org_id": ids,
            "name": [f"Company {i}" for i in range(n)],
            "country": "FR",
            "region": np.array(["Bretagne", "Occitanie"], dtype=object)[np.arange(n) % 2],
            "sector": np.array(["fintech", "saas"], dtype=object)[np.arange(n) % 2],
            "founded_on": pd.to_datetime("2016-01-01")
            + pd.to_timedelta(rng.integers(0, 3500, n), unit="D"),
        }
    )
    lineage = RankingLineage("m", "1", "run", "snap", "lake", date(2025, 12, 31), "rid")
    ranking = build_ranking(
        model, current, {"organizations": orgs}, lineage, OptOuts(frozenset({"org-0003"}))
    )
    seen = view(ranking, Path("/nonexistent-lake"))
    assert seen.ranking_id == "rid" and seen.opted_out == frozenset({"org-0003"})
    filters = Filters(region="Occitanie", sector="saas", max_age_years=5, k=7)
    rows, _ = ranking.select(
        k=7, region="Occitanie", sector="saas", founded_after=date(2020, 12, 31)
    )
    listed = seen.shortlist(filters)
    assert [r.org_id for r in listed] == [str(ranking.org_ids[r]) for r in rows] and listed
    assert [r.rank for r in listed] == [int(r) + 1 for r in rows]
    assert seen.shortlist(Filters()) == []  # no k: companies only
    top = seen.lookup(listed[0].org_id)
    assert top == listed[0] and seen.lookup("org-0003") is None
    assert seen.rounds([listed[0].org_id]) == []  # no lake: no rounds, no error
    assert years_before(date(2024, 2, 29), 1) == date(2023, 2, 28)


def test_talentmap_forget_purges_the_watchlists_without_a_service(tmp_path: Path) -> None:
    from talentmap.app.forget import forget
    from talentmap.serving.watchlists import store_for
    from talentmap.settings import Settings

    settings = Settings(home=tmp_path)
    store = store_for(settings)
    assert store.path == tmp_path / "data" / "serving" / "watchlists.sqlite"
    first = make_view("r1", ORDER_1)
    made = store.create("alice", "mine", Filters(k=3), ["c4", "c5"], view=first)
    store.sync(first, 1)
    store.sync(make_view("r2", ["c5", *ORDER_1]), 1)
    assert any(e.org_id == "c5" for e in store.events("alice", made.id))
    outcome = forget(settings, org_ids=["c5"])
    assert outcome.watchlists == {"companies": 1, "events": 1}  # c5 entered the top 3
    assert store.get("alice", made.id).companies == ("c4",)
    assert all(e.org_id != "c5" for e in store.events("alice", made.id))


def test_changing_the_filters_is_not_news(tmp_path: Path) -> None:
    store = WatchlistStore(tmp_path / "w.sqlite")
    first = make_view("r1", ORDER_1)
    made = store.create("alice", "top", Filters(k=3), view=first)
    store.sync(first, 1)
    store.update("alice", made.id, None, Filters(region="Occitanie", k=3))
    second = make_view("r2", ORDER_1)  # same order: only the watchlist's filters changed
    assert store.sync(second, 1) == 0
    third = make_view("r3", ["c9", *ORDER_1])  # c9 (Occitanie) enters its new top 3
    store.sync(third, 1)
    found = sorted((e.kind, e.org_id) for e in store.events("alice", made.id))
    assert found == [("entry", "c9"), ("exit", "c5"), ("move", "c1"), ("move", "c3")]
