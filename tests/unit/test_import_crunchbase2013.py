"""``talentmap import crunchbase2013`` end to end on a fixture in the dataset's real format."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

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

SRC = FIXTURES / "crunchbase2013"


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cb2013") / "out"
    code, output = run_import("crunchbase2013", SRC, out)
    assert code == 0, output
    return out


def test_counts_add_up_and_reasons_are_given(imported: Path) -> None:
    report = report_of(imported)
    assert_counts_add_up(report)
    tables = report["tables"]
    assert tables["objects"]["read"] == 14
    assert tables["objects"]["drop_reasons"]["exact duplicate row"] == 1
    assert (
        tables["objects"]["drop_reasons"][
            "entity_type FinancialOrg: not a company (used for names only)"
        ]
        == 1
    )
    rounds = tables["funding_rounds"]
    assert rounds["read"] == 12 and rounds["mapped"] == 7
    assert rounds["drop_reasons"] == {
        "exact duplicate row": 1,
        "org_id: absent from organizations": 1,
        "funded object is not a company": 1,
        "no announced_on: an event without its date": 1,
        "missing round_id": 1,
    }
    assert rounds["kept_as_is"]  # the round dated before its company's founding date
    assert tables["investments"]["drop_reasons"] == {
        "exact duplicate row": 1,
        "round_id: its funding_rounds row was dropped": 1,
    }
    assert tables["milestones"]["drop_reasons"] == {"no contract table holds milestones": 1}


def test_output_passes_the_validator_with_unknown_countries_left_blank(imported: Path) -> None:
    # c:2 has no country and c:7 an unknown code: left blank, never guessed.
    assert_only_expected_rejections(report_of(imported), {})
    orgs = read_out(imported)["organizations"].set_index("org_id")
    assert orgs.loc[["c:2", "c:7"], "country"].eq("").all()


def test_ids_are_the_source_ids_and_only_companies_are_organisations(imported: Path) -> None:
    out = read_out(imported)
    assert set(out["organizations"]["org_id"]) == {f"c:{i}" for i in range(1, 9)}
    assert set(out["funding_rounds"]["round_id"]) <= {str(i) for i in range(1001, 1012)}
    assert set(out["people"]["person_id"]) == {"p:100", "p:101"}  # p:102 has no role


def test_no_snapshot_time_field_reaches_the_output(imported: Path) -> None:
    assert_no_snapshot_fields(imported)
    orgs = read_out(imported)["organizations"].set_index("org_id")
    # c:1 was "acquired" with funding totals in 2013: none of that is a dated event.
    assert orgs.loc["c:1", "closed_on"] == ""
    assert orgs.loc["c:1", "first_seen_on"] == "2007-02-01"  # created_at


def test_values_are_normalised(imported: Path) -> None:
    out = read_out(imported)
    rounds = out["funding_rounds"].set_index("round_id")
    assert rounds.loc["1001", "amount_eur"] == "1275000"  # "1,500,000" USD at 0.85
    assert rounds.loc["1003", "amount_eur"] == "575000"  # GBP
    assert rounds.loc["1008", "amount_eur"] == "2125000"  # "$2.5M"
    assert rounds.loc["1011", "amount_eur"] == "3000000"  # "3 000 000,00" EUR
    assert rounds.loc["1010", "amount_eur"] == ""  # XYZ: no rate
    assert rounds.loc["1002", "round_type"] == "series_b"  # "'venture'" with code b
    assert rounds.loc["1003", "round_type"] == "seed"
    investments = out["investments"]
    kinds = dict(zip(investments["investor_id"], investments["investor_kind"], strict=True))
    assert kinds == {"f:10": "vc", "p:100": "angel", "c:3": "corporate"}
    orgs = out["organizations"].set_index("org_id")
    assert orgs.loc["c:1", "region"] == "Île-de-France"  # Crunchbase area "Paris"
    assert orgs.loc["c:8", "region"] == "Auvergne-Rhône-Alpes"  # former region
    assert orgs.loc["c:6", "city"] == "Lyon"  # from its first office
    assert orgs.loc["c:2", "region"] == ""  # "unknown"
    assert orgs.loc["c:3", "founded_on"] == "1900-01-01"  # kept, and said so
    roles = out["roles"].set_index("person_id")
    assert roles.loc["p:100", "role"] == "founder"


def test_files_without_prefix_and_a_subset_are_accepted(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(SRC / "cb_funding_rounds.csv", src / "funding_rounds.csv")
    code, output = run_import("crunchbase2013", src, tmp_path / "out")
    assert code == 0, output
    report = report_of(tmp_path / "out")
    assert_counts_add_up(report)
    orgs = read_out(tmp_path / "out")["organizations"]
    assert set(orgs["org_id"]) == {"c:1", "c:2", "c:3", "c:4", "c:5", "c:7", "c:8", "c:999"}


def test_refuses_a_folder_without_objects_or_rounds(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(SRC / "cb_people.csv", src)
    code, output = run_import("crunchbase2013", src, tmp_path / "out")
    assert code == 1 and "no objects or funding_rounds" in " ".join(output.split())


def test_snapshot_date_option_and_non_empty_output(tmp_path: Path, imported: Path) -> None:
    out = tmp_path / "out"
    code, _ = run_import("crunchbase2013", SRC, out, "--snapshot-date", "2013-12-12")
    assert code == 0
    assert json.loads((out / "dataset.json").read_text())["snapshot_date"] == "2013-12-12"
    code, output = run_import("crunchbase2013", SRC, out)
    assert code == 1 and "--overwrite" in " ".join(output.split())
    code, _ = run_import("crunchbase2013", SRC, out, "--overwrite")
    assert code == 0
    assert report_of(out)["snapshot_date_source"].startswith("latest")
    assert report_of(imported)["snapshot_date"] == "2013-12-01"
