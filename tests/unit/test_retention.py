"""Retention: the dry run lists, apply deletes only what the rules allow; the latest snapshot
and the champion's survive; the audit log is rewritten atomically without losing late lines;
old MLflow runs go unless an aliased model version comes from them."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from talentmap.app import retention
from talentmap.app.retention import apply_retention, plan_lake, prune_audit
from talentmap.contract_sample import sample_dataset_info, sample_tables, write_dataset
from talentmap.ingest import ingest
from talentmap.lake import Lake
from talentmap.settings import Settings
from talentmap.settings.privacy import RetentionConfig
from talentmap.training.tracking.target import activate, ensure_experiment, resolve_target

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
AGES_DAYS = (400, 300, 200, 100, 1)  # oldest first
NO_MLFLOW = RetentionConfig(
    lake_keep_snapshots=None,
    lake_max_age_days=None,
    audit_max_age_days=None,
    mlflow_run_max_age_days=None,
)


@dataclass
class World:
    settings: Settings
    lake: Lake
    ids: list[str]  # oldest first


def _lake(home: Path) -> tuple[Lake, list[str]]:
    lake_dir = home / "data" / "lake"
    ids = []
    for n, age in enumerate(AGES_DAYS):
        info = {**sample_dataset_info(), "name": f"delivery-{n}"}
        data = write_dataset(home / f"src{n}", sample_tables(), dataset=info)
        when = NOW - timedelta(days=age)
        ids.append(ingest(data, lake_dir, clock=lambda when=when: when).snapshot_id)
    return Lake(lake_dir), ids


@pytest.fixture(scope="module")
def lake_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("lake-template")
    _lake(home)
    return home


@pytest.fixture
def world(lake_template: Path, tmp_path: Path) -> World:
    import shutil

    shutil.copytree(lake_template / "data", tmp_path / "data")
    lake = Lake(tmp_path / "data" / "lake")
    return World(Settings(home=tmp_path), lake, [r.snapshot_id for r in lake.snapshots()])


# ------------------------------------------------------------------ lake


@pytest.mark.parametrize(
    ("keep", "max_age", "protected", "deleted"),
    [
        (2, 150, set(), {0, 1, 2}),  # beyond the 2 newest AND older than 150 days
        (2, 150, {1}, {0, 2}),  # a protected snapshot survives
        (None, 250, set(), {0, 1}),  # age rule only
        (3, None, set(), {0, 1}),  # count rule only
        (None, None, set(), set()),  # no rule: keep forever
        (1, 0, set(), {0, 1, 2, 3}),  # the latest always survives
    ],
)
def test_plan_lake(
    world: World, keep: int | None, max_age: int | None, protected: set[int], deleted: set[int]
) -> None:
    config = RetentionConfig(lake_keep_snapshots=keep, lake_max_age_days=max_age)
    plan = plan_lake(world.lake, config, {world.ids[i] for i in protected}, NOW)
    assert [d.item for d in plan] == world.ids[::-1]  # newest first
    assert {d.item for d in plan if d.delete} == {world.ids[i] for i in deleted}
    assert not plan[0].delete and plan[0].reason == "latest snapshot"


def _champion_on(settings: Settings, snapshot_id: str, *, age_days: int = 0) -> str:
    """A registered model whose @champion was trained on ``snapshot_id``; its run id."""
    target = resolve_target(settings)
    with activate(target) as client:
        experiment = ensure_experiment(client, target.experiment, target.artifact_root)
        started = int((NOW - timedelta(days=age_days)).timestamp() * 1000)
        run = client.create_run(
            experiment, start_time=started, tags={"lineage.snapshot_id": snapshot_id}
        )
        client.set_terminated(run.info.run_id, end_time=started + 1000)
        client.create_registered_model(target.registered_model)
        version = client.create_model_version(
            target.registered_model, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id
        )
        client.set_registered_model_alias(target.registered_model, "champion", version.version)
    return run.info.run_id


def test_dry_run_lists_and_apply_deletes_but_the_latest_and_the_champion_s(world: World) -> None:
    _champion_on(world.settings, world.ids[0])
    config = NO_MLFLOW.model_copy(update={"lake_keep_snapshots": 1, "lake_max_age_days": 0})
    dry = apply_retention(world.settings, config=config, dry_run=True, now=NOW)
    assert set(dry.lake_deleted) == set(world.ids[1:4])
    assert [r.snapshot_id for r in world.lake.snapshots()] == world.ids  # nothing deleted

    done = apply_retention(world.settings, config=config, now=NOW)
    assert done.lake_deleted == dry.lake_deleted
    left = [r.snapshot_id for r in world.lake.snapshots()]
    assert left == [world.ids[0], world.ids[4]]  # the champion's and the latest
    assert not [p for p in world.lake.snapshots_dir.iterdir() if p.name not in left]
    for snapshot_id in left:  # survivors are intact
        assert world.lake.load(snapshot_id)["organizations"].shape[0] > 0


def test_no_snapshot_is_deleted_when_the_registry_is_unreadable(world: World) -> None:
    blocker = world.settings.home / "not-a-folder"
    blocker.write_text("a file where the MLflow folder should be")
    tracking = world.settings.tracking.model_copy(update={"uri": f"sqlite:///{blocker}/x.db"})
    broken = world.settings.model_copy(update={"tracking": tracking})
    config = NO_MLFLOW.model_copy(update={"lake_keep_snapshots": 1, "lake_max_age_days": 0})
    report = apply_retention(broken, config=config, now=NOW)
    assert report.lake_deleted == [] and any("lake left untouched" in n for n in report.notes)
    assert len(world.lake.snapshots()) == len(world.ids)


# ------------------------------------------------------------------ audit log


def _audit(path: Path, ages_days: list[int | None]) -> list[str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for n, age in enumerate(ages_days):
        record = {"event": "shortlist", "n": n}
        if age is not None:
            record["at"] = (NOW - timedelta(days=age)).isoformat(timespec="milliseconds")
        lines.append(json.dumps(record))
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    path.chmod(0o600)
    return lines


def test_audit_dry_run_counts_and_apply_rewrites(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = _audit(path, [500, 400, None, 10, 1])
    assert prune_audit(path, 365, NOW, dry_run=True) == (2, 3, 1)
    assert path.read_text().splitlines() == lines
    inode = path.stat().st_ino
    assert prune_audit(path, 365, NOW, dry_run=False) == (2, 3, 1)
    assert path.read_text().splitlines() == lines[2:]  # undated kept, order kept
    assert path.stat().st_ino != inode  # replaced by rename, not edited in place
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert prune_audit(path, None, NOW, dry_run=False) == (0, 0, 0)


def test_audit_lines_appended_during_the_rewrite_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit.jsonl"
    lines = _audit(path, [500, 1])
    late = json.dumps({"event": "shortlist", "at": NOW.isoformat(), "late": True}) + "\n"
    real_replace = os.replace

    def replace_after_a_write(src: str | Path, dst: str | Path) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)  # a writer on the old file
        os.write(fd, late.encode())
        os.close(fd)
        real_replace(src, dst)

    monkeypatch.setattr(retention.os, "replace", replace_after_a_write)
    prune_audit(path, 30, NOW, dry_run=False)
    assert path.read_text().splitlines() == [lines[1], late.strip()]


# ------------------------------------------------------------------ MLflow


def test_old_runs_go_unless_an_aliased_version_comes_from_them(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    champion_run = _champion_on(settings, "any-snapshot", age_days=400)
    target = resolve_target(settings)
    with activate(target) as client:
        experiment = client.get_experiment_by_name(target.experiment).experiment_id
        runs = {}
        for label, age in (("old", 400), ("new", 5)):
            started = int((NOW - timedelta(days=age)).timestamp() * 1000)
            run = client.create_run(experiment, start_time=started)
            client.log_text(run.info.run_id, "org ids only", "evaluation/notes.txt")
            runs[label] = run
        old_version = client.create_model_version(
            target.registered_model,
            f"runs:/{runs['old'].info.run_id}/model",
            run_id=runs["old"].info.run_id,
        )
    old_artifacts = Path(runs["old"].info.artifact_uri.removeprefix("file://"))
    assert old_artifacts.is_dir()
    config = NO_MLFLOW.model_copy(update={"mlflow_run_max_age_days": 30})

    dry = apply_retention(settings, config=config, dry_run=True, now=NOW)
    assert dry.runs_deleted == [runs["old"].info.run_id]
    kept = {d.item: d.reason for d in dry.mlflow if not d.delete}
    assert kept[champion_run] == "has an aliased version"

    apply_retention(settings, config=config, now=NOW)
    with activate(target) as client:
        left = {r.info.run_id for r in client.search_runs([experiment], run_view_type=3)}
        versions = {
            v.version for v in client.search_model_versions(f"name='{target.registered_model}'")
        }
    assert left == {champion_run, runs["new"].info.run_id}  # purged, not only soft-deleted
    assert old_version.version not in versions and len(versions) == 1
    assert not old_artifacts.exists()


# ------------------------------------------------------------------ the command


def test_retention_command_dry_run_lists_and_keeps(world: World) -> None:
    from typer.testing import CliRunner

    from talentmap.app.cli import app
    from talentmap.settings import get_settings

    env = {"TALENTMAP_HOME": str(world.settings.home)}
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["retention", "apply", "--dry-run"], env=env)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    # Default rules (until Settings nests `privacy`): the 3 newest kept, the rest is older
    # than 180 days whatever today is, so exactly the two oldest would go.
    rows = {line.split()[1]: line for line in result.output.splitlines() if "20250630-" in line}
    for n, snapshot_id in enumerate(world.ids):
        assert ("would delete" in rows[snapshot_id]) == (n < 2), rows[snapshot_id]
    assert [r.snapshot_id for r in world.lake.snapshots()] == world.ids
