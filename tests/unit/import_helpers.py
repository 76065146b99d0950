"""Shared helpers for the importer tests: run the CLI, read what it wrote, check honesty."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from talentmap.app.cli import app

FIXTURES = Path(__file__).parents[1] / "fixtures" / "importers"
# Columns that describe the source's export date, never a past date (issue 13 §2).
SNAPSHOT_FIELDS = (
    "status",
    "funding_total_usd",
    "total_funding_usd",
    "total_funding",
    "last_funding_at",
    "last_funding_on",
    "first_funding_at",
    "funding_rounds",
    "num_funding_rounds",
    "investment_rounds",
    "invested_companies",
    "milestones",
    "relationships",
    "updated_at",
    "employee_count",
    "num_exits",
    "rank",
    "is_past",
    "is_current",
    "etatAdministratifUniteLegale",
)


def run_import(kind: str, src: Path, out: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["import", kind, str(src), "--out", str(out), *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def read_out(out: Path) -> dict[str, pd.DataFrame]:
    return {
        p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(out.glob("*.csv"))
    }


def report_of(out: Path) -> dict:
    return json.loads((out / "import_report.json").read_text())


def assert_counts_add_up(report: dict) -> None:
    assert report["consistent"]
    for name, table in report["tables"].items():
        assert table["read"] == table["mapped"] + table["dropped"], name
        assert sum(table["drop_reasons"].values()) == table["dropped"], name


def assert_no_snapshot_fields(out: Path) -> None:
    for table, df in read_out(out).items():
        leaked = set(SNAPSHOT_FIELDS) & set(df.columns)
        assert not leaked, f"{table} carries snapshot-time fields {leaked}"


def assert_only_expected_rejections(report: dict, allowed: dict[str, int]) -> None:
    """The validator rejects exactly ``allowed`` (by rule): unknown values are legal."""
    validation = report["validation"]
    assert validation is not None
    assert validation["problems_by_rule"] == allowed, validation["examples"]
