"""The feature store end to end, in a temporary home: build → write → apply → materialize
→ historical training frame and online retrieval through Feast."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from fixtures.toy_world import random_world

from talentmap.features import store
from talentmap.features.build import build_feature_tables
from talentmap.settings import Settings

SNAPSHOT = date(2025, 12, 31)


@pytest.mark.e2e
def test_build_apply_materialize_and_retrieve(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    world = random_world(120, 31)
    tables = build_feature_tables(world, SNAPSHOT)
    store.write_feature_tables(tables, settings.feature_tables_dir, "snap-e2e", SNAPSHOT)
    lineage = json.loads((settings.feature_tables_dir / "snapshot.json").read_text())
    assert lineage["snapshot_id"] == "snap-e2e" and lineage["rows"]["funding"] == len(
        tables["funding"]
    )

    store.apply(settings)
    assert (settings.feature_store_dir / "registry.db").is_file()

    orgs = world["organizations"]["org_id"].tolist()
    dates = [date(2018, 3, 31), date(2021, 9, 30), date(2024, 12, 31)]
    entity = pd.DataFrame({"org_id": orgs * len(dates), "as_of": [d for d in dates for _ in orgs]})
    training = store.get_training_frame(settings, entity)
    assert len(training) == len(entity)
    assert training["as_of"].dt.tz is not None and str(training["as_of"].dt.tz) == "UTC"
    assert training["n_rounds"].notna().any() and training["company_age_days"].notna().any()
    assert not any("gender" in c for c in training.columns)

    materialized_at = datetime(2025, 6, 30, tzinfo=UTC)
    store.materialize(settings, materialized_at)
    assert (settings.feature_store_dir / "online.db").is_file()

    sample = orgs[:15]
    online = store.get_online_features(settings, sample, materialized_at)
    at_end = store.get_training_frame(
        settings, pd.DataFrame({"org_id": sample, "as_of": materialized_at})
    )
    # Online values are the historical values at the materialization instant (stale hiring
    # rows expire online too).
    comparable = list(at_end.columns)
    pd.testing.assert_frame_equal(online[comparable], at_end[comparable], check_dtype=False)
    assert online.drop(columns=["org_id", "as_of"]).notna().any().any()

    unknown = store.get_online_features(settings, ["no-such-org"], materialized_at)
    assert unknown.drop(columns=["org_id", "as_of"]).isna().all().all()

    # Two months after the data ends, market cells and round pools (31-day TTL) have
    # expired in both paths, on-demand features computed from them included.
    store.materialize(settings, SNAPSHOT)
    later = datetime(2026, 3, 1, tzinfo=UTC)
    online = store.get_online_features(settings, sample, later)
    offline = store.get_training_frame(settings, pd.DataFrame({"org_id": sample, "as_of": later}))
    pd.testing.assert_frame_equal(online[comparable], offline[comparable], check_dtype=False)
    linked = ["market_rounds_12m", "sector_rounds_12m", "amount_last_vs_type_year_median"]
    assert online[linked].isna().all().all()
    assert online["amount_total_eur"].notna().any()
