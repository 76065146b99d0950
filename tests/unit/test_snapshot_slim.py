"""The slimmed snapshot (``snapshot_slim``) gives the post-build chain the same answers.

Everything retrain's train and publish steps compute from the snapshot's tables (training
rows with their drops and exclusions, candidates, labels and metrics, the fairness audit,
the founders file) is computed twice, from the full typed tables and from the slimmed
ones, on a generated world and on a messy Crunchbase-style export, and must be equal.
"""

from __future__ import annotations

import zlib
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from talentmap.settings import Settings
from talentmap.settings.training import TrainingConfig
from talentmap.training.evaluation.fairness_audit import audit_groups
from talentmap.training.pipeline.backtest import Snapshot, evaluate, load_snapshot
from talentmap.training.pipeline.candidates import CANDIDATE, candidate_status
from talentmap.training.pipeline.ranking_file import founder_rows
from talentmap.training.pipeline.rows import data_start, select_training_rows
from talentmap.training.pipeline.snapshot_slim import (
    FIRST_EVENT_ONLY,
    first_dated_rows,
    slim_snapshot,
)
from talentmap.training.pipeline.train import latest_covered_as_of


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    from talentmap.generate.world import generate_world

    root = tmp_path_factory.mktemp("slim-generated")
    generate_world(root / "world", 900, 4417)
    return load_snapshot(Settings(home=root), root / "world")


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    from fixtures.messy_crunchbase import build_source

    from talentmap.importers.common import ImportOptions
    from talentmap.importers.run import run_import

    root = tmp_path_factory.mktemp("slim-messy")
    build_source(11, 800, date(2025, 12, 31)).write(root / "export")
    run_import("crunchbase2013", ImportOptions(src=root / "export", out=root / "data"))
    return load_snapshot(Settings(home=root), root / "data")


def _scores(org_ids: pd.Series) -> dict[str, np.ndarray]:
    """A deterministic score per organisation (the metrics only need some ranking)."""
    ids = org_ids.astype(str).to_numpy()
    return {"model": np.array([zlib.crc32(i.encode()) / 2**32 for i in ids], dtype=np.float64)}


def _same_chain(full: Snapshot, config: TrainingConfig) -> None:
    slim = slim_snapshot(full)
    rules = config.rules
    when = pd.Timestamp(latest_covered_as_of(full.snapshot_date, rules.horizon_months))

    # Really slimmer: whole tables and columns gone, event tables cut to one row per org.
    assert slim.names() == full.names()
    assert "investments" not in slim.tables and "investments" in full.tables
    for table in FIRST_EVENT_ONLY:
        if table in full.tables and len(full.tables[table]):
            assert len(slim.tables[table]) <= full.tables[table]["org_id"].nunique()

    assert data_start(slim.tables) == data_start(full.tables)
    expected = select_training_rows(full.tables, when, rules, config)
    got = select_training_rows(slim.tables, when, rules, config)
    assert len(expected.rows) > 0
    pd.testing.assert_frame_equal(got.rows, expected.rows, check_exact=True)
    pd.testing.assert_frame_equal(got.exclusions, expected.exclusions, check_exact=True)
    assert got.dates == expected.dates
    assert got.dropped == expected.dropped
    assert got.refused_uncovered == expected.refused_uncovered
    assert got.age_fallback_rows == expected.age_fallback_rows

    status = candidate_status(full.tables, [when], rules)
    pd.testing.assert_frame_equal(
        candidate_status(slim.tables, [when], rules), status, check_exact=True
    )
    current = status.loc[status["status"] == CANDIDATE, "org_id"].reset_index(drop=True)
    scores = _scores(current)
    metrics, y = evaluate(full.tables, current, scores, when, rules, full.snapshot_date)
    slim_metrics, slim_y = evaluate(slim.tables, current, scores, when, rules, slim.snapshot_date)
    assert slim_metrics == metrics
    np.testing.assert_array_equal(slim_y, y)

    pd.testing.assert_frame_equal(
        audit_groups(slim.tables, current, when), audit_groups(full.tables, current, when)
    )
    pd.testing.assert_frame_equal(
        founder_rows(slim.tables, current, []), founder_rows(full.tables, current, [])
    )


def test_the_chain_sees_the_same_on_a_generated_world(generated: Snapshot) -> None:
    _same_chain(generated, TrainingConfig())


def test_the_chain_sees_the_same_on_a_messy_export(messy: Snapshot) -> None:
    # A small export: few companies per date, so the per-date minimum is lowered.
    _same_chain(messy, TrainingConfig(min_candidates_per_date=1))


def test_first_dated_rows_keeps_each_organisations_earliest_date() -> None:
    frame = pd.DataFrame(
        {
            "org_id": pd.Series(["b", "a", "a", None, "c", "b"], dtype=object),
            "posted_on": pd.to_datetime(
                ["2021-05-01", "2020-03-02", None, "2019-01-01", None, "2020-12-31"]
            ),
            "category": ["x"] * 6,
        }
    )
    got = first_dated_rows(frame, "posted_on")
    assert list(got.columns) == ["org_id", "posted_on"]
    assert got["org_id"].tolist() == ["a", "b"]  # c has no date, the null org is dropped
    assert got["posted_on"].tolist() == [pd.Timestamp("2020-03-02"), pd.Timestamp("2020-12-31")]
    assert got["posted_on"].dtype == frame["posted_on"].dtype


def test_a_table_without_its_date_column_stays_empty() -> None:
    frame = pd.DataFrame({"org_id": ["a"], "other": [1]})
    assert first_dated_rows(frame, "posted_on").empty


def test_slim_snapshot_of_a_slim_snapshot_keeps_the_names(tmp_path: Path) -> None:
    orgs = pd.DataFrame({"org_id": ["a"], "name": ["A"], "extra": [1]})
    full = Snapshot("s", date(2024, 1, 1), {"organizations": orgs, "jei_status": orgs})
    twice = slim_snapshot(slim_snapshot(full))
    assert twice.names() == ("jei_status", "organizations")
    assert list(twice.tables) == ["organizations"]
    assert list(twice.tables["organizations"].columns) == ["org_id", "name"]
