"""The feature build and the online load say how far they are (issue 10 §2).

At a million organisations ``talentmap features build`` ran for 15 minutes without a line.
The chunked build now logs one line per family and organisation chunk, the online load
one per feature view, through the project's logging: readable text with
``TALENTMAP_LOG_FORMAT=text``, JSON lines (with ``family``, ``chunk``, ``rows``,
``duration_s``) in JSON mode. Both are read here from the real console command.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from fixtures.toy_world import random_world

from talentmap.features import chunked
from talentmap.features.build import BUILDERS
from talentmap.features.spark_build import ORG_LOCAL

TALENTMAP = str(Path(sys.executable).with_name("talentmap"))
CHUNK = 150  # 400 organisations: three chunks


def _run(home: Path, fmt: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TALENTMAP_HOME": str(home),
        "TALENTMAP_LOG_FORMAT": fmt,
        "TALENTMAP_FEATURES__BUILD_CHUNK_ORGS": str(CHUNK),
        "COLUMNS": "200",
        "NO_COLOR": "1",
    }
    done = subprocess.run([TALENTMAP, *args], cwd=home, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done


def test_chunked_build_logs_every_family_and_chunk(caplog: pytest.LogCaptureFixture) -> None:
    world = random_world(90, 7)
    with caplog.at_level(logging.INFO, logger="talentmap.features.chunked"):
        built = list(chunked.iter_chunks(world, date(2025, 12, 31), None, 40))
    records = [r for r in caplog.records if r.name == "talentmap.features.chunked"]
    chunks = len(chunked.org_chunks(world, 40))
    assert chunks > 1
    logged = [(r.family, r.chunk) for r in records if getattr(r, "family", None)]
    # One line per yielded table part, in the same order: the log follows the build.
    assert [family for family, _ in logged] == [family for family, _ in built]
    for family in ORG_LOCAL & set(BUILDERS):
        assert [chunk for f, chunk in logged if f == family] == list(range(1, chunks + 1))
    assert {family for family, _ in logged} == set(BUILDERS)
    assert all(r.duration_s >= 0 and r.cpu_s >= 0 and r.rows >= 0 for r in records)


@pytest.mark.e2e
def test_build_and_materialize_print_progress_as_text_and_json(tmp_path: Path) -> None:
    world = tmp_path / "world"
    _run(tmp_path, "text", "generate", "--out", str(world), "--orgs", "400", "--seed", "5")
    _run(tmp_path, "text", "ingest", str(world))

    text = _run(tmp_path, "text", "features", "build").stderr
    for family in ("funding", "hiring", "investors", "market"):
        assert f"feature build: {family}" in text, text
    assert "funding chunk 3/3:" in text and "funding chunk 1/3:" in text, text
    assert not any(line.startswith("{") for line in text.splitlines())

    lines = _run(tmp_path, "json", "features", "build").stderr.splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    steps = [r for r in records if r.get("progress") == "features build"]
    assert {(r["family"], r["chunk"]) for r in steps if r["family"] == "team"} == {
        ("team", 1),
        ("team", 2),
        ("team", 3),
    }
    assert all(r["command"] == "features build" and r["duration_s"] >= 0 for r in steps)
    # A "step" field would end a retrain step for readers of the retrain log (the scale
    # benchmark resets its peak-memory reading at each one).
    assert not any("step" in r for r in steps)

    _run(tmp_path, "text", "features", "apply")
    loaded = _run(tmp_path, "text", "features", "materialize").stderr
    assert "materialized funding: latest rows of" in loaded, loaded
