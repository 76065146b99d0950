"""Materialization writes what Feast's own ``materialize`` writes, as the service reads it.

``store.materialize`` picks each entity's latest row in its view's TTL window with DuckDB
and writes it through Feast's ``write_to_online_store`` in chunks (``online_load.py``);
Feast's ``FeatureStore.materialize`` reads the whole history. Two stores over the same
tables, one loaded each way, must serve the same online features (values, missing values
and the on-demand ones) at the materialization day and after it, when TTLs run out.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from fixtures.toy_world import random_world

from talentmap.features import store
from talentmap.features.build import build_feature_tables
from talentmap.settings import Settings

SNAPSHOT = date(2025, 12, 31)


def _home(root: Path, tables: dict[str, pd.DataFrame], chunk: int) -> Settings:
    settings = Settings(home=root, features={"materialize_batch_rows": chunk})
    store.write_feature_tables(tables, settings.feature_tables_dir, "snap-online", SNAPSHOT)
    store.apply(settings)
    return settings


@pytest.mark.e2e
@pytest.mark.parametrize(
    "end", [datetime(2021, 6, 30, tzinfo=UTC), datetime(2025, 12, 31, tzinfo=UTC)]
)
def test_online_features_equal_feasts_own_materialization(tmp_path: Path, end: datetime) -> None:
    world = random_world(160, 44)
    tables = build_feature_tables(world, SNAPSHOT)
    feast_home = _home(tmp_path / "feast", tables, 1000)
    ours = _home(tmp_path / "ours", tables, 37)  # several chunks per view

    store.open_store(feast_home).materialize(
        start_date=datetime(1970, 1, 1, tzinfo=UTC), end_date=end
    )
    store.materialize(ours, end)

    orgs = [*world["organizations"]["org_id"].astype(str), "no-such-org"]
    for when in (end, end + timedelta(days=45), end + timedelta(days=800)):
        expected = store.get_online_features(feast_home, orgs, when)
        got = store.get_online_features(ours, orgs, when)
        pd.testing.assert_frame_equal(got, expected, check_exact=True, obj=str(when))
        assert got.drop(columns=["org_id", "as_of"]).notna().any().any()

    # The registry records what was loaded, as after Feast's own materialize, so
    # `feast materialize-incremental` would start where this load ended.
    recorded = {
        view.name: view.most_recent_end_time
        for view in store.open_store(ours).list_batch_feature_views()
    }
    loaded = store.online_views() & set(recorded)  # the batch views read online
    assert loaded and {name for name, when in recorded.items() if when is not None} == loaded
    assert {recorded[name] for name in loaded} == {end}


@pytest.mark.e2e
def test_only_the_views_read_online_are_written(tmp_path: Path) -> None:
    """Feast writes one row per value, so the load skips views no online read asks for:
    a person's research counts are in Feast's own materialization, not in ours, and every
    view ``get_online_features`` reads is (its values served, as checked above)."""
    world = random_world(120, 9)
    tables = build_feature_tables(world, SNAPSHOT)
    end = datetime(2025, 12, 31, tzinfo=UTC)
    feast_home = _home(tmp_path / "feast", tables, 1000)
    ours = _home(tmp_path / "ours", tables, 1000)
    store.open_store(feast_home).materialize(
        start_date=datetime(1970, 1, 1, tzinfo=UTC), end_date=end
    )
    store.materialize(ours, end)

    assert "person_research" not in store.online_views()
    assert {"funding", "links", "market", "round_pool"} <= store.online_views()
    people = tables["person_research"]["person_id"].astype(str).unique().tolist()
    assert people, "the world should have persons with research"
    ref = ["person_research:person_n_papers"]
    rows = [{"person_id": person} for person in people]

    def read(settings: Settings) -> list[object]:
        online = store.open_store(settings).get_online_features(features=ref, entity_rows=rows)
        return online.to_dict()["person_n_papers"]

    assert any(value is not None for value in read(feast_home))
    assert all(value is None for value in read(ours))
