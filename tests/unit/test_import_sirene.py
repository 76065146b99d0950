"""``talentmap import sirene`` end to end, from CSV and from Parquet."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from import_helpers import (
    FIXTURES,
    assert_counts_add_up,
    assert_no_snapshot_fields,
    assert_only_expected_rejections,
    read_out,
    report_of,
    run_import,
)

from talentmap.importers.sirene import department_of, load_departments

SRC = FIXTURES / "sirene"
RESTRICTED = {"234567891", "555666777"}
NATURAL_PERSON = "345678912"


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sirene") / "out"
    code, output = run_import("sirene", SRC, out)
    assert code == 0, output
    return out


def test_counts_add_up(imported: Path) -> None:
    report = report_of(imported)
    assert_counts_add_up(report)
    units = report["tables"]["StockUniteLegale"]
    assert units["read"] == 18 and units["mapped"] == 8
    reasons = units["drop_reasons"]
    assert reasons["restricted diffusion (statutDiffusionUniteLegale not O): never exported"] == 2
    assert reasons["natural-person business (legal category 1000), skipped by default"] == 1
    assert reasons["exact duplicate row"] == 1
    assert report["snapshot_date"] == "2025-05-20"


def test_output_passes_the_validator_with_unknown_countries(imported: Path) -> None:
    # Head office abroad, absent, or with restricted diffusion: country left unknown.
    assert_only_expected_rejections(report_of(imported), {})


def test_privacy_regions_and_closing(imported: Path) -> None:
    out = read_out(imported)
    orgs = out["organizations"].set_index("org_id")
    every_id = set().union(*(set(df.get("org_id", [])) for df in out.values()))
    assert not RESTRICTED & every_id
    assert NATURAL_PERSON not in every_id
    assert orgs.loc["567891234", "region"] == "Corse"
    assert orgs.loc["678912345", "region"] == "Guadeloupe"
    assert orgs.loc["789123456", "region"] == ""  # Saint-Pierre-et-Miquelon
    assert orgs.loc["123456789", "region"] == "Île-de-France"
    assert orgs.loc["456789123", "closed_on"] == "2021-03-31"
    assert orgs.loc["123456789", "sector"] == "software"
    assert "912345678" not in orgs.index  # 1900-01-01 is SIRENE's "unknown"
    assert "111222333" not in orgs.index  # created before the window
    headcount = out["headcount"].set_index("org_id")
    assert headcount.loc["123456789", "headcount"] == "15"
    assert headcount.loc["333444555", "headcount"] == "2"  # band 01: 1.5 rounds half up
    assert_no_snapshot_fields(imported)


def test_restricted_units_never_exported_even_with_every_option(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = run_import(
        "sirene",
        SRC,
        out,
        "--all-sectors",
        "--include-natural-persons",
        "--keep-undated",
        "--founded-from",
        "1800-01-01",
    )
    assert code == 0, output
    ids = set(read_out(out)["organizations"]["org_id"])
    assert not RESTRICTED & ids
    assert NATURAL_PERSON in ids
    assert_counts_add_up(report_of(out))


def test_parquet_input_gives_the_same_output(tmp_path: Path, imported: Path) -> None:
    src = tmp_path / "parquet"
    src.mkdir()
    for csv_file in SRC.glob("*.csv"):
        table = pacsv.read_csv(
            csv_file,
            convert_options=pacsv.ConvertOptions(
                column_types={"siren": pa.string(), "nic": pa.string()},
                strings_can_be_null=True,
            ),
        )
        if "etablissementSiege" in table.column_names:
            siege = pc.equal(table["etablissementSiege"].cast(pa.string()), "true")
            index = table.column_names.index("etablissementSiege")
            table = table.set_column(index, "etablissementSiege", siege)
        pq.write_table(table, src / f"{csv_file.stem}.parquet")
    out = tmp_path / "out"
    code, output = run_import("sirene", src, out)
    assert code == 0, output
    assert_counts_add_up(report_of(out))
    got, expected = read_out(out), read_out(imported)
    for table in ("organizations", "headcount"):
        assert got[table].equals(expected[table]), table


def test_departments_follow_insee_rules() -> None:
    departments = load_departments()
    assert len(departments) == 101
    assert department_of("2B033") == "2B" and departments["2B"] == "Corse"
    assert department_of("97411") == "974" and departments["974"] == "La Réunion"
    assert department_of("97502") == "975" and "975" not in departments
    assert department_of("98818") == "988" and "988" not in departments
    assert department_of("75056") == "75" and departments["75"] == "Île-de-France"
