"""A retrain killed by SIGKILL at each of its steps, and a corrupted lake (issue 5, §3).

One home is trained once for the module (a 300-organisation world through the real
chain: lake, Feast, MLflow with a champion, live feature store published by symlink).
Then, one after the other on that same home (a killed run must leave it consistent, so
each kill starts from what the previous one left):

- a retrain is killed with SIGKILL at the start of each step (ingest, build,
  materialize, train, promote, publish) in a separate process; afterwards the champion
  alias is unchanged, every lake snapshot verifies against its hashes, the live feature
  store is the same (symlink targets and online.db bytes) and still answers;
- a retrain is killed in the middle of ingest, with half a snapshot in the lake's
  staging folder: the lake is byte-for-byte what it was (the staging folder is never
  read, and the next ingest clears it);
- the next, normal retrain then succeeds.

A stored Parquet file with flipped bytes is detected by its hash and named, by
``Lake.load`` and by ``talentmap retrain`` and ``talentmap backtest``, which exit 1.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from killable_retrain import Zygote, fault_settings
from typer.testing import CliRunner

from talentmap.app.cli import app as talentmap_app
from talentmap.features.store import get_online_features, read_lineage
from talentmap.generate.world import generate_world
from talentmap.lake import CorruptSnapshotError, Lake
from talentmap.settings import Settings
from talentmap.training.pipeline.retrain import RETRAIN_STEPS, retrain
from talentmap.training.tracking.target import activate, resolve_target

pytestmark = pytest.mark.e2e

WORLD_ORGS, WORLD_SEED = 300, 5


@dataclass
class Home:
    settings: Settings
    world: Path
    changed_world: Path  # the same world with one headcount changed: a new snapshot
    zygote: Zygote
    tmp: Path


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    tmp = tmp_path_factory.mktemp("faults-retrain")
    world = tmp / "world"
    generate_world(world, WORLD_ORGS, WORLD_SEED)
    changed = tmp / "world-changed"
    shutil.copytree(world, changed)
    headcount = pd.read_csv(changed / "headcount.csv", dtype=str, keep_default_na=False)
    headcount.loc[0, "headcount"] = str(int(headcount.loc[0, "headcount"]) + 1)
    headcount.to_csv(changed / "headcount.csv", index=False)
    settings = fault_settings(tmp / "home")
    first = retrain(settings, world)
    assert not first.skipped and first.promoted, first
    zygote = Zygote(tmp / "children.log")
    yield Home(settings, world, changed, zygote, tmp)
    zygote.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lake_digest(lake_dir: Path) -> dict[str, str]:
    """Every file under the lake's snapshots with its hash: "byte-identical"."""
    root = Lake(lake_dir).snapshots_dir
    return {str(p.relative_to(root)): digest(p) for p in sorted(root.rglob("*")) if p.is_file()}


def champion(settings: Settings) -> str:
    target = resolve_target(settings)
    with activate(target) as client:
        return str(client.get_model_version_by_alias(target.registered_model, "champion").version)


@dataclass(frozen=True)
class State:
    champion: str
    lake: dict[str, str]
    snapshots: tuple[str, ...]
    store_link: str
    tables_link: str
    online_db: str


def state(settings: Settings) -> State:
    lake = Lake(settings.lake_dir)
    return State(
        champion=champion(settings),
        lake=lake_digest(settings.lake_dir),
        snapshots=tuple(r.snapshot_id for r in lake.snapshots()),
        store_link=os.readlink(settings.feature_store_dir),
        tables_link=os.readlink(settings.feature_tables_dir),
        online_db=digest(settings.feature_store_dir / "online.db"),
    )


def assert_consistent(settings: Settings, before: State) -> None:
    """Champion, lake and live store exactly as before, and all of them usable."""
    after = state(settings)
    assert after == before
    lake = Lake(settings.lake_dir)
    for snapshot in after.snapshots:
        lake.verify(snapshot)  # every table and quarantine file against its hash
    lineage = read_lineage(settings.feature_tables_dir)
    assert lineage is not None and lineage["snapshot_id"] in after.snapshots
    orgs = lake.load(lineage["snapshot_id"], ["organizations"])["organizations"]
    ids = orgs["org_id"].head(20).tolist()
    online = get_online_features(settings, ids, pd.Timestamp(lineage["snapshot_date"]).date())
    assert online["org_id"].tolist() == ids
    assert online.drop(columns=["org_id", "as_of"]).notna().any(axis=None)


