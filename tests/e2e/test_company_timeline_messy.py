"""The company page's timeline and the ranking diff on a messy, long-history export.

A Crunchbase-2013-style export (``tests/fixtures/messy_crunchbase.py``: founding dates back
to 1900, countries missing or wrong, undisclosed amounts, duplicates) goes through the real
``talentmap import crunchbase2013`` and ``talentmap ingest`` (repair policy). For every
organisation of the lake, the timeline is JSON-ready, in date order, holds nothing after
the snapshot date and no "NaT"/NaN; and the diff of two rankings of these organisations
(scores from two export dates) matches its rule whatever the regions hold.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures.messy_crunchbase import build_source

from talentmap.lake import Lake
from talentmap.serving.changes import ranking_changes
from talentmap.serving.company import LAKE_TABLES, timeline
from talentmap.serving.regions import map_region

pytestmark = pytest.mark.e2e

EXPORT = date(2025, 12, 31)
TALENTMAP = Path(sys.executable).parent / "talentmap"


def run(home: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALENTMAP_")}
    env.update(TALENTMAP_HOME=str(home), TALENTMAP_LOG_FORMAT="text", NO_COLOR="1")
    done = subprocess.run(
        [str(TALENTMAP), *args], cwd=home, env=env, capture_output=True, text=True, timeout=1200
    )
    assert done.returncode == 0, f"{done.args}\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def lake_tables(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, pd.DataFrame], date]:
    root = tmp_path_factory.mktemp("messy-timeline")
    export = root / "export"
    build_source(5, 300, EXPORT).write(export)
    home = root / "home"
    home.mkdir()
    run(home, "import", "crunchbase2013", str(export), "--out", "data/cb")
    run(home, "ingest", "data/cb")
    lake = Lake(home / "data" / "lake")
    latest = lake.latest()
    assert latest is not None
    return lake.load(latest.snapshot_id, LAKE_TABLES), date.fromisoformat(str(latest.snapshot_date))


def test_every_timeline_is_clean_and_point_in_time(lake_tables) -> None:
    tables, snapshot = lake_tables
    orgs = tables["organizations"]["org_id"].astype(str)
    kinds: set[str] = set()
    cut = date(snapshot.year - 2, snapshot.month, 1)
    for org in orgs:
        events = timeline(tables, org, snapshot)
        json.dumps(events, allow_nan=False)  # JSON-ready, no NaN float
        values = [e["date"] for e in events] + [v for e in events for v in e["detail"].values()]
        assert not {str(v) for v in values} & {"NaT", "nan", "NaN", "<NA>"}
        days = [e["date"] for e in events]
        assert days == sorted(days) and all(d <= snapshot.isoformat() for d in days)
        kinds |= {e["kind"] for e in events}
        # Earlier serving date: a prefix of the same events (nothing later leaks in).
        earlier = timeline(tables, org, cut)
        assert earlier == [e for e in events if e["date"] <= cut.isoformat()]
    assert {"founded", "round", "exit"} <= kinds
    founded = pd.to_datetime(tables["organizations"]["founded_on"]).dropna()
    oldest = founded.min().date().isoformat()
    assert oldest < "2000"  # the long tail of old companies is in the lake...
    assert (
        min(e["date"] for o in orgs for e in timeline(tables, o, snapshot)) == oldest
    )  # ...and shown


def test_ranking_diff_on_messy_regions(lake_tables) -> None:
    tables, _ = lake_tables
    orgs = tables["organizations"]
    rng = np.random.default_rng(3)
    regions = [
        map_region(None if pd.isna(c) else c, None if pd.isna(r) else r)
        for c, r in zip(orgs["country"], orgs["region"], strict=True)
    ]

    def ranking(noise: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "org_id": orgs["org_id"].astype(str),
                "name": orgs["name"],
                "region": regions,
                "sector": orgs.get("sector"),
                "score": rng.random(len(orgs)) * noise,
            }
        )

    before, after = ranking(1.0), ranking(1.0)
    result = ranking_changes(before, after, k=5)
    assert None not in result.regions  # unknown regions count overall only
    for name, scope in result.regions.items():
        b = before.loc[before["region"] == name].sort_values(
            ["score", "org_id"], ascending=[False, True]
        )
        a = after.loc[after["region"] == name].sort_values(
            ["score", "org_id"], ascending=[False, True]
        )
        top_b, top_a = set(b["org_id"][:5]), set(a["org_id"][:5])
        assert {c.org_id for c in scope.entrants} == top_a - top_b
        assert {c.org_id for c in scope.leavers} == top_b - top_a
    json.dumps(result.as_dict(), allow_nan=False)
    assert not math.isnan(result.overall.ranked_after)
