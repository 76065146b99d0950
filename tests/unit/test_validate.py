"""Validation on good data, and one failing example for each rule of the contract."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from talentmap.contract import FOREIGN_KEYS, ForeignKey
from talentmap.contract_sample import (
    SAMPLE_SNAPSHOT_DATE,
    sample_dataset_info,
    sample_tables,
    write_dataset,
)
from talentmap.validate import Problem, ValidationReport, validate_dataset

Tables = dict[str, pd.DataFrame]


def make_dir(
    root: Path,
    mutate: Callable[[Tables], None] | None = None,
    *,
    fmt: str = "csv",
    dataset: dict[str, object] | None = None,
) -> Path:
    """The sample world, optionally broken by ``mutate``, written as a data directory."""
    tables = sample_tables()
    if mutate is not None:
        mutate(tables)
    info = sample_dataset_info() if dataset is None else dataset
    return write_dataset(root / "data", tables, fmt=fmt, dataset=info)  # type: ignore[arg-type]


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its sha256 and mode: detects any change."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        + f":{p.stat().st_mode:o}"
        for p in sorted(root.rglob("*"))
        if p.is_file()
    } | {str(p.relative_to(root)) + "/": "dir" for p in root.rglob("*") if p.is_dir()}


def only(report: ValidationReport, rule: str) -> Problem:
    found = [p for p in report.problems if p.rule == rule]
    assert len(found) == 1, (rule, [str(p) for p in report.problems])
    return found[0]


def setter(table: str, row: int, column: str, value: str) -> Callable[[Tables], None]:
    def mutate(tables: Tables) -> None:
        tables[table].loc[row, column] = value

    return mutate


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_good_data_passes(tmp_path: Path, fmt: str) -> None:
    report = validate_dataset(make_dir(tmp_path, fmt=fmt))
    assert report.ok, [str(p) for p in report.problems]
    assert not report.fatal and report.problems == []
    assert report.snapshot_date.isoformat() == SAMPLE_SNAPSHOT_DATE
    summary = report.summary()
    assert summary.rows == sum(len(t) for t in sample_tables().values())
    assert {t.table for t in summary.tables} == set(sample_tables())
    assert summary.first_date.isoformat() == "2008-06-30"
    assert summary.last_date.isoformat() == "2024-05-01"
    assert report.rejections() == {}


# One case per row rule: put ``bad`` into (table, 0-based row, column) and expect ``rule``
# on that cell (reported at CSV line row + 2, with the bad text as its value).
ROW_CASES: dict[str, tuple[str, int, str, str, str]] = {
    "bad number": ("funding_rounds", 1, "amount_eur", "8 M€", "type"),
    "bad integer": ("funding_rounds", 0, "n_investors", "2.5", "type"),
    "bad boolean": ("investments", 2, "is_lead", "maybe", "type"),
    "bad enumeration": ("funding_rounds", 2, "round_type", "series_z", "enum"),
    "bad gender": ("people", 1, "gender", "W", "enum"),
    "unparseable date": ("organizations", 0, "founded_on", "01/03/2018", "date"),
    "impossible date": ("headcount", 2, "observed_on", "2021-02-30", "date"),
    "date after snapshot": ("job_postings", 1, "posted_on", "2025-07-01", "after_snapshot"),
    "negative amount": ("exits", 0, "amount_eur", "-1", "non_negative"),
    "negative headcount": ("headcount", 1, "headcount", "-3", "non_negative"),
    "negative investor count": ("funding_rounds", 3, "n_investors", "-1", "non_negative"),
    "bad region for FR": ("organizations", 0, "region", "Ile de France", "fr_region"),
    "bad country": ("organizations", 2, "country", "Germany", "country"),
    "empty required value": ("organizations", 1, "name", "", "required_value"),
    "end before start": ("programs", 0, "ended_on", "2018-01-01", "date_order"),
    "birth year out of range": ("people", 0, "birth_year", "1850", "range"),
    "birth after snapshot": ("people", 0, "birth_year", "2030", "after_snapshot"),
}


@pytest.mark.parametrize("case", list(ROW_CASES))
def test_each_row_rule_names_table_row_column_value(tmp_path: Path, case: str) -> None:
    table, row, column, bad, rule = ROW_CASES[case]
    report = validate_dataset(make_dir(tmp_path, setter(table, row, column, bad)))
    assert not report.ok and not report.fatal
    problem = only(report, rule)
    assert (problem.table, problem.row, problem.row_kind) == (table, row + 2, "line")
    assert (problem.column, problem.value) == (column, bad or None)
    assert problem.file == f"{table}.csv"
    assert report.counts_by_rule() == {rule: 1}
    assert list(report.rejections(cascade=False)[table].index) == [row]


def test_publication_with_neither_person_nor_org(tmp_path: Path) -> None:
    report = validate_dataset(make_dir(tmp_path, setter("publications", 1, "org_id", "")))
    problem = only(report, "publication_subject")
    assert (problem.table, problem.row, problem.column) == ("publications", 3, "person_id/org_id")
    assert problem.value is None
    assert report.counts_by_rule() == {"publication_subject": 1}


def test_duplicate_ids_report_every_occurrence(tmp_path: Path) -> None:
    def change(tables: Tables) -> None:
        tables["people"].loc[2, "person_id"] = "p1"
        tables["roles"].loc[2, "person_id"] = "p1"  # p3 is gone; keep roles consistent
        tables["opt_outs"].loc[0, "subject_id"] = "p1"

    report = validate_dataset(make_dir(tmp_path, change))
    found = [p for p in report.problems if p.rule == "unique"]
    assert [(p.table, p.row, p.column, p.value) for p in found] == [
        ("people", 2, "person_id", "p1"),
        ("people", 4, "person_id", "p1"),
    ]
    assert report.counts_by_rule() == {"unique": 2}


def test_unknown_country_region_city_sector_and_founding_date_are_valid(tmp_path: Path) -> None:
    def change(tables: Tables) -> None:
        orgs = tables["organizations"]
        orgs["country"] = ["", "ZZ", " ", "FR"]
        orgs.loc[0, "region"] = "Anywhere"  # free text once the country is unknown
        orgs.loc[1, ["region", "city", "sector", "founded_on"]] = ""

    report = validate_dataset(make_dir(tmp_path, change))
    assert report.ok, [str(p) for p in report.problems]
    assert report.tables["organizations"]["country"].tolist() == [None, None, None, "FR"]


def test_non_french_region_is_free_text(tmp_path: Path) -> None:
    report = validate_dataset(make_dir(tmp_path, setter("organizations", 2, "region", "Nowhere")))
    assert report.ok


@pytest.mark.parametrize("fk", FOREIGN_KEYS, ids=lambda fk: fk.label)
def test_each_dangling_reference(tmp_path: Path, fk: ForeignKey) -> None:
    def mutate(tables: Tables) -> None:
        child = tables[fk.table]
        rows = child.index
        if fk.when is not None:
            rows = child.index[child[fk.when[0]] == fk.when[1]]
        tables[fk.table].loc[rows[0], fk.column] = "ghost"

    report = validate_dataset(make_dir(tmp_path, mutate))
    problem = only(report, "foreign_key")
    assert (problem.table, problem.column, problem.value) == (fk.table, fk.column, "ghost")
    assert problem.row_kind == "line" and problem.row >= 2
    assert f"{fk.parent}.{fk.parent_column}" in problem.message


def test_reference_to_an_absent_optional_table_dangles(tmp_path: Path) -> None:
    report = validate_dataset(make_dir(tmp_path, lambda t: t.pop("people")))
    dangling = [p for p in report.problems if p.rule == "foreign_key"]
    assert {(p.table, p.column) for p in dangling} == {
        ("roles", "person_id"),
        ("education", "person_id"),
        ("publications", "person_id"),
        ("opt_outs", "subject_id"),
    }
    assert all("people is absent" in p.message for p in dangling)


def test_missing_required_table(tmp_path: Path) -> None:
    report = validate_dataset(make_dir(tmp_path, lambda t: t.pop("funding_rounds")))
    problem = only(report, "missing_table")
    assert problem.table == "funding_rounds" and problem.row is None
    assert report.fatal


def test_missing_optional_table_is_fine(tmp_path: Path) -> None:
    def drop(tables: Tables) -> None:
        for name in ("investments", "headcount", "exits"):
            tables.pop(name)

    report = validate_dataset(make_dir(tmp_path, drop))
    assert report.ok and "headcount" not in report.tables


def test_missing_required_column(tmp_path: Path) -> None:
    def drop(tables: Tables) -> None:
        tables["organizations"] = tables["organizations"].drop(columns=["name"])

    report = validate_dataset(make_dir(tmp_path, drop))
    problem = only(report, "missing_column")
    assert (problem.table, problem.column, problem.row) == ("organizations", "name", None)
    assert report.fatal


def test_publications_need_person_or_org_column(tmp_path: Path) -> None:
    def drop(tables: Tables) -> None:
        tables["publications"] = tables["publications"].drop(columns=["person_id", "org_id"])

    report = validate_dataset(make_dir(tmp_path, drop))
    assert only(report, "missing_column").column == "person_id/org_id"


def test_optional_columns_may_be_absent_and_extra_columns_are_kept(tmp_path: Path) -> None:
    def change(tables: Tables) -> None:
        orgs = tables["organizations"].drop(columns=["founded_on", "first_seen_on", "sector"])
        orgs["website"] = ["a.fr", "", "c.de", "d.fr"]
        tables["organizations"] = orgs

    report = validate_dataset(make_dir(tmp_path, change))
    assert report.ok
    orgs = report.tables["organizations"]
    assert "website" in orgs.columns and "first_seen_on" not in orgs.columns
    assert orgs["website"].iloc[1] is None


def test_both_formats_for_one_table_is_ambiguous(tmp_path: Path) -> None:
    data_dir = make_dir(tmp_path)
    sample_tables()["people"].to_parquet(data_dir / "people.parquet")
    report = validate_dataset(data_dir)
    problem = only(report, "ambiguous_table")
    assert problem.table == "people" and "people.csv" in problem.file
    assert report.fatal


def test_unreadable_file(tmp_path: Path) -> None:
    data_dir = make_dir(tmp_path)
    (data_dir / "exits.csv").write_bytes(b"org_id,exit_kind,exited_on\n\xff\xfe,ipo,2020-01-01\n")
    report = validate_dataset(data_dir)
    assert only(report, "unreadable_file").file == "exits.csv"


def test_bad_dataset_json(tmp_path: Path) -> None:
    info = {**sample_dataset_info(), "snapshot_date": "30/06/2025"}
    report = validate_dataset(make_dir(tmp_path, dataset=info))
    problem = only(report, "dataset_json")
    assert (problem.column, problem.value) == ("snapshot_date", "'30/06/2025'")


def test_snapshot_date_defaults_to_latest_date(tmp_path: Path) -> None:
    data_dir = make_dir(tmp_path)
    (data_dir / "dataset.json").unlink()
    report = validate_dataset(data_dir)
    assert report.ok
    assert report.snapshot_date.isoformat() == "2024-05-01"
    assert report.snapshot_date_source == "latest date in the data"


def test_unknown_files_are_warned_about(tmp_path: Path) -> None:
    data_dir = make_dir(tmp_path)
    (data_dir / "notes.txt").write_text("hello")
    (data_dir / "funding.csv").write_text("a\n1\n")
    (data_dir / "truth").mkdir()
    report = validate_dataset(data_dir)
    assert report.ok
    assert any("notes.txt" in w for w in report.warnings)
    assert any("funding.csv" in w for w in report.warnings)


def test_parquet_rows_are_zero_based(tmp_path: Path) -> None:
    data_dir = make_dir(tmp_path, setter("funding_rounds", 2, "amount_eur", "-7"), fmt="parquet")
    problem = only(validate_dataset(data_dir), "non_negative")
    assert (problem.row, problem.row_kind, problem.value) == (2, "row", "-7")
    assert problem.file == "funding_rounds.parquet"


def test_csv_line_numbers_survive_multiline_values(tmp_path: Path) -> None:
    def change(tables: Tables) -> None:
        tables["roles"].loc[0, "title"] = "CEO\nand\nchair"
        tables["roles"].loc[2, "role"] = "mentor"

    problem = only(validate_dataset(make_dir(tmp_path, change)), "enum")
    assert problem.row == 6  # header, 3 lines for record 1, record 2, then record 3


def test_validation_never_modifies_its_input(tmp_path: Path) -> None:
    bad = make_dir(tmp_path / "bad", setter("funding_rounds", 0, "amount_eur", "-1"))
    good = make_dir(tmp_path / "good", fmt="parquet")
    for data_dir in (bad, good):
        before = tree_digest(data_dir)
        validate_dataset(data_dir)
        assert tree_digest(data_dir) == before


def test_report_renders_counts_and_examples(tmp_path: Path) -> None:
    def change(tables: Tables) -> None:
        tables["funding_rounds"]["round_type"] = "series_z"

    report = validate_dataset(make_dir(tmp_path, change))
    console = Console(record=True, width=200)
    console.print(report.render_problems(examples=2))
    text = console.export_text()
    assert "enum" in text and " 4 " in text
    assert text.count("funding_rounds.csv line") == 2
    assert report.counts_by_rule() == {"enum": 4}


def test_cascade_rejects_children_of_rejected_rows(tmp_path: Path) -> None:
    report = validate_dataset(make_dir(tmp_path, setter("funding_rounds", 0, "round_type", "x")))
    direct = report.rejections(cascade=False)
    assert set(direct) == {"funding_rounds"}
    cascaded = report.rejections(cascade=True)
    # r1 is rejected, so both of its investments go too; r2's investment stays.
    assert list(cascaded["investments"].index) == [0, 1]
    assert "parent_rejected: round_id='r1'" in cascaded["investments"].iloc[0]
    kept = report.valid_tables()
    assert kept["investments"]["round_id"].tolist() == ["r2"]
    assert len(kept["funding_rounds"]) == 3


def test_dataset_json_fields_are_read(tmp_path: Path) -> None:
    data_dir = make_dir(tmp_path)
    info = json.loads((data_dir / "dataset.json").read_text())
    report = validate_dataset(data_dir)
    assert report.dataset.name == info["name"] and report.dataset.licence == "CC0-1.0"


def test_an_unusable_parent_file_does_not_flood_references(tmp_path: Path) -> None:
    def drop(tables: Tables) -> None:
        tables["people"] = tables["people"].drop(columns=["full_name"])

    report = validate_dataset(make_dir(tmp_path, drop))
    assert report.counts_by_rule() == {"missing_column": 1}


def test_csv_structure_errors_and_header_only_files(tmp_path: Path) -> None:
    data_dir = make_dir(tmp_path)
    (data_dir / "exits.csv").write_text("org_id,exit_kind,exited_on\no3,ipo\n")
    (data_dir / "job_postings.csv").write_text("\ufefforg_id,posted_on\n")  # BOM, no rows
    report = validate_dataset(data_dir)
    problem = only(report, "unreadable_file")
    assert problem.file == "exits.csv" and "Expected 3 columns" in problem.message
    assert report.counts_by_rule() == {"unreadable_file": 1}
    assert report.tables["job_postings"].empty
