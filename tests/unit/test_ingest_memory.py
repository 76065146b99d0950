"""Ingest's memory savings change nothing that is stored (issue 10: 1M organisations in 8 GB).

Ingest parses each column slice by slice (``contract_parse._SLICE_ROWS``) and builds the
stored tables one at a time (``RepairPlan.table``). Both must give exactly what the
one-piece path gives: same problems, same repairs and quarantine, same Parquet values and
the same snapshot id, on a generated world and on a messy Crunchbase export. The ids
below were computed by the ingest of ``main`` before these changes; they move only when
the generator, the importer or the contract changes (then recompute them with ``main``).
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from talentmap import contract_parse
from talentmap.ingest import IngestResult, ingest
from talentmap.lake import QUARANTINE_DIR, REPAIRS_FILE, content_hash

EXPORT_DATE = date(2013, 12, 12)
SOURCES = ["generated", "messy", "spoiled"]
# Snapshot ids written by the ingest of main (commit 3f8c645) for the sources below.
MAIN_IDS = {
    "generated": "20251231-88b3cd84db2e7810",
    "messy": "20131212-4449da38d91b6543",
    "spoiled": "20251231-f4044d4a83d68619",
}


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from fixtures.messy_crunchbase import build_source

    from talentmap.generate.world import generate_world
    from talentmap.importers.common import ImportOptions
    from talentmap.importers.run import run_import

    root = tmp_path_factory.mktemp("ingest-memory")
    generate_world(root / "world", 1500, 9302)
    build_source(11, 800, EXPORT_DATE).write(root / "export")
    run_import("crunchbase2013", ImportOptions(src=root / "export", out=root / "data"))
    return {
        "generated": root / "world",
        "messy": root / "data",
        "spoiled": _spoil(root / "world", root / "spoiled"),
    }


def _spoil(world: Path, out: Path) -> Path:
    """The generated world with broken rows: repairs, drops and their cascade.

    The rows are past the first slices of the sliced test, so a slice offset counts.
    """
    shutil.copytree(world, out, ignore=shutil.ignore_patterns("truth"))
    orgs = pd.read_csv(out / "organizations.csv", dtype=str, keep_default_na=False)
    orgs.loc[103, "org_id"] = orgs.loc[104, "org_id"]  # duplicate key: both rows dropped
    orgs.loc[205, "founded_on"] = "2019-02-30"  # impossible date: blanked
    orgs.loc[306, "country"] = "France"  # not an ISO code: blanked
    orgs.to_csv(out / "organizations.csv", index=False)
    rounds = pd.read_csv(out / "funding_rounds.csv", dtype=str, keep_default_na=False)
    rounds.loc[150, "amount_eur"] = "12k"  # unreadable amount: blanked
    rounds.loc[251, "round_id"] = ""  # missing key: dropped, its investments cascade
    rounds.to_csv(out / "funding_rounds.csv", index=False)
    return out


def _ingest(data: Path, lake: Path, slice_rows: int, monkeypatch: pytest.MonkeyPatch):
    with monkeypatch.context() as patch:
        patch.setattr(contract_parse, "_SLICE_ROWS", slice_rows)
        return ingest(data, lake)


def _stored(result: IngestResult) -> dict[str, object]:
    """Everything a snapshot stores, as values (Parquet read back, CSV as text)."""
    out: dict[str, object] = {}
    for table, entry in result.manifest["tables"].items():
        out[table] = pq.read_table(result.path / entry["file"]).to_pandas()
    for table, entry in result.manifest["quarantine"].items():
        out[f"quarantine/{table}"] = (result.path / entry["file"]).read_text(encoding="utf-8")
    if "repairs" in result.manifest:
        out[REPAIRS_FILE] = (result.path / REPAIRS_FILE).read_text(encoding="utf-8")
    return out


@pytest.mark.parametrize("source", SOURCES)
def test_sliced_parsing_stores_what_one_piece_parsing_stores(
    source: str, sources: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _ingest(sources[source], tmp_path / "whole", 1 << 40, monkeypatch)
    sliced = _ingest(sources[source], tmp_path / "sliced", 97, monkeypatch)
    assert sliced.snapshot_id == whole.snapshot_id
    pd.testing.assert_frame_equal(sliced.report.problem_frame, whole.report.problem_frame)
    pd.testing.assert_frame_equal(sliced.plan.actions, whole.plan.actions)
    for table, frame in whole.report.tables.items():
        pd.testing.assert_frame_equal(sliced.report.tables[table], frame, obj=table)
    got, expected = _stored(sliced), _stored(whole)
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(got[name], value, check_exact=True, obj=name)
        else:
            assert got[name] == value, name


@pytest.mark.parametrize("source", SOURCES)
def test_tables_built_one_at_a_time_are_the_plan_s_tables(
    source: str, sources: dict[str, Path], tmp_path: Path
) -> None:
    result = ingest(sources[source], tmp_path / "lake")
    reference = result.plan.tables()  # the all-at-once path ingest used to take
    assert list(result.manifest["tables"]) == list(reference)
    for table, frame in reference.items():
        entry = result.manifest["tables"][table]
        assert entry["rows"] == len(frame)
        assert entry["content_hash"] == content_hash(frame), table
        stored = pq.read_table(result.path / entry["file"]).to_pandas()
        assert list(stored.columns) == list(frame.columns)
        assert len(stored) == len(frame)


@pytest.mark.parametrize("source", SOURCES)
def test_snapshot_id_is_the_one_main_wrote(
    source: str, sources: dict[str, Path], tmp_path: Path
) -> None:
    result = ingest(sources[source], tmp_path / "lake")
    assert result.snapshot_id == MAIN_IDS[source], (
        "the stored content moved; if the generator, importer or contract changed, "
        "recompute MAIN_IDS with main's ingest"
    )


def test_the_sources_exercise_repairs_drops_and_cascades(
    sources: dict[str, Path], tmp_path: Path
) -> None:
    # Otherwise the comparisons above would not cover the repair and quarantine paths.
    messy = ingest(sources["messy"], tmp_path / "messy")
    assert messy.n_repaired > 0
    spoiled = ingest(sources["spoiled"], tmp_path / "spoiled")
    counts = spoiled.manifest["actions"]
    assert counts["repaired_cells"] >= 3
    assert counts["dropped_rows"] >= 3
    assert counts["cascaded_rows"] > 0
    assert (spoiled.path / QUARANTINE_DIR / "organizations.csv").is_file()
