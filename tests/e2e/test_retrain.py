"""``retrain`` end to end on a small world: real Feast, real MLflow (SQLite), real lock.

- the first run registers, promotes and publishes a feature-store version;
- a run that fails in the middle leaves the champion and the live store untouched;
- a second process cannot retrain while the lock is held;
- a run on the champion's own snapshot, code and config is a no-op.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
from filelock import FileLock

from talentmap.settings import Settings
from talentmap.settings.model import ModelConfig
from talentmap.settings.training import TrainingConfig
from talentmap.training.pipeline import retrain as retrain_module
from talentmap.training.pipeline.retrain import RetrainBusyError, RetrainError, retrain
from talentmap.training.tracking.provenance import GitState
from talentmap.training.tracking.target import activate, resolve_target

pytestmark = pytest.mark.e2e


def _settings(home: Path) -> Settings:
    return Settings(home=home, training=TrainingConfig(model=ModelConfig(num_threads=1)))


def _champion(settings: Settings) -> str:
    target = resolve_target(settings)
    with activate(target) as client:
        return str(client.get_model_version_by_alias(target.registered_model, "champion").version)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def trained(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = _settings(tmp_path_factory.mktemp("retrain-home"))
    outcome = retrain(settings, small_world)
    assert not outcome.skipped and outcome.promoted
    return settings


def test_first_retrain_promotes_and_publishes(trained: Settings) -> None:
    assert _champion(trained) == "1"
    live = trained.feature_store_dir
    assert live.is_symlink() and (live / "online.db").is_file()
    assert trained.feature_tables_dir.is_symlink()


def test_failure_mid_retrain_leaves_champion_and_store_untouched(
    trained: Settings, small_world: Path
) -> None:
    online = trained.feature_store_dir / "online.db"
    before = (_champion(trained), trained.feature_store_dir.resolve(), _digest(online))
    versions_before = set((trained.path(trained.retrain.versions_dir)).iterdir())

    def explode(step: str) -> None:
        if step == "promote":  # after build, materialize, train and registration
            raise RuntimeError("simulated crash")

    with pytest.raises(RetrainError) as failed:
        retrain(trained, small_world, force=True, on_step=explode)
    assert failed.value.step == "promote"
    assert (_champion(trained), trained.feature_store_dir.resolve(), _digest(online)) == before
    # The failed run's half-built store is gone; the live one is still there.
    assert set(trained.path(trained.retrain.versions_dir).iterdir()) == versions_before


def test_lock_refuses_a_concurrent_retrain(trained: Settings, small_world: Path) -> None:
    with FileLock(str(trained.path(trained.retrain.lock_file))), pytest.raises(RetrainBusyError):
        retrain(trained, small_world, force=True)


def test_retrain_on_the_champions_snapshot_code_and_config_is_a_no_op(
    trained: Settings, small_world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = resolve_target(trained)
    with activate(target) as client:
        champion = client.get_model_version_by_alias(target.registered_model, "champion")
        commit = client.get_run(champion.run_id).data.tags["git.commit"]
    # The champion was trained from this checkout; pretend it is clean and at that commit.
    monkeypatch.setattr(
        "talentmap.training.tracking.provenance.git_state",
        lambda where=None: GitState(commit=commit, dirty=False),
    )
    outcome = retrain(trained, small_world)
    assert outcome.skipped, outcome.reason
    assert _champion(trained) == str(champion.version)

    # Another configuration is another model: it must retrain.
    changed = trained.model_copy(
        update={"training": TrainingConfig(model=ModelConfig(num_threads=1, learning_rate=0.02))}
    )
    assert retrain_module.config_fingerprint(changed) != retrain_module.config_fingerprint(trained)


def test_publish_ranks_in_batch_and_logs_the_list_to_the_champions_run(
    trained: Settings, tmp_path: Path
) -> None:
    """The ranking went live with the tables, equals the online store's scores, and the
    champion's run holds the very same Parquet file for an auditor."""
    import numpy as np
    import pyarrow.parquet as pq

    from talentmap.features.store import get_online_features, pin_feature_dtypes
    from talentmap.training.pipeline import ranking_file
    from talentmap.training.pipeline.batch_ranking import load_registered_model

    published = ranking_file.read_ranking(trained.feature_tables_dir)
    assert published is not None
    folder = ranking_file.folder_of(trained.feature_tables_dir.resolve())
    assert published.folder == folder  # inside the live version, flipped with the tables
    meta = published.meta
    assert meta["model_version"] == _champion(trained) and meta["rows"] > 0
    frame = published.table.to_pandas()
    top_n = trained.serving.ranking_reasons_top_n
    assert frame["reason_1"].iloc[: min(top_n, len(frame))].notna().all()
    assert frame["reason_1"].iloc[top_n:].isna().all()

    target = resolve_target(trained)
    with activate(target) as client:
        local = client.download_artifacts(meta["run_id"], "ranking/ranking.parquet", str(tmp_path))
    assert _digest(Path(local)) == _digest(folder / ranking_file.PARQUET_FILE)
    assert pq.read_table(local).equals(published.table)

    # Offline in one batch = what the service would compute from the online store.
    ids = frame["org_id"].head(40).tolist()
    as_of = date.fromisoformat(meta["as_of"])
    online = pin_feature_dtypes(get_online_features(trained, ids, as_of))
    online["org_id"] = ids
    model = load_registered_model(trained, meta["model_version"]).model
    np.testing.assert_allclose(
        model.predict_proba(online)[:, 1], frame["score"].head(40).to_numpy(), rtol=1e-6
    )
