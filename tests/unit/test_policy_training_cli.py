"""``talentmap backtest`` and ``talentmap retrain`` pass their --policy to ingest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from talentmap.app.cli import app as talentmap_app
from talentmap.contract_sample import write_sample_dataset
from talentmap.errors import UserDataError
from talentmap.settings import Settings


class StopAfterIngestError(UserDataError):
    """Raised by the fake ingest: nothing after ingest needs to run."""


@pytest.mark.parametrize("command", ["backtest", "retrain"])
@pytest.mark.parametrize(("option", "expected"), [(None, "quarantine"), ("strict", "strict")])
def test_policy_option_reaches_ingest(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    option: str | None,
    expected: str,
) -> None:
    seen: dict[str, Any] = {}

    def fake_ingest(data_dir: Path, lake_dir: Path, *args: Any, **kwargs: Any) -> None:
        seen.update(kwargs)
        raise StopAfterIngestError(
            f"stopped after ingest was asked for policy {kwargs.get('policy')}"
        )

    # The configured policy is the default; --policy overrides it for this run only.
    configured = Settings(home=tmp_path / "home", lake={"policy": "quarantine"})
    monkeypatch.setattr("talentmap.training.pipeline.backtest.ingest", fake_ingest)
    monkeypatch.setattr("talentmap.settings.get_settings", lambda: configured)
    monkeypatch.setattr("talentmap.training.commands.retrain.get_settings", lambda: configured)
    app = talentmap_app
    data = write_sample_dataset(tmp_path / "data")
    args = ["--data", str(data)]
    if command == "backtest":
        args += ["--as-of", "2024-01-01", "--out", str(tmp_path / "out")]
    if option is not None:
        args += ["--policy", option]

    done = CliRunner().invoke(app, [command, *args], env={"COLUMNS": "250"})
    assert seen["policy"] == expected, done.output
    assert f"policy {expected}" in " ".join(done.output.split())
    # Both report the data error in one line with its code; retrain names its failed step.
    assert done.exit_code == 65, done.output
    assert configured.lake.policy == "quarantine"  # the override did not leak
