"""Known errors print one line and a documented exit code; --debug shows the traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from talentmap.app.cli import app as talentmap_app
from talentmap.contract_sample import sample_dataset_info, sample_tables, write_dataset
from talentmap.errors import (
    ExitCode,
    StorageError,
    TalentMapError,
    UserDataError,
    reports_errors,
)
from talentmap.lake import CorruptSnapshotError, LakeError


def app_with(command: typer.models.CommandFunctionType) -> typer.Typer:
    app = typer.Typer()
    app.command("run")(command)
    app.command("noop")(lambda: None)  # a lone command would become the app itself
    return app


@reports_errors
def failing(
    kind: Annotated[str, typer.Option(help="Which error to raise.")] = "data",
) -> None:
    """A command that fails the way it is told to."""
    if kind == "data":
        raise UserDataError("organizations.csv line 7: country 'France' is not a code\nsecond")
    if kind == "storage":
        raise CorruptSnapshotError("tables/x.parquet: sha256 does not match")
    if kind == "disk":
        raise OSError(28, "No space left on device")
    raise RuntimeError("a bug")


@pytest.mark.parametrize(
    ("kind", "code", "text"),
    [
        ("data", 65, "organizations.csv line 7: country 'France' is not a code second"),
        ("storage", 74, "tables/x.parquet: sha256 does not match"),
        ("disk", 74, "[Errno 28] No space left on device"),
    ],
)
def test_known_errors_are_one_line_with_their_code(kind: str, code: int, text: str) -> None:
    done = CliRunner().invoke(app_with(failing), ["run", "--kind", kind])
    assert done.exit_code == code
    lines = done.stderr.strip().splitlines()
    assert lines == [f"error: {text}"]
    assert "Traceback" not in done.output


def test_debug_shows_the_traceback_and_bugs_are_not_hidden() -> None:
    done = CliRunner().invoke(app_with(failing), ["run", "--kind", "data", "--debug"])
    assert isinstance(done.exception, UserDataError)  # re-raised: Click prints the traceback
    done = CliRunner().invoke(
        app_with(failing), ["run", "--kind", "data"], env={"TALENTMAP_DEBUG": "1"}
    )
    assert isinstance(done.exception, UserDataError)
    bug = CliRunner().invoke(app_with(failing), ["run", "--kind", "bug"])
    assert bug.exit_code == 1 and isinstance(bug.exception, RuntimeError)


def test_the_hierarchy_and_codes() -> None:
    assert issubclass(UserDataError, TalentMapError) and UserDataError.exit_code == 65
    assert issubclass(LakeError, StorageError) and CorruptSnapshotError.exit_code == 74
    assert [int(c) for c in ExitCode] == [0, 1, 2, 65, 74, 75]
    with pytest.raises(TypeError, match="debug"):

        @reports_errors
        def clash(debug: bool = False) -> None: ...


def test_data_commands_show_the_report_then_one_error_line(tmp_path: Path) -> None:
    tables = sample_tables()
    tables["funding_rounds"].loc[0, "round_type"] = "series_z"
    bad = write_dataset(tmp_path / "bad", tables, dataset=sample_dataset_info())
    app = talentmap_app
    for args in (["validate", str(bad)], ["ingest", str(bad), "--lake", str(tmp_path / "lake")]):
        done = CliRunner().invoke(app, [*args, "--policy", "strict"], env={"COLUMNS": "200"})
        assert done.exit_code == 65, done.output
        assert "series_z" in done.stdout  # the report
        errors = done.stderr.strip().splitlines()
        assert len(errors) == 1 and errors[0].startswith("error: ")
        assert "Traceback" not in done.output
    assert not (tmp_path / "lake").exists()
