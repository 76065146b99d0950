"""``talentmap import mapping``: a YAML mapping of arbitrary CSV files to the contract."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from import_helpers import (
    FIXTURES,
    assert_counts_add_up,
    assert_only_expected_rejections,
    read_out,
    report_of,
    run_import,
)

SRC = FIXTURES / "mapping"


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mapping") / "out"
    code, output = run_import("mapping", SRC, out)
    assert code == 0, output
    return out


def test_mapped_values_dates_and_currencies(imported: Path) -> None:
    report = report_of(imported)
    assert_counts_add_up(report)
    assert_only_expected_rejections(report, {})  # its company without a country is legal
    out = read_out(imported)
    orgs = out["organizations"].set_index("org_id")
    assert orgs.loc["552100554", "founded_on"] == "2019-03-15"
    assert orgs.loc["552100555", "region"] == "Nouvelle-Aquitaine"  # "Aquitaine"
    assert orgs.loc["552100557", "country"] == "DE"  # " 552100557 " trimmed, DEU
    rounds = out["funding_rounds"].set_index("round_id")
    assert rounds.loc["L1", "amount_eur"] == "1500000"
    assert rounds.loc["L2", "amount_eur"] == "4500000"  # $5M at the file's 0.9
    assert rounds.loc["L6", "round_type"] == "other"
    assert "L3" not in rounds.index and "L4" not in rounds.index
    assert report["snapshot_date"] == "2022-02-05"


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("source: x\nlicence: y\ntables: {}\n", "organizations is required"),
        (
            "source: x\nlicence: y\ntables:\n  organisations: {file: a.csv, columns: {}}\n",
            "not a contract table",
        ),
        (
            "source: x\nlicence: y\ntables:\n  organizations:\n    file: entreprises.csv\n"
            "    columns: {org_id: SIREN, name: X, country: Y, colour: Z}\n",
            "'colour' is not a column",
        ),
        (
            "source: x\nlicence: y\ntables:\n  organizations:\n    file: entreprises.csv\n"
            "    columns: {org_id: SIREN, country: Pays}\n",
            "required column name missing",
        ),
        (
            "source: x\nlicence: y\ncurrency_rates: {USD: -1}\ntables: {}\n",
            "positive rate",
        ),
        ("source: x\nlicence: y\ntables: {}\nsurprise: 1\n", "surprise"),
    ],
)
def test_invalid_mappings_are_explained(tmp_path: Path, yaml_text: str, message: str) -> None:
    src = tmp_path / "src"
    shutil.copytree(SRC, src)
    (src / "mapping.yaml").write_text(yaml_text)
    code, output = run_import("mapping", src, tmp_path / "out")
    assert code == 1
    assert message in " ".join(output.split())
    assert not (tmp_path / "out").exists()
