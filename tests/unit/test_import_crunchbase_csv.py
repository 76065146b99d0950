"""``talentmap import crunchbase-csv`` end to end on today's export format."""

from __future__ import annotations

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

SRC = FIXTURES / "crunchbase-csv"


def uuid(n: int) -> str:
    return f"00000000-0000-0000-0000-{n:012d}"


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cbcsv") / "out"
    code, output = run_import("crunchbase-csv", SRC, out)
    assert code == 0, output
    return out


def test_counts_add_up(imported: Path) -> None:
    report = report_of(imported)
    assert_counts_add_up(report)
    orgs = report["tables"]["organizations"]
    assert orgs["drop_reasons"] == {
        "exact duplicate row": 1,
        "roles investor: not a company": 1,
        "roles school: not a company": 1,
    }
    assert report["tables"]["funding_rounds"]["mapped"] == 5


def test_output_passes_the_validator_with_its_unknown_country(imported: Path) -> None:
    assert_only_expected_rejections(report_of(imported), {})


def test_created_at_is_first_seen_and_snapshot_fields_are_left_out(imported: Path) -> None:
    assert_no_snapshot_fields(imported)
    orgs = read_out(imported)["organizations"].set_index("org_id")
    assert orgs.loc[uuid(1), "first_seen_on"] == "2023-05-10"
    assert orgs.loc[uuid(1), "region"] == "Île-de-France"
    assert orgs.loc[uuid(6), "region"] == "Occitanie"  # "Midi-Pyrenees", a former region
    assert orgs.loc[uuid(2), ["country", "founded_on", "sector"]].eq("").all()
    assert report_of(imported)["snapshot_date"] == "2024-05-30"  # latest updated_at


def test_ids_amounts_and_people(imported: Path) -> None:
    out = read_out(imported)
    rounds = out["funding_rounds"].set_index("round_id")
    assert rounds.loc[uuid(102), "amount_eur"] == "352750000"  # "415,000,000" USD
    assert rounds.loc[uuid(105), "amount_eur"] == "230000"  # GBP
    assert rounds.loc[uuid(106), "round_type"] == "other"
    investments = out["investments"].set_index("investor_id")
    assert investments.loc[uuid(301), "investor_kind"] == "angel"  # a person
    assert investments.loc[uuid(4), "investor_kind"] == "vc"
    people = out["people"].set_index("person_id")
    assert uuid(304) not in people.index  # no job at an imported company
    assert people.loc[uuid(303), "gender"] == "X"
    roles = out["roles"].set_index("person_id")
    assert roles.loc[uuid(302), "role"] == "founder"
    assert out["education"].set_index("person_id").loc[uuid(302), "degree"] == "engineer"
