"""The published ranking (issue 10): its writer and reader, and the service state over it.

The toy world of ``test_serving_ranking`` is ranked by the publish step's code
(``batch_ranking.ranking_rows``), written with ``ranking_file.write_ranking`` into a
feature-tables folder, then read back as the service does (memory-mapped) — no Feast,
no MLflow. Two ``ServingState`` objects over one home stand for two workers.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from test_serving_ranking import CHAMPION, LINEAGE, world  # noqa: F401 (a fixture)

from talentmap.serving import state as state_module
from talentmap.serving.ranking import OptOuts, build_ranking, ranking_from_published
from talentmap.serving.state import ServingState
from talentmap.settings import Settings
from talentmap.settings.serving import ServingConfig
from talentmap.training.model.explain import sentence
from talentmap.training.pipeline import ranking_file
from talentmap.training.pipeline.batch_ranking import ranking_rows

TOP_N = 25
AS_OF = date(2025, 12, 31)


def _meta(ranking_id: str = "abcdef012345", version: str = "7") -> dict[str, Any]:
    return {
        "ranking_id": ranking_id,
        "model_name": "talent-promise",
        "model_version": version,
        "run_id": "run-1",
        "feature_snapshot_id": "snap-1",
        "lake_snapshot_id": "lake-1",
        "as_of": AS_OF.isoformat(),
        "reasons_top_n": TOP_N,
    }


def publish(world, tables_dir: Path, **meta: Any) -> Path:  # noqa: F811
    model, features, tables = world
    frame, founders, known = ranking_rows(model, features, tables, TOP_N)
    return ranking_file.write_ranking(tables_dir, frame, founders, known, _meta(**meta))


def test_the_files_shape_order_and_reasons_only_for_the_top_n(world, tmp_path: Path) -> None:  # noqa: F811
    folder = publish(world, tmp_path / "features")
    table = pq.read_table(folder / ranking_file.PARQUET_FILE)
    assert table.schema.equals(ranking_file.SCHEMA)
    frame = table.to_pandas()
    assert len(frame) == len(world[1]) - 1  # the lake's opted-out organisation is not ranked
    assert "org-0005" not in set(frame["org_id"])
    assert list(frame["rank"]) == list(range(1, len(frame) + 1))
    assert np.all(np.diff(frame["score"]) <= 0)
    top, rest = frame.iloc[:TOP_N], frame.iloc[TOP_N:]
    assert (
        top["reason_1"].notna().all() and rest[list(ranking_file.REASON_COLUMNS)].isna().all().all()
    )
    reason = json.loads(top["reason_1"].iloc[0])
    assert set(reason) == {"feature", "value", "contribution", "text"}
    # the Arrow copy the service maps is the same table; no person in the logged file
    mapped = ranking_file.read_ranking(tmp_path / "features")
    assert mapped is not None and mapped.table.equals(table)
    assert not {"person_id", "founders"} & set(frame.columns)
    founders = mapped.founders.to_pandas()
    assert "p6" not in set(founders["person_id"])  # opted out in the lake
    assert "org-0005" not in set(mapped.known.column("org_id").to_pylist())
    meta = json.loads((folder / ranking_file.META_FILE).read_text())
    assert meta["rows"] == len(frame) and meta["format"] == ranking_file.FORMAT


def test_publish_is_atomic(world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    tables_dir = tmp_path / "features"
    publish(world, tables_dir, ranking_id="first0000000")
    before = ranking_file.ranking_stamp(tables_dir)
    calls = {"n": 0}
    real = ranking_file.feather.write_feather

    def failing(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        real(*args, **kwargs)

    monkeypatch.setattr(ranking_file.feather, "write_feather", failing)
    with pytest.raises(OSError, match="disk full"):
        publish(world, tables_dir, ranking_id="second000000")
    monkeypatch.undo()
    kept = ranking_file.read_ranking(tables_dir)
    assert kept is not None and kept.meta["ranking_id"] == "first0000000"
    assert ranking_file.ranking_stamp(tables_dir) == before
    assert [p.name for p in tables_dir.iterdir()] == [ranking_file.FOLDER]  # no staging left
    publish(world, tables_dir, ranking_id="second000000")
    assert ranking_file.read_ranking(tables_dir).meta["ranking_id"] == "second000000"
    assert ranking_file.ranking_stamp(tables_dir) != before


def test_no_published_ranking_reads_as_none(tmp_path: Path) -> None:
    assert ranking_file.read_ranking(tmp_path) is None
    assert ranking_file.ranking_stamp(tmp_path) is None


def test_the_read_ranking_is_the_computed_one(world, tmp_path: Path) -> None:  # noqa: F811
    model, features, tables = world
    published = ranking_file.read_ranking(publish(world, tmp_path / "features").parent)
    fetched: list[list[str]] = []

    def fetch(ids: list[str]) -> pd.DataFrame:
        fetched.append(ids)
        return features.set_index("org_id").loc[ids].reset_index()

    read = ranking_from_published(
        published, model, LINEAGE, OptOuts.from_table(tables["opt_outs"]), fetch
    )
    built = build_ranking(model, features, tables, LINEAGE, precompute_reasons=0)
    assert list(read.org_ids) == list(built.org_ids)
    np.testing.assert_allclose(read.scores, built.scores)
    for r in (0, 1, 9, len(read) - 1):
        assert read.row(r) == built.row(r)
    assert read.reasons([0, 3]) == built.reasons([0, 3])  # from the file
    assert fetched == []
    assert read.reasons([TOP_N + 2]) == built.reasons([TOP_N + 2])  # below N: fetched
    assert fetched == [[read.org_ids[TOP_N + 2]]]


def test_reasons_read_from_the_file_are_worded_in_french_on_read(world, tmp_path: Path) -> None:  # noqa: F811
    # The file stores feature, value, contribution and the English text (any published
    # file so far): the French is worded on read from those parts, and the English kept.
    model, _, _ = world
    folder = publish(world, tmp_path / "features")
    stored = json.loads(pq.read_table(folder / ranking_file.PARQUET_FILE)["reason_1"][0].as_py())
    assert "texts" not in stored
    read = ranking_from_published(ranking_file.read_ranking(folder.parent), model, LINEAGE)
    first = read.reasons([0])[0][0]
    assert first["text"] == stored["text"] and first["texts"]["en"] == stored["text"]
    assert first["texts"]["fr"] == sentence(
        stored["feature"], stored["value"], stored["contribution"], "fr"
    )
    assert first["texts"]["fr"].endswith(("(fait monter le score)", "(fait baisser le score)"))


def test_forget_is_applied_on_read(world, tmp_path: Path) -> None:  # noqa: F811
    model, _, _ = world
    published = ranking_file.read_ranking(publish(world, tmp_path / "features").parent)
    full = ranking_from_published(published, model, LINEAGE)
    gone, kept = full.org_ids[0], full.org_ids[1]
    person = f"p{int(kept.split('-')[1])}"
    read = ranking_from_published(
        published, model, LINEAGE, OptOuts(frozenset([gone]), frozenset([person]))
    )
    assert gone not in set(read.org_ids) and read.org_ids[0] == kept
    assert read.row(0)["founders"] == [] and read.row(0)["rank"] == 1
    assert read.reasons([0]) == full.reasons([1])  # reasons follow the org, not the row
    assert len(read.without([kept])) == len(read) - 1  # forget at run time works too


# ---------------------------------------------------------------------- the state


@pytest.fixture()
def home(world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:  # noqa: F811
    model, features, _ = world
    settings = Settings(home=tmp_path)
    tables_dir = settings.feature_tables_dir
    publish(world, tables_dir)
    lineage = {"snapshot_id": "snap-1", "snapshot_date": AS_OF.isoformat(), "built_at": "t1"}
    (tables_dir / "snapshot.json").write_text(json.dumps(lineage))

    def online(settings: Settings, org_ids: Any, as_of: date, store: Any = None) -> pd.DataFrame:
        return features.set_index("org_id").loc[list(org_ids)].reset_index()

    def no_inputs(*args: Any) -> Any:
        raise AssertionError("a published ranking must not be recomputed")

    monkeypatch.setattr(state_module, "online_features", online)
    monkeypatch.setattr(state_module, "load_inputs", no_inputs)
    monkeypatch.setattr(state_module, "load_champion", lambda *args: (CHAMPION, model))
    monkeypatch.setattr(ServingState, "_open_store", lambda self: None)
    return settings


def _worker(settings: Settings) -> ServingState:
    state = ServingState(settings, ServingConfig(reload_poll_seconds=0))
    state.reload(trigger="test")
    return state


def test_the_state_serves_the_published_ranking(home: Settings) -> None:
    served = _worker(home).served
    assert served.source == "published" and served.build_seconds < 5
    assert served.ranking.lineage.feature_snapshot_id == "snap-1"
    assert served.ranking.ranking_id.startswith("abcdef012345")
    assert "org-0005" not in served.known_org_ids and "org-0004" in served.known_org_ids


def test_a_forget_through_one_worker_reaches_the_other(home: Settings) -> None:
    one, two = _worker(home), _worker(home)
    gone = one.served.ranking.org_ids[0]
    one.forget([gone], [])
    assert gone not in set(one.current().ranking.org_ids)
    seen = two.current()  # the next request of the other worker
    assert gone not in set(seen.ranking.org_ids) and gone not in seen.known_org_ids
    assert seen.ranking.ranking_id == one.current().ranking.ranking_id  # same id everywhere
    again = _worker(home).served  # a restart, or a reload, keeps it out
    assert gone not in set(again.ranking.org_ids)


def test_a_new_publish_is_followed(world, home: Settings) -> None:  # noqa: F811
    state = _worker(home)
    served = state.served
    assert not state.published_changed(served)
    publish(world, home.feature_tables_dir, ranking_id="fedcba987654")
    assert state.published_changed(served)
    state.follow_publish()
    assert state.served.ranking.ranking_id.startswith("fedcba987654")
    assert not state.published_changed(state.served)


def test_an_admin_reload_through_one_worker_reaches_the_other(home: Settings) -> None:
    one, two = _worker(home), _worker(home)
    before_one, before_two = one.served, two.served
    assert not two.reload_requested(before_two)  # at start-up: nothing to follow
    one.reload_everywhere(force=True, trigger="admin:test")
    assert one.served is not before_one  # rebuilt in the worker that answered...
    assert not one.reload_requested(one.served)  # ...which does not follow its own bump
    # Nor do its requests still holding the old ranking: they answer from it while this
    # worker reloads (hot reload), rather than each waiting for a reload of their own.
    assert not one.reload_requested(before_one)
    assert two.reload_requested(two.served)  # the other worker's next request sees it
    two.follow_reload()
    assert two.served is not before_two and two.served.loaded_at >= one.served.loaded_at
    assert not two.reload_requested(two.served)  # followed once, not on every request
    again = two.served
    two.follow_reload()
    assert two.served is again


def test_a_reload_without_force_is_recorded_as_followed(
    home: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state_module, "champion_version", lambda *args: CHAMPION.version)
    one, two = _worker(home), _worker(home)
    # Same champion, same features: nothing to rebuild, but the marker counts as seen.
    one.reload_everywhere(force=False, trigger="admin:test")
    assert not one.reload_requested(one.served)
    before = two.served
    two.follow_reload()
    assert two.served.ranking is before.ranking  # not rebuilt...
    assert not two.reload_requested(two.served)  # ...and not asked again on every request


def test_a_ranking_of_another_model_falls_back(
    world,  # noqa: F811
    home: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    publish(world, home.feature_tables_dir, version="6")  # an older champion's list
    computed = []
    monkeypatch.setattr(
        ServingState, "_build_computed", lambda self, c, m: computed.append(c) or _stub(self)
    )
    with caplog.at_level("INFO", logger="talentmap.serving"):
        state = ServingState(home, ServingConfig(reload_poll_seconds=0))
        state.reload(trigger="test")
    assert computed and "produced by version 6" in caplog.text
    assert not state.published_changed(state.served)  # no reload storm on every request


def _stub(state: ServingState) -> Any:
    published = ranking_file.read_ranking(state.settings.feature_tables_dir)
    from talentmap.serving.state import Served

    ranking = ranking_from_published(published, None, LINEAGE)  # type: ignore[arg-type]
    return Served(CHAMPION, ranking, frozenset(), 0.0, 0.0)


def test_the_state_reads_the_lineage_file_features_writes() -> None:
    from talentmap.features.store import SNAPSHOT_FILE

    assert state_module.LINEAGE_FILE == SNAPSHOT_FILE


def test_the_champion_cache_names_the_model_file_the_estimator_writes() -> None:
    from talentmap.serving import champion
    from talentmap.training.model.estimator import META_FILE

    assert champion.META_FILE == META_FILE


# ---------------------------------------------------------------------- fast start


def test_the_file_is_served_before_the_registry_is_asked(
    world,  # noqa: F811
    home: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model, _, _ = world
    state = ServingState(home, ServingConfig(reload_poll_seconds=0))
    seen: list[Any] = []
    loaded: list[str] = []

    def registry(*args: Any) -> Any:  # what the service serves when it asks the registry
        seen.append((state.served, state.readiness()))
        return CHAMPION, model

    monkeypatch.setattr(state_module, "load_champion", registry)
    monkeypatch.setattr(
        state_module,
        "load_version",
        lambda target, info, cache: loaded.append(info.version) or model,
    )
    state._run()  # start-up: the fast start, then the registry (the poller is off)
    ((early, (ready, why)),) = seen
    assert early is not None and ready and why == "ok"  # ready before the registry answered
    assert early.source == "published" and early.champion.source == "published"
    assert early.champion.version == "7" and early.champion.run_id == "run-1"
    assert early.ranking.ranking_id.startswith("abcdef012345")
    assert loaded == []  # the model is not loaded to serve the file...
    assert early.ranking.model is model and loaded == ["7"]  # ...but on first use
    confirmed = state.served
    assert confirmed is not early and confirmed.champion.source == "registry"
    assert confirmed.ranking.ranking_id == early.ranking.ranking_id  # the same list
    assert confirmed.ranking._base is early.ranking._base  # its indexes are not rebuilt
    assert [r["org_id"] for r in confirmed.ranking.rows(range(5))] == [
        r["org_id"] for r in early.ranking.rows(range(5))
    ]


def test_an_unconfirmed_champion_keeps_the_file_with_a_warning(
    home: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(*args: Any) -> Any:
        raise RuntimeError("registry down")

    monkeypatch.setattr(state_module, "load_champion", unreachable)
    state = ServingState(home, ServingConfig(reload_poll_seconds=0))
    state._run(sleep=lambda seconds: True)  # one attempt, then stop
    ready, why = state.readiness()
    assert ready and "has not confirmed the champion yet" in why and "registry down" in why
    assert state.served.source == "published" and not state.confirmed


def test_no_fast_start_without_a_published_file(
    home: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    shutil.rmtree(ranking_file.folder_of(home.feature_tables_dir))
    state = ServingState(home, ServingConfig(reload_poll_seconds=0))
    assert not state.start_from_published() and state.served is None


# ---------------------------------------------------------------------- background follow


def test_another_workers_reload_is_followed_in_the_background(
    home: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    one, two = _worker(home), _worker(home)
    before = two.served
    one.reload_everywhere(force=True, trigger="admin:test")
    release, started = threading.Event(), threading.Event()
    real = ServingState.reload

    def slow(self: ServingState, *args: Any, **kwargs: Any) -> Any:
        started.set()
        assert release.wait(30)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ServingState, "reload", slow)
    assert two.catch_up() is before  # answered at once, from the current ranking
    assert started.wait(30)  # while the reload runs in the background...
    assert two.catch_up() is before and two.served is before  # ...requests keep answering
    follower = two._follower
    release.set()
    follower.join(30)
    assert two.served is not before and not two.reload_requested(two.served)
    assert two.catch_up() is two.served


# ---------------------------------------------------------------------- the mapped view


def test_known_ids_over_the_mapped_column(world, tmp_path: Path) -> None:  # noqa: F811
    from talentmap.serving.known import KnownIds, any_known, known_among

    published = ranking_file.read_ranking(publish(world, tmp_path / "features").parent)
    column = published.known.column("org_id")
    ids = column.to_pylist()
    known = KnownIds(column)
    assert ids[0] in known and "ghost" not in known and None not in known
    smaller = known - [ids[0]]
    assert ids[0] not in smaller and ids[1] in smaller and ids[0] in known
    assert known_among(smaller, [ids[0], ids[1], "ghost", ids[1]]) == {ids[1]}
    assert known_among(frozenset(ids[:2]), [ids[0], "ghost"]) == {ids[0]}
    assert any_known(smaller) == ids[1] and any_known(frozenset()) is None


def test_founders_in_another_order_are_placed_by_the_index(world, tmp_path: Path) -> None:  # noqa: F811
    model, features, tables = world
    frame, founders, known = ranking_rows(model, features, tables, TOP_N)
    sorted_dir, other_dir = tmp_path / "sorted", tmp_path / "other"
    ranking_file.write_ranking(sorted_dir, frame, founders, known, _meta())
    # Organisations in descending id order, each one's founders still in display order.
    shuffled = founders.sort_values("org_id", ascending=False, kind="stable")
    ranking_file.write_ranking(other_dir, frame, shuffled, known, _meta())
    fast = ranking_from_published(ranking_file.read_ranking(sorted_dir), model, LINEAGE)
    slow = ranking_from_published(ranking_file.read_ranking(other_dir), model, LINEAGE)
    assert fast._base.founders_sorted() and not slow._base.founders_sorted()
    rows = range(len(fast))
    assert fast.rows(rows) == slow.rows(rows)
    assert any(r["founders"] for r in fast.rows(rows))
    assert fast.founder_count() == slow.founder_count() == len(founders)


# ---------------------------------------------------------------------- first load


def _first_load(state: ServingState, wait_seconds: float) -> Any:
    """What a request that reached this worker before its first ranking answers from."""
    import asyncio
    from types import SimpleNamespace

    from talentmap.serving.service import TalentMapService

    waiter = SimpleNamespace(
        state=state, config=ServingConfig(first_load_wait_seconds=wait_seconds)
    )
    return asyncio.run(TalentMapService.inner._first_load(waiter))


def test_a_request_before_the_first_load_waits_for_it(home: Settings) -> None:
    import threading

    state = ServingState(home, ServingConfig(reload_poll_seconds=0))
    assert not state.first_load_settled()
    assert _first_load(state, 0) is None  # no wait asked: refused at once, as before
    late = threading.Timer(0.3, state._run)  # the worker is still loading when asked
    late.start()
    served = _first_load(state, 120)
    late.join()
    assert served is not None and state.first_load_settled()
    assert served.ranking.ranking_id.startswith("abcdef012345")


def test_a_failed_first_load_ends_the_wait_with_its_reason(
    home: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    def unreachable(*args: Any) -> Any:
        raise RuntimeError("registry down")

    shutil.rmtree(ranking_file.folder_of(home.feature_tables_dir))  # no fast start either
    monkeypatch.setattr(state_module, "load_champion", unreachable)
    state = ServingState(home, ServingConfig(reload_poll_seconds=0))
    state._run(sleep=lambda seconds: True)  # one failed attempt, then stop
    assert state.first_load_settled() and state.served is None
    assert _first_load(state, 300) is None  # answered at once (a hang would be 300 s)
    assert "registry down" in state.refusal()
