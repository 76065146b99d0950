"""The generator writes a complete, valid, deterministic data directory."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from generate_helpers import load_world
from typer.testing import CliRunner

from talentmap import contract
from talentmap.generate.calendar import MonthGrid
from talentmap.generate.hidden import HazardPath
from talentmap.generate.oracle import window_probability
from talentmap.generate.outcomes import ACQUIRED, IPO
from talentmap.generate.world import generate_world
from talentmap.validate import validate_dataset

END = date(2025, 12, 31)


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    generate_world(out, 800, seed=5, chunk_size=300)
    return out


@pytest.fixture(scope="module")
def tables(world: Path) -> dict[str, pd.DataFrame]:
    return load_world(world)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_seed_gives_byte_identical_world(tmp_path: Path, fmt: str) -> None:
    generate_world(tmp_path / "a", 300, seed=9, fmt=fmt, chunk_size=120)
    generate_world(tmp_path / "b", 300, seed=9, fmt=fmt, chunk_size=120)
    a, b = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    assert "truth/oracle.parquet" in a
    assert a == b


def test_another_seed_gives_another_world(tmp_path: Path) -> None:
    generate_world(tmp_path / "a", 200, seed=1)
    generate_world(tmp_path / "b", 200, seed=2)
    a, b = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    assert a["organizations.csv"] != b["organizations.csv"]


def test_every_table_with_the_contract_columns(world: Path) -> None:
    for table in contract.TABLES:
        header = (world / f"{table}.csv").read_text(encoding="utf-8").splitlines()[0]
        names = [h.strip('"') for h in header.split(",")]
        assert names == [spec.name for spec in contract.columns(table)], table
        assert not (world / f"{table}.parquet").exists()
    meta = json.loads((world / "dataset.json").read_text(encoding="utf-8"))
    assert meta["snapshot_date"] == END.isoformat()
    assert meta["source"].startswith("talentmap synthetic generator v")
    assert {"name", "licence"} <= meta.keys()


def test_world_passes_contract_validation(world: Path) -> None:
    report = validate_dataset(world)
    assert report.ok, report.problems[:5]


def test_parquet_world_passes_contract_validation(tmp_path: Path) -> None:
    generate_world(tmp_path, 300, seed=4, fmt="parquet")
    assert (tmp_path / "funding_rounds.parquet").exists()
    assert validate_dataset(tmp_path).ok


def test_ids_unique_and_references_resolve(tables: dict[str, pd.DataFrame]) -> None:
    orgs, people, rounds = tables["organizations"], tables["people"], tables["funding_rounds"]
    for frame, key in (
        (orgs, "org_id"),
        (people, "person_id"),
        (rounds, "round_id"),
        (tables["publications"], "pub_id"),
    ):
        assert frame[key].is_unique and frame[key].notna().all()
    org_ids, person_ids = set(orgs.org_id), set(people.person_id)
    for table in ("roles", "funding_rounds", "programs", "headcount", "job_postings", "exits"):
        assert set(tables[table].org_id) <= org_ids, table
    assert set(tables["roles"].person_id) <= person_ids
    assert set(tables["education"].person_id) <= person_ids
    assert set(tables["investments"].round_id) <= set(rounds.round_id)
    pubs = tables["publications"]
    assert set(pubs.org_id.dropna()) <= org_ids
    assert set(pubs.person_id.dropna()) <= person_ids
    assert (pubs.org_id.notna() | pubs.person_id.notna()).all()
    opt = tables["opt_outs"]
    assert set(opt[opt.subject_kind == "org"].subject_id) <= org_ids
    assert set(opt[opt.subject_kind == "person"].subject_id) <= person_ids
    assert set(opt.subject_kind) == {"person", "org"}
    # Ids stay unique across chunks (the world fixture uses three chunks).
    assert not tables["investments"].duplicated(["round_id", "investor_id"]).any()


def test_no_date_after_snapshot_and_no_negative_amount(tables: dict[str, pd.DataFrame]) -> None:
    end = pd.Timestamp(END)
    for table in contract.TABLES:
        for col in contract.DATE_COLUMNS[table]:
            assert not (tables[table][col] > end).any(), (table, col)
    assert (tables["funding_rounds"].amount_eur.dropna() >= 0).all()
    assert (tables["exits"].amount_eur.dropna() >= 0).all()
    assert (tables["headcount"].headcount >= 0).all()


def test_enumerations_follow_the_contract(tables: dict[str, pd.DataFrame]) -> None:
    assert set(tables["funding_rounds"].round_type) <= set(contract.ROUND_TYPES)
    assert set(tables["roles"].role) == set(contract.ROLE_KINDS)
    assert set(tables["education"].degree) <= set(contract.DEGREES)
    assert set(tables["investments"].investor_kind.dropna()) <= set(contract.INVESTOR_KINDS)
    assert set(tables["programs"].program_kind) == set(contract.PROGRAM_KINDS)
    assert set(tables["publications"].kind) == set(contract.PUBLICATION_KINDS)
    assert set(tables["exits"].exit_kind) <= set(contract.EXIT_KINDS)
    assert set(tables["people"].gender.dropna()) <= set(contract.GENDERS)
    assert contract.EXIT_KINDS[ACQUIRED] == "acquired" and contract.EXIT_KINDS[IPO] == "ipo"
    fr = tables["organizations"].query("country == 'FR'")
    assert set(fr.region) <= set(contract.FR_REGIONS)


def test_visibility_lags_founding_for_some_orgs(tables: dict[str, pd.DataFrame]) -> None:
    orgs = tables["organizations"]
    assert orgs.first_seen_on.notna().all()
    assert (orgs.first_seen_on >= orgs.founded_on).all()
    assert (orgs.first_seen_on <= pd.Timestamp(END)).all()
    late = orgs.first_seen_on > orgs.founded_on + pd.Timedelta(days=90)
    assert 0.1 < late.mean() < 0.95
    # Events are back-filled: some orgs have a headcount observation before being recorded.
    hc = tables["headcount"].merge(orgs[["org_id", "first_seen_on"]], on="org_id")
    assert (hc.observed_on < hc.first_seen_on).any()


def test_founders_have_education_and_some_prior_exits(tables: dict[str, pd.DataFrame]) -> None:
    roles, orgs, exits = tables["roles"], tables["organizations"], tables["exits"]
    founders = roles[roles.role == "founder"].merge(orgs[["org_id", "founded_on"]], on="org_id")
    assert founders.person_id.isin(tables["education"].person_id).mean() > 0.9
    assert (tables["education"].degree == "phd").any()
    assert tables["education"].institution.isin(["École polytechnique", "HEC Paris"]).any()
    serial = founders.merge(founders, on="person_id", suffixes=("_prev", ""))
    serial = serial[serial.founded_on_prev < serial.founded_on]
    prior_exit = serial.merge(exits, left_on="org_id_prev", right_on="org_id")
    assert (prior_exit.exited_on < prior_exit.founded_on).any()


def test_oracle_file_shape(world: Path, tables: dict[str, pd.DataFrame]) -> None:
    oracle = pq.read_table(world / "truth" / "oracle.parquet")
    assert oracle.schema.names == ["org_id", "as_of", "p_true", "p_path"]
    assert str(oracle.schema.field("p_true").type) == "float"
    assert str(oracle.schema.field("p_path").type) == "float"
    assert str(oracle.schema.field("as_of").type) == "date32[day]"
    frame = oracle.to_pandas()
    assert frame.p_true.between(0, 1).all() and frame.p_path.between(0, 1).all()
    assert set(frame.org_id) <= set(tables["organizations"].org_id)
    assert not frame.duplicated(["org_id", "as_of"]).any()
    assert not (world / "truth" / "hidden.parquet").exists()


def test_oracle_spacing_is_configurable(tmp_path: Path) -> None:
    generate_world(tmp_path, 150, seed=3, oracle_every_months=3)
    as_of = pd.to_datetime(pd.read_parquet(tmp_path / "truth" / "oracle.parquet").as_of)
    assert set(as_of.dt.month) <= {1, 4, 7, 10}
    assert (as_of == as_of + pd.offsets.MonthEnd(0)).all()


def test_window_probability_is_the_competing_risk_recursion() -> None:
    h, c, horizon = 0.02, 0.01, 24
    months = 40
    path = HazardPath(
        trajectory=np.zeros((1, months), np.float32),
        h_milestone=np.full((1, months), h, np.float32),
        h_close=np.full((1, months), c, np.float32),
        seed_month=np.array([-1]),
    )
    p = window_probability(path, np.array([0, 5]), horizon)
    q = (1 - h) * (1 - c)
    expected = h * (1 - q**horizon) / (1 - q)
    np.testing.assert_allclose(p[0], [expected, expected], rtol=1e-5)


def test_month_grid_as_of_is_month_end() -> None:
    grid = MonthGrid(date(2012, 1, 1), END)
    assert grid.n_months == 168
    assert str(grid.month_last_day(np.array([1]))[0]) == "2012-02-29"
    assert str(grid.month_last_day(np.array([167]))[0]) == "2025-12-31"


def test_progress_reports_every_chunk(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    generate_world(
        tmp_path,
        250,
        seed=1,
        chunk_size=100,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(100, 250), (200, 250), (250, 250)]


def test_cli_generate(tmp_path: Path) -> None:
    from talentmap.app.cli import app

    result = CliRunner().invoke(
        app,
        [
            "generate",
            "--out",
            str(tmp_path),
            "--orgs",
            "150",
            "--seed",
            "2",
            "--format",
            "parquet",
            "--oracle-every-months",
            "6",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "organizations.parquet").exists()
    assert (tmp_path / "truth" / "oracle.parquet").exists()
    assert "base rate" in result.output
