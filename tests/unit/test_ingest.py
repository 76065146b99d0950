"""Ingestion into the lake: immutability, idempotence, quarantine, atomicity, integrity."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from talentmap import contract
from talentmap.app.cli import app as talentmap_app
from talentmap.contract_sample import sample_dataset_info, sample_tables, write_dataset
from talentmap.ingest import InvalidSnapshotError, ingest
from talentmap.lake import (
    CorruptSnapshotError,
    Lake,
    SnapshotExistsError,
    SnapshotNotFoundError,
)
from talentmap.settings import Settings

Tables = dict[str, pd.DataFrame]


def make_dir(
    root: Path, mutate: Callable[[Tables], None] | None = None, *, fmt: str = "csv"
) -> Path:
    tables = sample_tables()
    if mutate is not None:
        mutate(tables)
    return write_dataset(root, tables, fmt=fmt, dataset=sample_dataset_info())  # type: ignore[arg-type]


def tree_digest(root: Path) -> dict[str, str]:
    """Listing of every entry under ``root`` with content hash and mode."""
    if not root.exists():
        return {}
    out = {}
    for p in sorted(root.rglob("*")):
        key = str(p.relative_to(root))
        if p.is_dir():
            out[key + "/"] = "dir"
        else:
            out[key] = hashlib.sha256(p.read_bytes()).hexdigest() + f":{p.stat().st_mode:o}"
    return out


def clock(day: int) -> Callable[[], datetime]:
    return lambda: datetime(2025, 7, day, 12, 0, tzinfo=UTC)


def bad_round_type(tables: Tables) -> None:
    tables["funding_rounds"].loc[0, "round_type"] = "series_z"  # r1 of o1


def test_ingest_creates_a_snapshot_with_manifest(tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    result = ingest(make_dir(tmp_path / "data"), lake_dir, clock=clock(1))
    assert result.created and result.n_quarantined == 0
    assert result.path == lake_dir / "snapshots" / result.snapshot_id
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest == result.manifest
    assert manifest["snapshot_id"] == result.snapshot_id
    assert result.snapshot_id.startswith("20250630-")
    assert manifest["dataset"] == {
        "name": "sample",
        "source": "hand-made example of the TalentMap contract",
        "licence": "CC0-1.0",
    }
    assert manifest["snapshot_date"] == "2025-06-30"
    assert manifest["ingested_at"] == "2025-07-01T12:00:00+00:00"
    assert manifest["contract_version"] == contract.CONTRACT_VERSION
    assert manifest["time_span"] == {"start": "2008-06-30", "end": "2024-05-01"}
    assert manifest["quarantine"] == {}
    for table, raw in sample_tables().items():
        entry = manifest["tables"][table]
        stored = result.path / entry["file"]
        assert entry["rows"] == len(raw) == pq.read_metadata(stored).num_rows
        assert entry["sha256"] == hashlib.sha256(stored.read_bytes()).hexdigest()
        assert entry["content_hash"]
        assert not stored.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert not [p for p in lake_dir.iterdir() if p.name.startswith(".staging")]


def test_same_content_twice_is_a_no_op(tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    first = ingest(make_dir(tmp_path / "csv"), lake_dir, clock=clock(1))
    before = tree_digest(lake_dir)
    again = ingest(make_dir(tmp_path / "csv"), lake_dir, clock=clock(2))
    assert not again.created and again.snapshot_id == first.snapshot_id
    assert tree_digest(lake_dir) == before
    # The same content from Parquet is the same snapshot: the id hashes values, not bytes.
    as_parquet = ingest(make_dir(tmp_path / "pq", fmt="parquet"), lake_dir, clock=clock(3))
    assert as_parquet.snapshot_id == first.snapshot_id and not as_parquet.created
    assert tree_digest(lake_dir) == before
    moved = ingest(
        make_dir(tmp_path / "moved", lambda t: t["headcount"].__setitem__("headcount", "7")),
        lake_dir,
        clock=clock(4),
    )
    assert moved.created and moved.snapshot_id != first.snapshot_id
    assert [r.snapshot_id for r in Lake(lake_dir).snapshots()] == [
        first.snapshot_id,
        moved.snapshot_id,
    ]


@pytest.mark.parametrize("existing", [False, True])
def test_invalid_snapshot_is_refused_and_lake_untouched(tmp_path: Path, existing: bool) -> None:
    lake_dir = tmp_path / "lake"
    if existing:
        ingest(make_dir(tmp_path / "good"), lake_dir)
    before = tree_digest(lake_dir)
    with pytest.raises(InvalidSnapshotError) as caught:
        ingest(make_dir(tmp_path / "bad", bad_round_type), lake_dir, policy="strict")
    assert caught.value.report.counts_by_rule() == {"enum": 1}
    assert tree_digest(lake_dir) == before
    assert lake_dir.exists() == existing


def test_file_level_problems_are_refused_even_with_quarantine(tmp_path: Path) -> None:
    def drop(tables: Tables) -> None:
        tables["roles"] = tables["roles"].drop(columns=["role"])

    lake_dir = tmp_path / "lake"
    with pytest.raises(InvalidSnapshotError) as caught:
        ingest(make_dir(tmp_path / "bad", drop), lake_dir, quarantine=True)
    assert caught.value.report.fatal
    assert not lake_dir.exists()


def test_quarantine_keeps_valid_rows_and_cascades(tmp_path: Path) -> None:
    def breaks(tables: Tables) -> None:
        tables["organizations"].loc[0, "country"] = "France"  # o1 -> r1, r2 -> investments
        tables["people"].loc[1, "birth_year"] = "19x0"  # p2

    lake_dir = tmp_path / "lake"
    result = ingest(make_dir(tmp_path / "data", breaks), lake_dir, quarantine=True)
    assert result.created
    lake = Lake(lake_dir)
    kept = lake.load(result.snapshot_id)
    assert "o1" not in set(kept["organizations"]["org_id"])
    assert kept["funding_rounds"]["round_id"].tolist() == ["r3", "r4"]
    assert kept["investments"].empty
    assert kept["roles"]["person_id"].tolist() == []  # p1@o1, p2 (rejected), p3@o1
    assert kept["people"]["person_id"].tolist() == ["p1", "p3"]
    # What is kept is referentially intact.
    for fk in contract.FOREIGN_KEYS:
        child, parent = kept[fk.table], kept[fk.parent]
        refs = child[fk.column].dropna()
        if fk.when is not None:
            refs = child.loc[child[fk.when[0]] == fk.when[1], fk.column]
        assert refs.isin(parent[fk.parent_column]).all(), fk.label

    rejected = lake.load_quarantine(result.snapshot_id)
    orgs = rejected["organizations"]
    assert orgs[["_row", "org_id", "country"]].values.tolist() == [["2", "o1", "France"]]
    assert orgs["_reasons"].iloc[0] == "country: country='France'"
    people = rejected["people"]
    assert people["birth_year"].tolist() == ["19x0"]  # the original text, not a blank
    assert people["_reasons"].iloc[0] == "type: birth_year='19x0'"
    investments = rejected["investments"]
    assert investments["_row"].tolist() == ["2", "3", "4"]
    assert all("refers to a rejected funding_rounds row" in r for r in investments["_reasons"])
    rounds = rejected["funding_rounds"]["_reasons"].tolist()
    assert rounds == ["parent_rejected: org_id='o1' refers to a rejected organizations row"] * 2
    manifest = result.manifest
    assert manifest["quarantine"]["investments"]["rows"] == 3
    assert result.n_quarantined == sum(len(f) for f in rejected.values())
    assert sum(r["rows"] for r in manifest["tables"].values()) + result.n_quarantined == sum(
        len(t) for t in sample_tables().values()
    )
    again = ingest(make_dir(tmp_path / "data2", breaks), lake_dir, quarantine=True)
    assert not again.created and again.snapshot_id == result.snapshot_id


def _fail_on_third_write(monkeypatch: pytest.MonkeyPatch) -> None:
    real = pq.write_table
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full (simulated)")
        real(*args, **kwargs)

    monkeypatch.setattr(pq, "write_table", flaky)


@pytest.mark.parametrize("existing", [False, True])
def test_failed_ingest_leaves_the_lake_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    lake_dir = tmp_path / "lake"
    if existing:
        ingest(make_dir(tmp_path / "first"), lake_dir)
    before = tree_digest(lake_dir)
    _fail_on_third_write(monkeypatch)
    changed = make_dir(tmp_path / "second", lambda t: t["exits"].__setitem__("amount_eur", "1"))
    with pytest.raises(OSError, match="simulated"):
        ingest(changed, lake_dir)
    assert tree_digest(lake_dir) == before
    assert lake_dir.exists() == existing
    monkeypatch.undo()
    assert ingest(changed, lake_dir).created  # and the lake still works


def test_abandoned_staging_is_ignored_then_cleared(tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    first = ingest(make_dir(tmp_path / "data"), lake_dir)
    # What a killed ingest leaves behind: a staging folder of a process that is gone.
    dead = lake_dir / ".staging-999999999-abc"
    (dead / "tables").mkdir(parents=True)
    (dead / "tables" / "organizations.parquet").write_bytes(b"partial")
    lake = Lake(lake_dir)
    assert [r.snapshot_id for r in lake.snapshots()] == [first.snapshot_id]
    ingest(make_dir(tmp_path / "more", lambda t: t.pop("exits")), lake_dir)
    assert not dead.exists()


def _stage_other_content(stage: Path) -> None:
    """What a publish must never put in place of a stored snapshot."""
    (stage / "tables").mkdir()
    (stage / "tables" / "organizations.parquet").write_bytes(b"other content")
    (stage / "manifest.json").write_text('{"tables": {}}', encoding="utf-8")


def _no_staging_left(lake_dir: Path) -> bool:
    return not [p for p in lake_dir.iterdir() if p.name.startswith(".staging")]


def test_publish_onto_a_stored_snapshot_refuses_and_keeps_it(tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    stored = ingest(make_dir(tmp_path / "data"), lake_dir)
    lake = Lake(lake_dir)
    before = tree_digest(lake_dir)
    with lake.staging() as stage:
        _stage_other_content(stage)
        assert lake.publish(stage, stored.snapshot_id) is False
    assert not stage.exists() and _no_staging_left(lake_dir)
    assert tree_digest(lake_dir) == before
    assert lake.verify(stored.snapshot_id)["snapshot_id"] == stored.snapshot_id


@pytest.mark.parametrize("occupant", ["empty folder", "partial folder", "file"])
def test_publish_never_replaces_what_occupies_the_snapshot_place(
    tmp_path: Path, occupant: str
) -> None:
    lake_dir = tmp_path / "lake"
    first = ingest(make_dir(tmp_path / "data"), lake_dir)
    lake = Lake(lake_dir)
    place = lake.snapshots_dir / "20250630-00000000000000ff"
    if occupant == "file":
        place.write_text("kept", encoding="utf-8")
    else:
        place.mkdir()  # os.rename onto an empty folder succeeds: the case to refuse
        if occupant == "partial folder":
            (place / "tables").mkdir()
            (place / "tables" / "people.parquet").write_bytes(b"kept")
    before = tree_digest(lake_dir)
    with pytest.raises(SnapshotExistsError, match="00000000000000ff"), lake.staging() as stage:
        _stage_other_content(stage)
        lake.publish(stage, place.name)
    assert tree_digest(lake_dir) == before  # the occupant, the stored snapshot: untouched
    assert _no_staging_left(lake_dir)
    assert not lake.has(place.name)
    assert [r.snapshot_id for r in lake.snapshots()] == [first.snapshot_id]


def test_ingest_refuses_an_empty_folder_at_its_snapshot_place(tmp_path: Path) -> None:
    data_dir = make_dir(tmp_path / "data")
    snapshot_id = ingest(data_dir, tmp_path / "elsewhere").snapshot_id  # ids follow content
    lake_dir = tmp_path / "lake"
    (lake_dir / "snapshots" / snapshot_id).mkdir(parents=True)
    with pytest.raises(SnapshotExistsError):
        ingest(data_dir, lake_dir)
    assert tree_digest(lake_dir) == {"snapshots/": "dir", f"snapshots/{snapshot_id}/": "dir"}
    done = CliRunner().invoke(cli(), ["ingest", str(data_dir), "--lake", str(lake_dir)])
    assert done.exit_code == 74 and snapshot_id in done.output  # a storage refusal (74)
    assert tree_digest(lake_dir) == {"snapshots/": "dir", f"snapshots/{snapshot_id}/": "dir"}


def _ingest_in_a_race(data_dir: Path, lake_dir: Path, barrier: Any, out: Any) -> None:
    """Child process: ingest, renaming into the lake only when the other one does too.

    Both processes have then passed every "already stored?" check, so exactly one rename
    can win and the other must find the snapshot stored: the race, on purpose.
    """
    real_rename = os.rename

    def rename(src: Any, dst: Any) -> None:
        if Path(dst).parent.name == "snapshots":
            barrier.wait(timeout=120)
        real_rename(src, dst)

    os.rename = rename  # this child process only
    try:
        result = ingest(data_dir, lake_dir)
        out.put((result.snapshot_id, result.created, None))
    except BaseException as exc:
        out.put((None, None, f"{type(exc).__name__}: {exc}"))
        raise


def test_concurrent_ingests_of_the_same_content_store_it_once(tmp_path: Path) -> None:
    data_dir, lake_dir = make_dir(tmp_path / "data"), tmp_path / "lake"
    context = multiprocessing.get_context("spawn")  # no fork of a process holding threads
    barrier, out = context.Barrier(2), context.Queue()
    workers = [
        context.Process(target=_ingest_in_a_race, args=(data_dir, lake_dir, barrier, out))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    try:
        outcomes = [out.get(timeout=240) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=60)
            if worker.is_alive():
                worker.kill()
    assert [error for _, _, error in outcomes] == [None, None]
    assert [w.exitcode for w in workers] == [0, 0]
    (first_id, *_), (second_id, *_) = outcomes
    assert first_id == second_id
    assert sorted(created for _, created, _ in outcomes) == [False, True]
    lake = Lake(lake_dir)
    assert [r.snapshot_id for r in lake.snapshots()] == [first_id]
    assert lake.verify(first_id)["snapshot_id"] == first_id  # complete: every file matches
    assert set(lake.load(first_id)) == set(sample_tables())
    files = [p for p in (lake.snapshots_dir / first_id).rglob("*") if p.is_file()]
    assert len(files) == 1 + len(sample_tables())
    assert not any(p.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) for p in files)
    assert _no_staging_left(lake_dir)


def test_corrupted_file_is_detected_and_never_loaded(tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    result = ingest(make_dir(tmp_path / "data"), lake_dir)
    lake = Lake(lake_dir)
    assert lake.verify(result.snapshot_id)["snapshot_id"] == result.snapshot_id
    target = result.path / "tables" / "funding_rounds.parquet"
    target.chmod(0o644)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(CorruptSnapshotError, match=r"funding_rounds\.parquet"):
        lake.verify(result.snapshot_id)
    with pytest.raises(CorruptSnapshotError, match=r"funding_rounds\.parquet"):
        lake.load(result.snapshot_id)
    with pytest.raises(CorruptSnapshotError):
        lake.load(result.snapshot_id, ["funding_rounds"])
    assert set(lake.load(result.snapshot_id, ["organizations"])) == {"organizations"}


def test_missing_file_and_tampered_manifest_are_detected(tmp_path: Path) -> None:
    result = ingest(make_dir(tmp_path / "data"), tmp_path / "lake")
    lake = Lake(tmp_path / "lake")
    (result.path / "tables" / "exits.parquet").unlink()
    with pytest.raises(CorruptSnapshotError, match=r"exits\.parquet"):
        lake.verify(result.snapshot_id)
    manifest_path = result.path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["tables"]["people"]["rows"] = 2
    manifest_path.chmod(0o644)
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(CorruptSnapshotError, match="manifest"):
        lake.load(result.snapshot_id, ["people"])


def test_load_returns_the_shared_typed_convention(tmp_path: Path) -> None:
    result = ingest(make_dir(tmp_path / "data", fmt="parquet"), tmp_path / "lake")
    loaded = Lake(tmp_path / "lake").load(result.snapshot_id)
    assert list(loaded) == list(contract.TABLES)
    for table, frame in loaded.items():
        assert list(frame.columns) == list(contract.schema(table).columns)
        assert {c: str(t) for c, t in frame.dtypes.items()} == contract.dtypes(table), table
        expected = contract.to_typed(sample_tables()[table], table)
        pd.testing.assert_frame_equal(frame, expected, check_dtype=True)
    orgs = loaded["organizations"]
    assert orgs["founded_on"].dt.tz is None
    assert isinstance(orgs["org_id"].iloc[0], str) and orgs["region"].iloc[3] is None
    assert loaded["investments"]["is_lead"].isna().iloc[2]


def test_load_of_missing_tables_and_unknown_snapshots(tmp_path: Path) -> None:
    result = ingest(make_dir(tmp_path / "data", lambda t: t.pop("exits")), tmp_path / "lake")
    lake = Lake(tmp_path / "lake")
    assert "exits" not in lake.load(result.snapshot_id)
    assert lake.load(result.snapshot_id, ["exits", "people"]).keys() == {"people"}
    with pytest.raises(SnapshotNotFoundError):
        lake.get("20250101-0000000000000000")
    with pytest.raises(SnapshotNotFoundError):
        lake.load("../escape")
    assert Lake(tmp_path / "nowhere").snapshots() == []
    assert Lake(tmp_path / "nowhere").latest() is None


def test_snapshots_are_ordered_by_ingest_time(tmp_path: Path) -> None:
    lake_dir = tmp_path / "lake"
    late = ingest(make_dir(tmp_path / "a"), lake_dir, clock=clock(20))
    early = ingest(make_dir(tmp_path / "b", lambda t: t.pop("exits")), lake_dir, clock=clock(5))
    lake = Lake(lake_dir)
    assert [r.snapshot_id for r in lake.snapshots()] == [early.snapshot_id, late.snapshot_id]
    latest = lake.latest()
    assert latest is not None and latest.snapshot_id == late.snapshot_id
    ref = lake.get(early.snapshot_id)
    assert ref.rows == sum(len(t) for n, t in sample_tables().items() if n != "exits")
    assert ref.name == "sample" and ref.snapshot_date.isoformat() == "2025-06-30"


def cli() -> typer.Typer:
    app = talentmap_app
    return app


def test_cli_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    good = make_dir(tmp_path / "good")
    bad = make_dir(tmp_path / "bad", bad_round_type)
    lake_dir = tmp_path / "lake"

    done = runner.invoke(cli(), ["validate", str(good)])
    assert done.exit_code == 0, done.output
    assert "organizations" in done.output and "valid" in done.output
    done = runner.invoke(cli(), ["validate", str(bad), "--policy", "strict"])
    assert done.exit_code == 65
    assert "enum" in done.output and "series_z" in done.output
    # Under repair (the default), validate says what ingest would do and accepts it.
    done = runner.invoke(cli(), ["validate", str(bad)], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    assert "series_z" in done.output and "dropped" in done.output

    done = runner.invoke(cli(), ["ingest", str(bad), "--lake", str(lake_dir), "--policy", "strict"])
    assert done.exit_code == 65 and not lake_dir.exists()
    done = runner.invoke(cli(), ["ingest", str(good), "--lake", str(lake_dir)])
    assert done.exit_code == 0, done.output
    assert "ingested" in done.output
    done = runner.invoke(cli(), ["ingest", str(good), "--lake", str(lake_dir)])
    assert done.exit_code == 0 and "already ingested" in done.output
    done = runner.invoke(cli(), ["ingest", str(bad), "--lake", str(lake_dir), "--quarantine"])
    assert done.exit_code == 0, done.output
    assert "policy quarantine" in done.output and "3 row(s) dropped" in done.output
    assert len(Lake(lake_dir).snapshots()) == 2

    # Without --lake, the configured lake is used.
    monkeypatch.setattr("talentmap.settings.get_settings", lambda: Settings(home=tmp_path / "home"))
    done = runner.invoke(cli(), ["ingest", str(good)])
    assert done.exit_code == 0, done.output
    assert len(Lake(tmp_path / "home" / "data" / "lake").snapshots()) == 1


def test_stored_files_are_read_only(tmp_path: Path) -> None:
    result = ingest(make_dir(tmp_path / "data", bad_round_type), tmp_path / "lake", quarantine=True)
    files = [p for p in result.path.rglob("*") if p.is_file()]
    assert {p.parent.name for p in files} == {result.snapshot_id, "tables", "quarantine"}
    for path in files:
        assert not os.access(path, os.W_OK) or os.geteuid() == 0
        assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
