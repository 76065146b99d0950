"""Ingest policies: strict refuses, repair blanks bad optional values, quarantine drops.

Each repair rule is proved under each policy on the hand-made sample with one cell broken:
strict refuses the directory and leaves the lake alone; repair keeps the row with the
value blanked and reports it (manifest counts, repairs.csv, the plan); quarantine drops
the row and whatever refers to it. Rows are dropped under repair only when a key or a
required value is broken, and only then do dependent rows go with them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from talentmap import contract
from talentmap.app.cli import app as talentmap_app
from talentmap.contract_sample import sample_dataset_info, sample_tables, write_dataset
from talentmap.ingest import InvalidSnapshotError, ingest
from talentmap.lake import CorruptSnapshotError, Lake, snapshot_identity
from talentmap.policy import POLICIES, resolve_policy
from talentmap.repair import REPAIR_RULES, plan_repairs
from talentmap.settings import Settings
from talentmap.validate import validate_dataset

Tables = dict[str, pd.DataFrame]
Mutation = Callable[[Tables], None]


def cells(*changes: tuple[str, int, str, str]) -> Mutation:
    def mutate(tables: Tables) -> None:
        for table, row, column, value in changes:
            tables[table].loc[row, column] = value

    return mutate


def make_dir(root: Path, mutate: Mutation | None = None) -> Path:
    tables = sample_tables()
    if mutate is not None:
        mutate(tables)
    return write_dataset(root, tables, dataset=sample_dataset_info())


def tree_digest(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""
        for p in sorted(root.rglob("*"))
    }


# One case per repair rule: (table, 0-based row, column blanked, bad value, rule, other
# cells changed by the case). The CSV line of the row is row + 2.
REPAIR_CASES: dict[str, tuple[str, int, str, str, str, tuple[tuple[str, int, str, str], ...]]] = {
    "unreadable amount": ("funding_rounds", 1, "amount_eur", "8 M€", "type", ()),
    "invalid founding date": ("organizations", 0, "founded_on", "01/03/2018", "date", ()),
    "unknown gender code": ("people", 1, "gender", "W", "enum", ()),
    "country name, not code": ("organizations", 2, "country", "Germany", "country", ()),
    "misspelt French region": ("organizations", 0, "region", "Ile de France", "fr_region", ()),
    "negative exit amount": ("exits", 0, "amount_eur", "-1", "non_negative", ()),
    "implausible birth year": ("people", 0, "birth_year", "1850", "range", ()),
    "founded after the snapshot": (
        "organizations",
        1,
        "founded_on",
        "2025-07-03",
        "after_snapshot",
        (),
    ),
    "closed before founded": (
        "organizations",
        0,
        "founded_on",
        "2019-01-01",
        "date_order",
        (("organizations", 0, "closed_on", "2018-01-01"),),
    ),
}
# The same rule on other tables, where the optional column differs.
MORE_REPAIRS = {
    "role ended before it started": (
        "roles",
        2,
        "started_on",
        "2024-06-01",
        "date_order",
        (),
    ),
    "programme ended before it started": (
        "programs",
        0,
        "ended_on",
        "2018-01-01",
        "date_order",
        (),
    ),
}
ALL_REPAIRS = {**REPAIR_CASES, **MORE_REPAIRS}


def case_dir(root: Path, case: str) -> Path:
    table, row, column, bad, _, others = ALL_REPAIRS[case]
    return make_dir(root, cells((table, row, column, bad), *others))


def test_every_repair_rule_has_a_case() -> None:
    # Deleting a rule from REPAIR_RULES turns its case into a drop; adding one needs a case.
    assert {case[4] for case in REPAIR_CASES.values()} == set(REPAIR_RULES)


@pytest.mark.parametrize("case", list(REPAIR_CASES))
def test_strict_refuses_and_leaves_the_lake_alone(tmp_path: Path, case: str) -> None:
    lake_dir = tmp_path / "lake"
    ingest(make_dir(tmp_path / "good"), lake_dir)
    before = tree_digest(lake_dir)
    with pytest.raises(InvalidSnapshotError, match="strict") as refused:
        ingest(case_dir(tmp_path / "bad", case), lake_dir, policy="strict")
    assert refused.value.report.counts_by_rule() == {ALL_REPAIRS[case][4]: 1}
    assert tree_digest(lake_dir) == before


@pytest.mark.parametrize("case", list(ALL_REPAIRS))
def test_repair_keeps_the_row_with_the_value_blanked_and_reports_it(
    tmp_path: Path, case: str
) -> None:
    table, row, column, bad, rule, others = ALL_REPAIRS[case]
    result = ingest(case_dir(tmp_path / "data", case), tmp_path / "lake", policy="repair")
    lake = Lake(tmp_path / "lake")

    # Stored: exactly the source, with that one value unknown, every row kept.
    expected_raw = sample_tables()
    cells(*others, (table, row, column, ""))(expected_raw)
    stored = lake.load(result.snapshot_id)
    for name, raw in expected_raw.items():
        pd.testing.assert_frame_equal(stored[name], contract.to_typed(raw, name), obj=name)
    assert result.n_quarantined == 0 and result.n_repaired == 1

    # Reported: file, row, column, value and rule, in the plan and in the snapshot.
    [problem] = result.plan.problems
    assert (problem.file, problem.row, problem.row_kind) == (f"{table}.csv", row + 2, "line")
    assert (problem.column, problem.value, problem.rule) == (column, bad, rule)
    assert problem.action == "repaired"
    log = lake.load_repairs(result.snapshot_id)
    assert log is not None
    assert log[["table", "file", "row", "column", "value", "rule"]].values.tolist() == [
        [table, f"{table}.csv", str(row + 2), column, bad, rule]
    ]
    actions = result.manifest["actions"]
    assert actions["repaired_cells"] == 1 and actions["repaired_by_rule"] == {rule: 1}
    assert actions["dropped_rows"] == actions["cascaded_rows"] == 0
    assert actions["by_table"] == {
        table: {"repaired_cells": 1, "dropped_rows": 0, "cascaded_rows": 0}
    }
    assert result.manifest["policy"] == "repair" and result.manifest["quarantine"] == {}


@pytest.mark.parametrize("case", list(REPAIR_CASES))
def test_quarantine_drops_the_row_with_its_dependants(tmp_path: Path, case: str) -> None:
    table, row, column, bad, rule, _ = ALL_REPAIRS[case]
    result = ingest(case_dir(tmp_path / "data", case), tmp_path / "lake", policy="quarantine")
    lake = Lake(tmp_path / "lake")
    stored = lake.load(result.snapshot_id)
    assert len(stored[table]) == len(sample_tables()[table]) - 1
    rejected = lake.load_quarantine(result.snapshot_id)[table]
    assert rejected[["_row", column]].values.tolist() == [[str(row + 2), bad]]
    assert rejected["_reasons"].iloc[0].startswith(f"{rule}: {column}=")
    if table == "organizations":
        org = sample_tables()["organizations"].loc[row, "org_id"]
        assert org not in set(stored["funding_rounds"]["org_id"])  # the cascade
        assert result.manifest["actions"]["cascaded_rows"] > 0
    assert result.n_repaired == 0 and lake.load_repairs(result.snapshot_id) is None


# Under repair, a broken key or required value still drops its row, and only then do the
# rows that refer to it go too. (table, row, column, bad value, rule, cascaded rows)
DROP_CASES: dict[str, tuple[str, int, str, str, str, dict[str, int]]] = {
    "organisation without a name": (
        "organizations",
        0,
        "name",
        "",
        "required_value",
        # o1: 2 rounds (3 investments), 2 roles, 1 programme, 1 publication, 2 headcounts,
        # 1 job posting, 1 JEI status.
        {
            "funding_rounds": 2,
            "investments": 3,
            "roles": 2,
            "programs": 1,
            "publications": 1,
            "headcount": 2,
            "job_postings": 1,
            "jei_status": 1,
        },
    ),
    "unknown round type": (
        "funding_rounds",
        0,
        "round_type",
        "series_z",
        "enum",
        {"investments": 2},
    ),
    "dangling organisation id": (
        "funding_rounds",
        3,
        "org_id",
        "ghost",
        "foreign_key",
        {},
    ),
    "unreadable headcount": ("headcount", 1, "headcount", "lots", "type", {}),
    "posting after the snapshot": (
        "job_postings",
        1,
        "posted_on",
        "2025-07-01",
        "after_snapshot",
        {},
    ),
}


@pytest.mark.parametrize("case", list(DROP_CASES))
def test_repair_drops_only_rows_with_a_broken_key_or_required_value(
    tmp_path: Path, case: str
) -> None:
    table, row, column, bad, rule, cascaded = DROP_CASES[case]
    result = ingest(
        make_dir(tmp_path / "data", cells((table, row, column, bad))), tmp_path / "lake"
    )
    assert result.policy == "repair"  # the default
    actions = result.manifest["actions"]
    assert actions["repaired_cells"] == 0
    assert actions["dropped_rows"] == 1 and actions["dropped_by_rule"] == {rule: 1}
    by_table = {t: c["cascaded_rows"] for t, c in actions["by_table"].items() if c["cascaded_rows"]}
    assert by_table == cascaded
    assert result.n_quarantined == 1 + sum(cascaded.values())
    dropped = [p for p in result.plan.problems if p.action == "dropped"]
    assert [(p.file, p.row, p.column, p.value, p.rule) for p in dropped] == [
        (f"{table}.csv", row + 2, column, bad or None, rule)
    ]
    cascade = [p for p in result.plan.problems if p.action == "cascaded"]
    assert all(p.rule == "parent_rejected" and p.row and p.value for p in cascade)
    assert len(cascade) == sum(cascaded.values())


def test_unknown_country_keeps_the_company_and_its_rounds(tmp_path: Path) -> None:
    source = sample_tables()
    mutate = cells(("organizations", 0, "country", ""), ("organizations", 1, "country", "ZZ"))
    result = ingest(make_dir(tmp_path / "data", mutate), tmp_path / "lake")
    assert not result.plan.changed and result.report.ok
    stored = Lake(tmp_path / "lake").load(result.snapshot_id)
    assert stored["organizations"]["country"].tolist()[:2] == [None, None]
    assert (
        stored["funding_rounds"]["round_id"].tolist()
        == source["funding_rounds"]["round_id"].tolist()
    )
    assert len(stored["investments"]) == len(source["investments"])


def test_a_bad_country_keeps_the_rounds_under_repair_not_under_quarantine(tmp_path: Path) -> None:
    data = make_dir(tmp_path / "data", cells(("organizations", 0, "country", "France")))
    repaired = ingest(data, tmp_path / "lake", policy="repair")
    quarantined = ingest(data, tmp_path / "lake", policy="quarantine")
    lake = Lake(tmp_path / "lake")
    kept = lake.load(repaired.snapshot_id)
    assert kept["organizations"]["country"].iloc[0] is None
    assert kept["funding_rounds"]["org_id"].tolist() == ["o1", "o1", "o2", "o3"]
    dropped = lake.load(quarantined.snapshot_id)
    assert "o1" not in set(dropped["funding_rounds"]["org_id"])
    # Two policies that store different content are two snapshots; both stay intact.
    assert repaired.snapshot_id != quarantined.snapshot_id
    lake.verify(repaired.snapshot_id)
    lake.verify(quarantined.snapshot_id)


def test_same_input_and_policy_is_the_same_snapshot_and_the_lake_is_never_rewritten(
    tmp_path: Path,
) -> None:
    lake_dir = tmp_path / "lake"
    original = ingest(make_dir(tmp_path / "good"), lake_dir)
    kept = tree_digest(original.path)
    bad = case_dir(tmp_path / "bad", "closed before founded")
    first = ingest(bad, lake_dir)
    assert first.created and first.snapshot_id != original.snapshot_id
    before = tree_digest(lake_dir)
    again = ingest(case_dir(tmp_path / "bad2", "closed before founded"), lake_dir)
    assert not again.created and again.snapshot_id == first.snapshot_id
    assert tree_digest(lake_dir) == before
    assert tree_digest(original.path) == kept  # a repaired snapshot is a new snapshot


def test_valid_data_is_one_snapshot_whatever_the_policy(tmp_path: Path) -> None:
    data = make_dir(tmp_path / "data")
    ids = {ingest(data, tmp_path / "lake", policy=p).snapshot_id for p in POLICIES}
    assert len(ids) == 1
    manifest = Lake(tmp_path / "lake").manifest(ids.pop())
    assert "policy" not in snapshot_identity(manifest)
    # Manifests written before policies were recorded keep their ids.
    old = {k: v for k, v in manifest.items() if k not in ("policy", "actions", "repairs")}
    old["quarantine"] = {"people": {"rows": 1, "content_hash": "x"}}
    assert "policy" not in snapshot_identity(old)


def test_the_repair_log_is_part_of_the_snapshot_record(tmp_path: Path) -> None:
    result = ingest(case_dir(tmp_path / "data", "country name, not code"), tmp_path / "lake")
    entry = result.manifest["repairs"]
    log = result.path / entry["file"]
    assert entry["rows"] == 1
    assert entry["sha256"] == hashlib.sha256(log.read_bytes()).hexdigest()
    identity = snapshot_identity(result.manifest)
    assert identity["policy"] == "repair" and identity["repairs"]["rows"] == 1
    lake = Lake(tmp_path / "lake")
    assert lake.get(result.snapshot_id).repaired_values == 1
    assert lake.get(result.snapshot_id).policy == "repair"
    log.chmod(0o644)
    log.write_text(log.read_text().replace("Germany", "Austria"))
    with pytest.raises(CorruptSnapshotError, match=r"repairs\.csv"):
        lake.verify(result.snapshot_id)


def test_an_opt_out_is_never_dropped_by_a_policy(tmp_path: Path) -> None:
    late = make_dir(tmp_path / "late", cells(("opt_outs", 0, "since", "2025-08-01")))
    for policy in ("repair", "quarantine"):
        with pytest.raises(InvalidSnapshotError, match="opt-out"):
            ingest(late, tmp_path / "lake", policy=policy)
    assert not (tmp_path / "lake").exists()
    # An opt-out of someone absent from the snapshot protects no row here: it may go.
    absent = make_dir(tmp_path / "absent", cells(("opt_outs", 0, "subject_id", "p9")))
    result = ingest(absent, tmp_path / "lake")
    assert result.manifest["actions"]["dropped_by_rule"] == {"foreign_key": 1}


def test_nothing_left_of_a_required_table_is_refused(tmp_path: Path) -> None:
    def no_types(tables: Tables) -> None:
        tables["funding_rounds"]["round_type"] = "series_z"

    with pytest.raises(InvalidSnapshotError, match="every row of funding_rounds"):
        ingest(make_dir(tmp_path / "data", no_types), tmp_path / "lake")


def test_file_level_problems_are_refused_under_every_policy(tmp_path: Path) -> None:
    def drop(tables: Tables) -> None:
        tables["roles"] = tables["roles"].drop(columns=["role"])

    report = validate_dataset(make_dir(tmp_path / "data", drop))
    for policy in POLICIES:
        plan = plan_repairs(report, policy)
        assert plan.refusal is not None and "file-level" in plan.refusal


def test_policy_resolution() -> None:
    assert resolve_policy(None) == "repair"
    assert resolve_policy(None, quarantine=True) == "quarantine"
    assert resolve_policy("strict") == "strict"
    with pytest.raises(ValueError, match="contradicts"):
        resolve_policy("repair", quarantine=True)
    with pytest.raises(ValueError, match="unknown policy"):
        resolve_policy("lenient")  # type: ignore[arg-type]


def cli() -> typer.Typer:
    app = talentmap_app
    return app


def test_cli_policy_options_and_configured_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    bad = case_dir(tmp_path / "bad", "closed before founded")
    lake_dir = tmp_path / "lake"
    env = {"COLUMNS": "250"}

    done = runner.invoke(cli(), ["validate", str(bad), "--policy", "quarantine"], env=env)
    assert done.exit_code == 0, done.output
    assert "policy quarantine: 0 value(s) repaired" in done.output
    done = runner.invoke(cli(), ["ingest", str(bad), "--lake", str(lake_dir)], env=env)
    assert done.exit_code == 0, done.output
    flat = " ".join(done.output.split())
    assert "policy repair: 1 value(s) repaired (blanked), 0 row(s) dropped" in flat
    assert "organizations.csv line 2 founded_on='2019-01-01'" in flat
    assert "repairs.csv" in flat
    done = runner.invoke(
        cli(), ["ingest", str(bad), "--lake", str(lake_dir), "--quarantine", "--policy", "repair"]
    )
    assert done.exit_code == 2 and "contradicts" in done.output

    # The configured policy (lake.policy, TALENTMAP_LAKE__POLICY) is the default.
    strict = Settings(home=tmp_path / "home", lake={"policy": "strict"})
    monkeypatch.setattr("talentmap.settings.get_settings", lambda: strict)
    before = tree_digest(lake_dir)
    done = runner.invoke(cli(), ["ingest", str(bad), "--lake", str(lake_dir)], env=env)
    assert done.exit_code == 65 and "strict" in done.stderr
    assert tree_digest(lake_dir) == before
    done = runner.invoke(cli(), ["validate", str(bad)], env=env)
    assert done.exit_code == 65


def test_policy_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALENTMAP_LAKE__POLICY", "quarantine")
    assert Settings().lake.policy == "quarantine"
    assert Settings().with_policy("strict").lake.policy == "strict"
    monkeypatch.setenv("TALENTMAP_LAKE__POLICY", "lenient")
    with pytest.raises(ValueError, match=r"lake\.policy"):
        Settings()


def test_manifest_is_json_with_counts(tmp_path: Path) -> None:
    result = ingest(case_dir(tmp_path / "data", "founded after the snapshot"), tmp_path / "lake")
    on_disk = json.loads((result.path / "manifest.json").read_text())
    assert on_disk["actions"]["repaired_by_rule"] == {"after_snapshot": 1}
    assert on_disk["manifest_format"] == 2


def test_a_row_with_a_broken_key_is_dropped_even_if_it_also_had_a_repairable_value(
    tmp_path: Path,
) -> None:
    mutate = cells(
        ("funding_rounds", 0, "amount_eur", "8 M€"),  # repairable...
        ("funding_rounds", 0, "round_type", "series_z"),  # ...but the same row is broken
        ("funding_rounds", 3, "n_investors", "-1"),  # repairable, in a row kept
        ("organizations", 1, "name", ""),  # o2 goes: r3 is cascaded with its repair
        ("funding_rounds", 2, "amount_eur", "-5"),
    )
    result = ingest(make_dir(tmp_path / "data", mutate), tmp_path / "lake")
    actions = {(p.table, p.row, p.column): p.action for p in result.plan.problems}
    assert actions[("funding_rounds", 2, "amount_eur")] == "dropped"
    assert actions[("funding_rounds", 2, "round_type")] == "dropped"
    assert actions[("funding_rounds", 5, "n_investors")] == "repaired"
    assert actions[("funding_rounds", 4, "amount_eur")] == "cascaded"
    assert actions[("funding_rounds", 4, "org_id")] == "cascaded"
    stored = Lake(tmp_path / "lake").load(result.snapshot_id)["funding_rounds"]
    assert stored["round_id"].tolist() == ["r2", "r4"]
    assert pd.isna(stored["n_investors"].iloc[1])
    counts = result.manifest["actions"]
    assert counts["repaired_cells"] == 1 and counts["repaired_by_rule"] == {"non_negative": 1}
    assert counts["dropped_rows"] == 2 and counts["cascaded_rows"] >= 2
