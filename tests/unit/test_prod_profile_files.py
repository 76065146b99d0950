"""The production profile's files and settings, without servers: generated state, the
two files handed to people (mode 0600), and the Feast store overlay (sql/redis)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from talentmap.app.prod.layout import (
    ProfileError,
    ProfileLayout,
    ensure_state,
    read_env_file,
    read_users_file,
    write_env_file,
    write_users_file,
)
from talentmap.app.prod.profile import environment
from talentmap.features.store import load_config, project_name, shared_store_overlay
from talentmap.settings import Settings
from talentmap.settings.root import FEAST_REDIS_URL_VAR, FEAST_REGISTRY_URL_VAR
from talentmap.training.pipeline.retrain import _version_settings


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_state_is_generated_once_and_kept(tmp_path: Path) -> None:
    layout = ProfileLayout(tmp_path / "prod")
    layout.prepare()
    first = ensure_state(layout)
    assert set(first["ports"]) == {"postgres", "redis", "mlflow"}
    assert len(set(first["passwords"].values())) == len(first["passwords"])
    assert ensure_state(layout) == first
    assert _mode(layout.state_file) == 0o600
    assert _mode(layout.root) == 0o711


def test_users_and_env_files_are_private_and_read_back(tmp_path: Path) -> None:
    layout = ProfileLayout(tmp_path / "prod")
    layout.prepare()
    state = ensure_state(layout)
    write_users_file(layout, state)
    users = read_users_file(layout.users_file)
    assert [(u["name"], u["role"]) for u in users] == [
        ("auditor", "auditor"),
        ("data-team", "data-team"),
        ("admin", "admin"),
    ]
    variables = environment(tmp_path, state)
    variables["ODD"] = 'it\'s $HOME; "quoted"'
    write_env_file(layout, variables)
    assert _mode(layout.users_file) == _mode(layout.env_file) == 0o600
    assert read_env_file(layout.env_file) == variables
    assert variables["MLFLOW_TRACKING_USERNAME"] == "data-team"
    assert variables["TALENTMAP_FEATURES__ONLINE_STORE"] == "redis"


def test_a_users_file_with_an_unknown_role_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"users": [{"name": "x", "password": "y", "role": "root"}]}))
    with pytest.raises(ProfileError, match="unknown role"):
        read_users_file(path)


def _shared(home: Path, store_dir: Path | None = None) -> Settings:
    settings = Settings(home=home)
    update = {"registry": "sql", "online_store": "redis"}
    if store_dir is not None:
        update["store_dir"] = store_dir
    return settings.model_copy(update={"features": settings.features.model_copy(update=update)})


def test_embedded_default_is_unchanged(tmp_path: Path) -> None:
    config = load_config(Settings(home=tmp_path))
    assert config.project == "talentmap"
    assert config.registry.registry_type == "file"
    assert str(config.online_store.type) == "sqlite"


def test_shared_stores_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _shared(tmp_path)
    monkeypatch.delenv(FEAST_REGISTRY_URL_VAR, raising=False)
    with pytest.raises(ValueError, match=FEAST_REGISTRY_URL_VAR):
        shared_store_overlay(settings, {"project": "talentmap"})
    monkeypatch.setenv(FEAST_REGISTRY_URL_VAR, "postgresql+psycopg://feast:pw@127.0.0.1:5/feast")
    monkeypatch.setenv(FEAST_REDIS_URL_VAR, "127.0.0.1:6,password=pw")
    config = load_config(settings)
    assert config.registry.registry_type == "sql"
    assert config.registry.path.startswith("postgresql+psycopg://")
    assert config.online_store.type == "redis"
    assert config.online_store.connection_string == "127.0.0.1:6,password=pw"
    assert config.project == project_name(settings) != "talentmap"


def test_each_store_folder_is_its_own_project_and_a_link_names_its_target(
    tmp_path: Path,
) -> None:
    one, two = tmp_path / "v1" / "feast", tmp_path / "v2" / "feast"
    one.mkdir(parents=True)
    two.mkdir(parents=True)
    live = tmp_path / "live"
    live.symlink_to(one, target_is_directory=True)
    assert project_name(_shared(tmp_path, one)) != project_name(_shared(tmp_path, two))
    assert project_name(_shared(tmp_path, live)) == project_name(_shared(tmp_path, one))


def test_a_retrain_version_keeps_the_kind_of_stores(tmp_path: Path) -> None:
    staged = _version_settings(_shared(tmp_path), tmp_path / "versions" / "v1")
    assert staged.features.registry == "sql" and staged.features.online_store == "redis"
    assert staged.feature_store_dir == tmp_path / "versions" / "v1" / "feast"
