"""How many entity rows go through Feast per historical-retrieval call.

Without ``features.retrieval_batch_rows`` the batch is sized from
``features.retrieval_batch_cells`` and the number of feature columns, so the join's
memory (which follows rows × columns) stays bounded when features are added.
"""

from __future__ import annotations

import pytest

from talentmap.features.store import promise_columns, retrieval_batch
from talentmap.settings import Settings
from talentmap.settings.root import FeatureSettings


def _settings(**features: object) -> Settings:
    return Settings(features=FeatureSettings(**features))


def test_the_default_batch_is_sized_from_the_feature_columns() -> None:
    settings = _settings()
    assert settings.features.retrieval_batch_rows is None
    columns = len(promise_columns())
    rows = retrieval_batch(settings, columns)
    assert rows == settings.features.retrieval_batch_cells // columns
    # Bounded in cells, and well under the 200,000 rows that took 1M retrain over 12 GB.
    assert rows * columns <= settings.features.retrieval_batch_cells
    assert rows < 50_000


def test_more_columns_mean_fewer_rows_per_batch() -> None:
    settings = _settings(retrieval_batch_cells=1_000_000)
    assert retrieval_batch(settings, 100) == 10_000
    assert retrieval_batch(settings, 200) == 5_000
    assert retrieval_batch(settings, 3_000_000) == 1  # never an empty batch


def test_an_explicit_row_count_wins() -> None:
    settings = _settings(retrieval_batch_rows=123, retrieval_batch_cells=1)
    assert retrieval_batch(settings, len(promise_columns())) == 123


def test_the_environment_sets_the_cell_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALENTMAP_FEATURES__RETRIEVAL_BATCH_CELLS", "760")
    settings = Settings()
    assert retrieval_batch(settings, 76) == 10


def test_a_zero_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="retrieval_batch_cells"):
        _settings(retrieval_batch_cells=0)
