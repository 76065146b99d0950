"""Issue 13: the training commands fail with one line and a documented exit code.

A data directory with too few positives used to end ``talentmap backtest`` in a Python
traceback ("the train slice holds a single class"). Now it prints one line that says what
to change and exits 65 (``sysexits`` EX_DATAERR); ``--debug`` keeps the traceback.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from talentmap.app.cli import app
from talentmap.generate.world import generate_world
from talentmap.ingest import InvalidSnapshotError
from talentmap.lake import CorruptSnapshotError
from talentmap.settings import get_settings
from talentmap.training.commands.failures import EX_SOFTWARE, EX_TEMPFAIL, exit_code_of
from talentmap.training.pipeline.backtest import BacktestError
from talentmap.training.pipeline.errors import EX_DATAERR, UnusableDataError
from talentmap.training.pipeline.retrain import RetrainBusyError, RetrainError

AS_OF = "2021-06-30"
MILESTONES = ("series_a", "series_b", "series_c_plus")


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def few_positives(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated world where only three companies ever reach a milestone or exit."""
    root = tmp_path_factory.mktemp("few")
    world = root / "world"
    generate_world(world, 250, 13)
    out = root / "few_positives"
    shutil.copytree(world, out, ignore=shutil.ignore_patterns("truth"))
    rounds = _read(world / "funding_rounds.csv")
    amount = pd.to_numeric(rounds["amount_eur"], errors="coerce")
    milestone = rounds["round_type"].isin(MILESTONES) | (amount >= 5e6)
    keep = ~milestone | rounds.index.isin(rounds.index[milestone][:3])
    rounds.loc[keep].to_csv(out / "funding_rounds.csv", index=False)
    investments = _read(world / "investments.csv")
    investments = investments.loc[investments["round_id"].isin(rounds.loc[keep, "round_id"])]
    investments.to_csv(out / "investments.csv", index=False)
    exits = _read(world / "exits.csv")
    exits.loc[~exits["exit_kind"].isin(["acquired", "ipo"])].to_csv(out / "exits.csv", index=False)
    return out


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("TALENTMAP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TALENTMAP_TRAINING__MODEL__NUM_THREADS", "1")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


def _failure_line(output: str) -> str:
    # The progress bar may leave its last frame on stdout; the verdict is the last line.
    return _lines(output)[-1]


def test_backtest_with_too_few_positives_exits_65_with_one_line(
    few_positives: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["backtest", "--data", str(few_positives), "--as-of", AS_OF, "--out", str(home / "o")]
    done = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    assert done.exit_code == EX_DATAERR == 65, done.output
    assert "Traceback" not in done.output
    line = _failure_line(done.output)
    # By default every date falls under the per-date minimum of one positive.
    assert line.startswith("backtest refused: no usable training date"), line
    assert "too few positives" in line and "TALENTMAP_TRAINING__HISTORY_YEARS" in line
    assert "--as-of" in line
    # One line however narrow the terminal: nothing of the message spills over.
    assert sum("TALENTMAP_TRAINING" in x for x in _lines(done.output)) == 1
    assert not (home / "o" / "predictions.csv").exists()

    # Keeping dates without positives leaves too few positives for the model's slices.
    monkeypatch.setenv("TALENTMAP_TRAINING__MIN_POSITIVES_PER_DATE", "0")
    get_settings.cache_clear()
    done = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    assert done.exit_code == EX_DATAERR, done.output
    line = _failure_line(done.output)
    assert re.match(r"backtest refused: only [0-3] positive label\(s\) in ", line), line
    assert "TALENTMAP_TRAINING__MIN_POSITIVES_PER_SLICE" in line


def test_debug_shows_the_exception(few_positives: Path, home: Path) -> None:
    args = ["backtest", "--data", str(few_positives), "--as-of", AS_OF, "--out", str(home / "o")]
    done = CliRunner().invoke(app, [*args, "--debug"])
    assert isinstance(done.exception, UnusableDataError)
    assert done.exit_code != 0


def test_train_with_too_few_positives_exits_65(few_positives: Path, home: Path) -> None:
    done = CliRunner().invoke(app, ["train", "--data", str(few_positives)])
    assert done.exit_code == EX_DATAERR, done.output
    assert _failure_line(done.output).startswith("train refused: no usable training date")


def test_a_bug_is_one_line_and_exit_70(
    few_positives: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("org_id")

    monkeypatch.setattr("talentmap.training.pipeline.backtest.run_backtest", broken)
    args = ["backtest", "--data", str(few_positives), "--as-of", AS_OF, "--out", str(home / "o")]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == EX_SOFTWARE == 70, done.output
    line = _failure_line(done.output)
    assert line.startswith("backtest failed: internal error (KeyError)") and "--debug" in line


def test_exit_codes_are_the_documented_ones() -> None:
    data = UnusableDataError("too few positives")
    assert exit_code_of(data) == 65
    assert exit_code_of(InvalidSnapshotError(None, "breaks the contract")) == 65  # type: ignore[arg-type]
    assert exit_code_of(BacktestError("--as-of after the snapshot")) == 1
    assert exit_code_of(CorruptSnapshotError("funding_rounds.parquet is corrupt")) == 74
    # A retrain keeps the code of the data failure behind its step, and 1 for the rest.
    assert exit_code_of(RetrainError("train", data)) == 65
    assert exit_code_of(RetrainError("ingest", CorruptSnapshotError("corrupt"))) == 1
    assert exit_code_of(RetrainError("build", KeyError("x"))) == 1
    assert exit_code_of(RetrainBusyError("lock held")) == EX_TEMPFAIL == 75
    assert exit_code_of(ValueError("bug")) == 70
