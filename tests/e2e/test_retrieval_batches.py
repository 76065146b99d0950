"""Historical retrieval in batches (``features.retrieval_batch_rows``) gives the one-call frame.

The batches bound the memory of Feast's point-in-time join on large worlds (issue 10 §2);
they must not move a single value or the row order the model and the ranking rely on.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures.toy_world import random_world

from talentmap.features import store
from talentmap.features.build import build_feature_tables
from talentmap.settings import Settings

SNAPSHOT = date(2025, 12, 31)


def _with_batch(settings: Settings, rows: int) -> Settings:
    features = settings.features.model_copy(update={"retrieval_batch_rows": rows})
    return settings.model_copy(update={"features": features})


@pytest.mark.e2e
def test_batched_retrieval_equals_one_call(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    world = random_world(120, 31)
    tables = build_feature_tables(world, SNAPSHOT)
    store.write_feature_tables(tables, settings.feature_tables_dir, "snap-batches", SNAPSHOT)
    feast = store.apply(settings)

    orgs = world["organizations"]["org_id"].tolist()
    dates = [date(2018, 3, 31), date(2021, 9, 30), date(2024, 12, 31), date(2025, 12, 31)]
    entity = pd.DataFrame({"org_id": orgs * len(dates), "as_of": [d for d in dates for _ in orgs]})
    # Shuffled, with a non-default index: the batches are cut in as-of order, and the
    # frame must come back in the caller's order all the same.
    entity = entity.sample(frac=1.0, random_state=5).set_index(np.arange(len(entity)) * 3)

    whole = store.get_training_frame(_with_batch(settings, len(entity)), entity, feast)
    batched = store.get_training_frame(_with_batch(settings, 97), entity, feast)

    assert len(whole) == len(entity) and whole["n_rounds"].notna().any()
    assert whole["org_id"].tolist() == entity["org_id"].tolist()
    pd.testing.assert_frame_equal(batched, whole)
