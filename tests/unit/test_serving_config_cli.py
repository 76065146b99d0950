"""Serving configuration, the champion's local cache, and the CLI's offline parts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.toy_rows import toy_training_rows
from pydantic import ValidationError
from typer.testing import CliRunner

from talentmap.app.cli import app as talentmap_app
from talentmap.serving.auth import hash_key
from talentmap.serving.champion import (
    ChampionInfo,
    ChampionUnavailableError,
    _cache,
    cached_champion,
    load_champion,
)
from talentmap.serving.commands import serve as serve_commands
from talentmap.serving.commands import shortlist as shortlist_commands
from talentmap.settings import Settings
from talentmap.settings.model import ModelConfig
from talentmap.settings.serving import ApiKeyEntry, ServingConfig
from talentmap.settings.tracking import TrackingConfig
from talentmap.training.model.estimator import PromiseModel
from talentmap.training.tracking.target import resolve_target


def test_key_entries_are_validated() -> None:
    entry = ApiKeyEntry(name="sam", role="staff", sha256=hash_key("k").upper())
    assert entry.sha256 == hash_key("k")  # normalised to lower case
    with pytest.raises(ValidationError, match="64 hex"):
        ApiKeyEntry(name="sam", role="staff", sha256="not-a-hash")
    with pytest.raises(ValidationError):
        ApiKeyEntry(name="sam", role="root", sha256=hash_key("k"))
    with pytest.raises(ValidationError, match="distinct name"):
        ServingConfig(api_keys=[entry, entry])
    assert ServingConfig(workers=2).workers == 2  # they all map the published ranking
    with pytest.raises(ValidationError):
        ServingConfig(workers=0)


def test_config_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = [{"name": "ada", "role": "admin", "sha256": hash_key("x")}]
    monkeypatch.setenv("TALENTMAP_SERVING__API_KEYS", json.dumps(keys))
    monkeypatch.setenv("TALENTMAP_SERVING__RELOAD_POLL_SECONDS", "5")
    config = Settings().serving
    assert config.api_keys[0].name == "ada" and config.reload_poll_seconds == 5
    assert config.host == "127.0.0.1" and config.default_k == 50


def _model(tmp_path: Path) -> Path:
    frame, y, as_of = toy_training_rows(seed=1, n_dates=12, per_date=150)
    model = PromiseModel(
        ModelConfig(num_threads=1, n_estimators=20), features=["n_rounds", "n_founders_phd"]
    )
    return model.fit(frame, y, as_of).save(tmp_path / "saved")


def test_unreachable_registry_serves_the_cached_champion(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    target = resolve_target(
        config=TrackingConfig(uri=f"sqlite:///{blocker}/store.db"), home=tmp_path
    )
    cache = tmp_path / "cache"
    with pytest.raises(ChampionUnavailableError, match="no champion is cached"):
        load_champion(target, "champion", cache)
    info = ChampionInfo("talent-promise", "champion", "4", "run", None, None, {"model.auc_pr": 0.3})
    _cache(cache, info, _model(tmp_path))
    assert cached_champion(cache)[0] == info
    served, model = load_champion(target, "champion", cache)
    assert served.version == "4" and served.source == "cache"
    assert "cached champion version 4" in served.warning
    assert model.feature_names_ == ["n_rounds", "n_founders_phd"]


def test_csv_output_defuses_formulas() -> None:
    row = {
        "rank": 1,
        "org_id": "org-1",
        "name": '=HYPERLINK("http://x")',
        "region": "Occitanie",
        "city": None,
        "sector": "saas",
        "score": 0.5,
        "percentile": 99.0,
        "founders": [{"name": "@evil", "role": "CEO"}],
        "reasons": [{"text": "Raised 2 rounds (raises the score)"}],
    }
    text = shortlist_commands.to_csv([row])
    lines = text.splitlines()
    assert lines[0].split(",")[:3] == ["rank", "org_id", "name"]
    assert "'=HYPERLINK" in lines[1] and "'@evil" in lines[1]


def _answer_with_french_reason(name: str) -> dict:
    reason = {
        "text": "Raised 2 rounds (raises the score)",
        "texts": {"en": "Raised 2 rounds (raises the score)", "fr": "A levé 2 tours (hausse)"},
    }
    row = {
        "rank": 1,
        "org_id": "org-1",
        "name": name,
        "region": "Occitanie",
        "city": "Toulouse",
        "sector": "saas",
        "score": 0.5,
        "percentile": 99.0,
        "founders": [{"name": "Ada [CTO]", "role": "CTO"}],
        "reasons": [reason, {"text": "Older server: English only"}],
    }
    lineage = {
        "model_version": "1",
        "as_of": "2026-01-31",
        "run_id": "r",
        "feature_snapshot_id": "f",
    }
    return {"candidates": [row], "matching": 1, "total_candidates": 1, "lineage": lineage}


def test_shortlist_reasons_in_the_chosen_language() -> None:
    answer = _answer_with_french_reason("Acme")
    french = shortlist_commands.to_csv(answer["candidates"], "fr").splitlines()[1]
    english = shortlist_commands.to_csv(answer["candidates"], "en").splitlines()[1]
    assert "A levé 2 tours (hausse)" in french and "Raised 2 rounds" not in french
    assert "Raised 2 rounds (raises the score)" in english
    # A reason without French wording (an older server) falls back to its English text.
    assert "Older server: English only" in french


def test_shortlist_table_prints_source_names_verbatim() -> None:
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(shortlist_commands.to_table(_answer_with_french_reason("Acme [beta]"), "fr"))
    text = console.export_text()
    assert "Acme [beta]" in text and "Ada [CTO]" in text and "A levé 2 tours" in text


def test_shortlist_refuses_an_unknown_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALENTMAP_API_KEY", "k")
    result = CliRunner().invoke(talentmap_app, ["shortlist", "--lang", "de"])
    assert result.exit_code != 0 and "--lang must be one of en, fr" in result.output


def test_keys_commands() -> None:
    app = talentmap_app
    runner = CliRunner()
    hashed = runner.invoke(app, ["keys", "hash"], input="my-secret-key\n")
    assert hashed.exit_code == 0 and hashed.stdout.strip() == hash_key("my-secret-key")
    created = runner.invoke(app, ["keys", "new", "--name", "sam", "--role", "admin"])
    assert created.exit_code == 0
    key = created.stdout.strip().splitlines()[0]
    assert hash_key(key) in created.output and '"role": "admin"' in created.output


def test_serve_command_line_is_loopback_bentoml() -> None:
    argv = serve_commands.serve_argv("127.0.0.1", 3000)
    assert argv[1:4] == ["-m", "bentoml", "serve"]
    assert argv[4] == serve_commands.SERVICE_TARGET
    assert argv[-4:] == ["--host", "127.0.0.1", "--port", "3000"]
