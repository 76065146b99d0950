"""The layer contract names every module of the ``talentmap`` package.

import-linter only checks the modules a ``layers`` contract lists: a new ground module
left out of ``pyproject.toml`` could import upwards unnoticed. This keeps the list whole.
"""

from __future__ import annotations

import pkgutil
import re
import tomllib
from pathlib import Path

import talentmap

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _layered_modules() -> set[str]:
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    names: set[str] = set()
    for layer in contract["layers"]:
        names.update(part.strip() for part in re.split(r"[|:]", layer))
    return names


def test_every_talentmap_module_sits_in_a_layer() -> None:
    found = {f"talentmap.{m.name}" for m in pkgutil.iter_modules(talentmap.__path__)}
    # The stages import as talentmap.features/training/serving from their own folders.
    found |= {"talentmap.features", "talentmap.training", "talentmap.serving"}
    assert found - _layered_modules() == set(), "add these modules to a layer in pyproject.toml"


def test_the_layers_run_from_the_application_down_to_the_contract() -> None:
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (contract,) = [c for c in contracts if c["type"] == "layers"]
    top = [layer.split(":")[0].strip() for layer in contract["layers"][:4]]
    assert top == ["talentmap.app", "talentmap.serving", "talentmap.training", "talentmap.features"]
    assert "talentmap.settings" in contract["layers"][-1]