@pytest.mark.parametrize("step", RETRAIN_STEPS)
def test_sigkill_at_a_step_leaves_champion_lake_and_store_consistent(home: Home, step: str) -> None:
    before = state(home.settings)
    died = home.zygote.retrain(home.settings.home, home.world, home.tmp / "marker", kill_at=step)
    assert died.killed and died.marker == step, died
    assert_consistent(home.settings, before)


def test_sigkill_in_the_middle_of_ingest_leaves_the_lake_as_it_was(home: Home) -> None:
    before = state(home.settings)
    lake_root = home.settings.lake_dir
    entries_before = {p.name for p in lake_root.iterdir()}
    died = home.zygote.retrain(
        home.settings.home, home.changed_world, home.tmp / "marker", ingest_writes=2
    )
    assert died.killed and died.marker is not None and died.marker.startswith("ingest:.staging-")
    staging = lake_root / died.marker.removeprefix("ingest:")
    # Half a snapshot was written, in the staging folder only...
    assert len(list((staging / "tables").glob("*.parquet"))) == 2
    assert {p.name for p in lake_root.iterdir()} == entries_before | {staging.name}
    # ...which no reader looks at: same snapshots, same bytes, same champion and store.
    assert_consistent(home.settings, before)


def test_the_next_retrain_succeeds_after_the_kills(home: Home) -> None:
    before = state(home.settings)
    outcome = retrain(home.settings, home.changed_world, force=True)
    assert not outcome.skipped and outcome.reason == "retrained"
    lake = Lake(home.settings.lake_dir)
    snapshots = [r.snapshot_id for r in lake.snapshots()]
    assert snapshots == [*before.snapshots, outcome.snapshot_id]
    for snapshot in snapshots:
        lake.verify(snapshot)
    assert not list(home.settings.lake_dir.glob(".staging-*")), "abandoned staging cleared"
    # The new feature-store version is live and readable; the old one was not touched.
    assert os.readlink(home.settings.feature_store_dir) != before.store_link
    assert read_lineage(home.settings.feature_tables_dir)["snapshot_id"] == outcome.snapshot_id
    assert champion(home.settings) in {before.champion, outcome.model_version}
    assert_consistent(home.settings, state(home.settings))
    # Half-built versions of the killed runs were pruned down to the configured number.
    versions = [p for p in home.settings.path(home.settings.retrain.versions_dir).iterdir()]
    assert len([p for p in versions if p.is_dir()]) <= home.settings.retrain.keep_versions


# ------------------------------------------------------------------ corrupted lake


def test_a_corrupted_lake_file_is_detected_named_and_never_used(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A copy of the lake in a fresh home: the module's home stays intact.
    settings = fault_settings(tmp_path / "home")
    shutil.copytree(home.settings.lake_dir, settings.lake_dir)
    lake = Lake(settings.lake_dir)
    snapshot = Lake(home.settings.lake_dir).get(state(home.settings).snapshots[0]).snapshot_id
    target = settings.lake_dir / "snapshots" / snapshot / "tables" / "funding_rounds.parquet"
    target.chmod(0o644)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the compressed data
    target.write_bytes(bytes(data))
    target.chmod(0o444)

    with pytest.raises(CorruptSnapshotError, match=r"funding_rounds\.parquet"):
        lake.verify(snapshot)
    with pytest.raises(CorruptSnapshotError, match=r"funding_rounds\.parquet.*will not be used"):
        lake.load(snapshot)
    assert set(lake.load(snapshot, ["organizations"])) == {"organizations"}  # others still fine

    monkeypatch.setattr("talentmap.training.commands.retrain.get_settings", lambda: settings)
    monkeypatch.setattr("talentmap.settings.get_settings", lambda: settings)
    runner = CliRunner()
    app = talentmap_app
    done = runner.invoke(app, ["retrain", "--data", str(home.world)], env={"COLUMNS": "300"})
    assert done.exit_code == 1, done.output
    flat = " ".join(done.output.split())
    assert "step 'ingest'" in flat and "funding_rounds.parquet" in flat and "corrupt" in flat
    done = runner.invoke(
        app,
        [
            "backtest",
            "--data",
            str(home.world),
            "--as-of",
            "2022-12-31",
            "--out",
            str(tmp_path / "bt"),
        ],
        env={"COLUMNS": "300"},
    )
    assert done.exit_code == 74, done.output  # a stored file fails its hash (EX_IOERR)
    flat = " ".join(done.output.split())
    assert "funding_rounds.parquet" in flat and "corrupt" in flat
    assert not (tmp_path / "bt" / "predictions.csv").exists()
    # Nothing was trained or written from the damaged file.
    assert not settings.feature_tables_dir.exists()
