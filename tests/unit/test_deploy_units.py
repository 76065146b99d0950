"""deploy/: the systemd units parse, start real ``talentmap`` subcommands with options
those commands accept, and read an environment file systemd can read (issue 12)."""

from __future__ import annotations

import configparser
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer

from talentmap.app.cli import app as talentmap_app
from talentmap.app.prod.layout import ProfileLayout, read_env_file, write_env_file

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SERVICES = sorted(DEPLOY.glob("*.service"))
ENV_FILE = "/srv/talentmap/data/prod/production.env"


def _unit(path: Path) -> configparser.ConfigParser:
    # systemd allows repeated keys (Environment=); the last one wins here, which is enough.
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser


def _is_group(command: Any) -> bool:
    # Typer ships its own copy of Click: test the shape, not the class.
    return hasattr(command, "list_commands")


def _leaf(argv: list[str]) -> tuple[Any, list[str]]:
    """The talentmap (sub)command ``argv`` names, and the arguments left for it."""
    command: Any = typer.main.get_command(talentmap_app)
    rest = list(argv)
    while _is_group(command) and rest and not rest[0].startswith("-"):
        found = command.get_command(command.make_context("talentmap", [rest[0]]), rest[0])
        assert found is not None, f"talentmap has no subcommand {rest[0]!r} ({argv})"
        command, rest = found, rest[1:]
    return command, rest


def test_the_expected_units_are_there() -> None:
    assert {p.name for p in SERVICES} == {
        "talentmap-serve.service",
        "talentmap-mlflow.service",
        "talentmap-retrain.service",
        "talentmap-stores.service",
    }
    assert (DEPLOY / "talentmap-retrain.timer").is_file()
    assert (DEPLOY / "Caddyfile").is_file() and (DEPLOY / "README.md").is_file()


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.name)
def test_exec_start_is_a_talentmap_subcommand_with_valid_options(path: Path) -> None:
    unit = _unit(path)
    assert unit.has_section("Unit") and unit.has_section("Service")
    service = unit["Service"]
    for key in ("ExecStart", "ExecStop"):
        if key not in service:
            continue
        argv = shlex.split(service[key])
        assert argv[0] == "/srv/talentmap/.venv/bin/talentmap", argv
        command, rest = _leaf(argv[1:])
        assert not _is_group(command), f"{argv} names a group, not a command"
        # Parse (not run) the options: an unknown option or a bad value fails here.
        command.make_context(argv[1], rest)
    assert service.get("User") == "talentmap"
    assert service.get("WorkingDirectory") == "/srv/talentmap"


@pytest.mark.parametrize("name", ["talentmap-serve.service", "talentmap-retrain.service"], ids=str)
def test_the_commands_read_the_profile_environment_file(name: str) -> None:
    service = _unit(DEPLOY / name)["Service"]
    assert service["EnvironmentFile"] == ENV_FILE
    # JSON lines in the journal, whatever the terminal (docs/OPERATIONS.md, alerts).
    assert "Environment=TALENTMAP_LOG_FORMAT=json" in (DEPLOY / name).read_text()


def test_the_timer_starts_the_retrain_weekly() -> None:
    timer = _unit(DEPLOY / "talentmap-retrain.timer")
    assert timer["Timer"]["Unit"] == "talentmap-retrain.service"
    assert timer["Timer"]["OnCalendar"].startswith("Mon ")
    assert timer["Install"]["WantedBy"] == "timers.target"
    retrain = _unit(DEPLOY / "talentmap-retrain.service")["Service"]
    assert retrain["Type"] == "oneshot" and "75" in retrain["SuccessExitStatus"].split()


def _systemd_environment(path: Path) -> dict[str, str]:
    """What systemd's EnvironmentFile= takes from a file: ``NAME=value`` lines (one level
    of single or double quotes removed); lines without ``=`` or starting with # are
    ignored, and so is an ``export NAME=value`` line (not a valid variable name)."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        name, value = line.split("=", 1)
        if not name.isidentifier():
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[name] = value
    return out


def test_production_env_reads_the_same_in_bash_and_systemd(tmp_path: Path) -> None:
    layout = ProfileLayout(tmp_path / "prod")
    variables = {
        "TALENTMAP_HOME": "/srv/talentmap",
        "TALENTMAP_FEAST_REDIS_URL": "127.0.0.1:6400,password=Ab-c_1",
        "MLFLOW_TRACKING_PASSWORD": "Xy_z-0123",
    }
    write_env_file(layout, variables)
    assert _systemd_environment(layout.env_file) == variables
    assert read_env_file(layout.env_file) == variables
    shown = subprocess.run(
        ["bash", "-c", f'source "{layout.env_file}" && env -0'],
        capture_output=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout.decode()
    exported = dict(item.split("=", 1) for item in shown.split("\0") if "=" in item)
    for name, value in variables.items():
        assert exported[name] == value  # exported to the commands it starts
