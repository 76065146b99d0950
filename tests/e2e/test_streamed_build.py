"""The retrain chain's streamed feature build writes the tables the one-shot build writes.

``backtest.build_features`` builds and writes one family at a time (issue 10 §2: on a
large world the feature tables together outweigh the lake tables); the files must be
those of ``build_feature_tables`` + ``drop_opted_out_features`` + ``write_feature_tables``,
value for value, opt-outs included.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from talentmap.features.build import build_feature_tables
from talentmap.features.catalog import FAMILIES
from talentmap.features.store import table_path, write_feature_tables
from talentmap.optouts import drop_opted_out_features
from talentmap.settings import Settings
from talentmap.training.pipeline.backtest import build_features, load_snapshot


@pytest.mark.e2e
@pytest.mark.parametrize("chunk_orgs", [25_000, 97])
def test_streamed_build_writes_the_one_shot_tables(
    small_world: Path, tmp_path: Path, chunk_orgs: int
) -> None:
    # 97 organisations a chunk: many chunks, appended one by one to each family's file.
    settings = Settings(home=tmp_path / "home", features={"build_chunk_orgs": chunk_orgs})
    snapshot = load_snapshot(settings, small_world)
    opt_outs = snapshot.tables.get("opt_outs")
    assert opt_outs is not None and len(opt_outs) > 0  # the opt-out filter is exercised

    build_features(settings, snapshot)  # streamed, then applied

    one_shot = drop_opted_out_features(
        build_feature_tables(snapshot.tables, snapshot.snapshot_date, settings.training.rules),
        opt_outs,
    )
    reference = tmp_path / "reference"
    write_feature_tables(one_shot, reference, snapshot.snapshot_id, snapshot.snapshot_date)

    for family in FAMILIES:
        streamed = pd.read_parquet(table_path(settings.feature_tables_dir, family))
        expected = pd.read_parquet(table_path(reference, family))
        pd.testing.assert_frame_equal(streamed, expected, obj=family)
    lineage = json.loads((settings.feature_tables_dir / "snapshot.json").read_text())
    assert lineage["rows"] == {family: len(frame) for family, frame in one_shot.items()}
    assert list(lineage["rows"]) == list(FAMILIES)
