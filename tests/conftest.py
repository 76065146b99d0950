"""Fixtures shared by every tier of tests.

Worlds are generated once per session and kept small: the suite must stay well under
fifteen minutes on two cores. Nothing here touches the project's own data/ folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from talentmap.settings import Settings

SMALL_WORLD_ORGS = 600
SMALL_WORLD_SEED = 11


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated world, shared read-only by the tests that need one."""
    from talentmap.generate.world import generate_world

    out = tmp_path_factory.mktemp("world") / "world"
    generate_world(out, SMALL_WORLD_ORGS, SMALL_WORLD_SEED)
    return out


@pytest.fixture()
def isolated_settings(tmp_path: Path) -> Settings:
    """Settings whose every store lives under a fresh temporary home."""
    return Settings(home=tmp_path)
