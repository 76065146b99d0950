"""The feature build by organisation chunks writes the whole build's tables, row for row.

``features/chunked.py`` cuts the organisations into chunks of sorted ids: the
organisation-local families are built on each chunk's rows, the investors, co-investors
and cohorts compute their shared tables once and the companies' rows chunk by chunk.
Whatever the chunk size, the tables (and the Parquet files the streamed writer appends
chunk by chunk) must be the whole build's, value for value and in the same order: on a
random world full of gaps, on a generated world from the lake, and on a messy Crunchbase
2013 export (late listings, undated roles, dangling keys).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from fixtures import reference_investors, reference_network
from fixtures.toy_world import random_world

from talentmap.features import chunked
from talentmap.features.build import build_feature_tables, finalize
from talentmap.features.catalog import FAMILIES, table_path
from talentmap.features.engine import build_and_write
from talentmap.features.prepare import prepare
from talentmap.features.store import write_feature_tables
from talentmap.lake import Lake
from talentmap.optouts import drop_opted_out_features
from talentmap.settings import Settings

SNAPSHOT = date(2025, 12, 31)


def _lake_tables(data: Path, lake_dir: Path) -> tuple[str, date, dict[str, pd.DataFrame]]:
    from talentmap.ingest import ingest

    result = ingest(data, lake_dir)
    lake = Lake(lake_dir)
    snapshot_date = lake.get(result.snapshot_id).snapshot_date or SNAPSHOT
    return result.snapshot_id, snapshot_date, lake.load(result.snapshot_id)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, date, dict]:
    from talentmap.generate.world import generate_world

    root = tmp_path_factory.mktemp("chunked-generated")
    generate_world(root / "world", 1500, 9302)
    return _lake_tables(root / "world", root / "lake")


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, date, dict]:
    from fixtures.messy_crunchbase import build_source

    from talentmap.importers.common import ImportOptions
    from talentmap.importers.run import run_import

    root = tmp_path_factory.mktemp("chunked-messy")
    build_source(11, 800, SNAPSHOT).write(root / "export")
    run_import("crunchbase2013", ImportOptions(src=root / "export", out=root / "data"))
    return _lake_tables(root / "data", root / "lake")


def _assert_same_tables(got: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame]) -> None:
    assert set(got) == set(expected) == set(FAMILIES)
    for family, frame in expected.items():
        pd.testing.assert_frame_equal(got[family], frame, check_exact=True, obj=family)


def _check(tables: dict[str, pd.DataFrame], snapshot: date, chunk_orgs: int) -> None:
    expected = build_feature_tables(tables, snapshot)
    assert len(chunked.org_chunks(tables, chunk_orgs)) > 2  # really cut
    _assert_same_tables(
        dict(chunked.iter_tables_chunked(tables, snapshot, None, chunk_orgs)), expected
    )
    for family in ("hiring", "investors", "coinvestors", "program_cohort"):
        assert len(expected[family]) > 0, family


@pytest.mark.parametrize(("seed", "chunk_orgs"), [(3, 7), (8, 61)])
def test_chunks_equal_the_whole_build_on_a_random_world(seed: int, chunk_orgs: int) -> None:
    _check(random_world(300, seed), SNAPSHOT, chunk_orgs)


def test_chunks_equal_the_whole_build_on_a_generated_world(generated: tuple) -> None:
    _, snapshot, tables = generated
    _check(tables, snapshot, 170)


def test_chunks_equal_the_whole_build_on_a_messy_crunchbase_export(messy: tuple) -> None:
    _, snapshot, tables = messy
    _check(tables, snapshot, 97)


def test_rows_naming_an_unlisted_organisation_are_chunked_with_it() -> None:
    world = random_world(150, 9)
    for name in ("funding_rounds", "roles", "job_postings", "programs"):
        frame = world[name]
        extra = frame.iloc[:3].copy()
        extra["org_id"] = "unlisted-org"
        if name == "funding_rounds":
            extra["round_id"] = [f"unlisted-round-{i}" for i in range(len(extra))]
        world[name] = pd.concat([frame, extra], ignore_index=True)
    _check(world, SNAPSHOT, 11)


def test_the_streamed_files_equal_the_whole_build_files(tmp_path: Path, messy: tuple) -> None:
    """``build_and_write`` (chunks appended to each family's Parquet file, opted-out rows
    dropped chunk by chunk) writes what the whole build and ``write_feature_tables`` write."""
    snapshot_id, snapshot, tables = messy
    settings = Settings(home=tmp_path / "streamed", features={"build_chunk_orgs": 53})
    rows = build_and_write(settings, tables, snapshot, snapshot_id)
    whole = drop_opted_out_features(build_feature_tables(tables, snapshot), tables.get("opt_outs"))
    write_feature_tables(whole, tmp_path / "whole", snapshot_id, snapshot)
    assert rows == {family: len(frame) for family, frame in whole.items()}
    for family in FAMILIES:
        got = pd.read_parquet(table_path(settings.feature_tables_dir, family))
        expected = pd.read_parquet(table_path(tmp_path / "whole", family))
        pd.testing.assert_frame_equal(got, expected, check_exact=True, obj=family)


# The builders before the chunked build: whole-table queries, one ASOF join per pair.
REFERENCE = {
    "investors": reference_investors.build_investors,
    "coinvestors": reference_network.build_coinvestors,
    "program_cohort": reference_network.build_program_cohort,
}


def _check_reference(tables: dict[str, pd.DataFrame], snapshot: date, chunk_orgs: int) -> None:
    """The chunked investors, co-investors and cohorts equal the earlier whole-table
    builders, chunk after chunk (the values did not change)."""
    p = prepare(tables, snapshot)
    chunks = chunked.org_chunks(tables, chunk_orgs)
    assert len(chunks) > 2
    for family, old in REFERENCE.items():
        expected = finalize(old(p), family, p.snapshot)
        parts = [finalize(f, family, p.snapshot) for f in chunked.CHUNKED[family](p, chunks)]
        got = pd.concat(parts, ignore_index=True)
        assert len(expected) > 0, family
        pd.testing.assert_frame_equal(got, expected, check_exact=True, obj=family)


def test_investor_families_equal_the_earlier_builders_on_a_random_world() -> None:
    _check_reference(random_world(300, 3), SNAPSHOT, 23)


def test_investor_families_equal_the_earlier_builders_on_a_generated_world(
    generated: tuple,
) -> None:
    _, snapshot, tables = generated
    _check_reference(tables, snapshot, 170)


def test_investor_families_equal_the_earlier_builders_on_a_messy_export(messy: tuple) -> None:
    _, snapshot, tables = messy
    _check_reference(tables, snapshot, 97)
