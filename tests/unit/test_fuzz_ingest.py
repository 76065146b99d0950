"""Hostile input at the lake's gate (issue 5, §4): malformed files get a clear error, and
the lake stays byte-identical.

Each malformed directory is the hand-made sample with one file damaged: truncated CSVs
(mid-row, mid-quote), wrong encodings (Latin-1, UTF-16, binary garbage), a 10 MB cell,
NUL bytes, duplicate headers, empty and header-only files. The error must name the file,
the line where one applies, and the rule; the lake (which already holds a snapshot) must
not change by a single byte. Harmless variants (a BOM, CRLF line ends) are accepted as
the same content.

Formula-injection strings (``=HYPERLINK(...)``, ``+cmd``, ``-2+3``, ``@SUM``) are
*accepted as text*: ids are opaque and names may legitimately start with ``+``, ``-`` or
``@``, and the lake keeps what the source said. They are neutralised where a spreadsheet
would run them, on every CSV export (``talentmap shortlist --format csv`` and the web
page's export); enumeration columns reject them like any unknown value.

Hypothesis then throws bounded random damage (truncation, inserted bytes, pure garbage)
at the same gate: the only acceptable outcomes are a snapshot that verifies, or an
``InvalidSnapshotError`` whose problems are located and explained.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from talentmap.app.cli import app as talentmap_app
from talentmap.contract import RULES, TABLES
from talentmap.contract_io import MAX_FIELD_CHARS
from talentmap.contract_sample import sample_dataset_info, sample_tables, write_dataset
from talentmap.ingest import InvalidSnapshotError, ingest
from talentmap.lake import Lake
from talentmap.serving.commands.shortlist import to_csv

FORMULAS = (
    '=HYPERLINK("http://evil.example/x","click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
)
STATIC_APP = Path(__file__).resolve().parents[2] / "serving" / "static" / "app.js"


def tree_digest(root: Path) -> dict[str, str]:
    """Every entry under ``root`` with its content hash and mode: "byte-identical"."""
    if not root.exists():
        return {}
    out = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_dir():
            out[key + "/"] = "dir"
        else:
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest() + f":{path.stat().st_mode:o}"
    return out


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz-base")
    return write_dataset(root / "data", sample_tables(), dataset=sample_dataset_info())


@pytest.fixture(scope="module")
def pristine_lake(base_dir: Path) -> Path:
    lake = base_dir.parent / "lake"
    ingest(base_dir, lake)
    return lake


@pytest.fixture()
def lake_dir(tmp_path: Path, pristine_lake: Path) -> Path:
    """A lake that already holds the valid sample: damage must not touch it."""
    return copy_lake(pristine_lake, tmp_path / "lake")


def copy_lake(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)  # copies modes too: stored files stay read-only
    return target


def damaged(base_dir: Path, where: Path, file: str, content: bytes) -> Path:
    out = where / "damaged"
    shutil.copytree(base_dir, out)
    (out / file).write_bytes(content)
    return out


def org_csv(base_dir: Path) -> bytes:
    return (base_dir / "organizations.csv").read_bytes()


# Each case: (file damaged, how, [fragments the error must hold], rule).
Damage = Callable[[bytes], bytes]


def _cut_mid_row(text: bytes) -> bytes:
    second = text.index(b"\n", text.index(b"\n") + 1)  # end of line 2
    return text[: second + 12]  # line 3 stops after a few characters


def _dup_header(text: bytes) -> bytes:
    lines = text.rstrip(b"\n").split(b"\n")
    return b"\n".join([lines[0] + b",name"] + [line + b",x" for line in lines[1:]]) + b"\n"


CASES: dict[str, tuple[str, Damage, tuple[str, ...], str]] = {
    "truncated mid-row": (
        "organizations.csv",
        _cut_mid_row,
        ("line 3", "field(s)"),
        "unreadable_file",
    ),
    "truncated mid-quote": (
        "organizations.csv",
        lambda t: t + b'o9,"Unfinished name, 2019-0',
        ("line 6", "never closed"),
        "unreadable_file",
    ),
    "latin-1": (
        "organizations.csv",
        lambda t: t.decode("utf-8").encode("latin-1"),
        ("line 2", "not UTF-8", "0xce"),
        "unreadable_file",
    ),
    "utf-16": (
        "organizations.csv",
        lambda t: t.decode().encode("utf-16"),
        ("UTF-16",),
        "unreadable_file",
    ),
    "binary garbage": (
        "people.csv",
        lambda t: bytes(range(256)) * 64,
        ("not UTF-8",),
        "unreadable_file",
    ),
    "NUL byte in a value": (
        "organizations.csv",
        lambda t: t.replace(b"Gamma Data", b"Gamma\x00Data"),
        ("line 4", "NUL byte"),
        "unreadable_file",
    ),
    "NUL byte in the header": (
        "people.csv",
        lambda t: t.replace(b"full_name", b"full\x00name", 1),
        ("line 1", "NUL byte"),
        "unreadable_file",
    ),
    "10 MB cell": (
        "organizations.csv",
        lambda t: t.replace(b"Beta Robotics", b"B" * 10_000_000),
        ("line 3", f"{MAX_FIELD_CHARS:,} characters"),
        "unreadable_file",
    ),
    "duplicate header": ("organizations.csv", _dup_header, ("name", "twice"), "duplicate_column"),
    "empty file": ("roles.csv", lambda t: b"", ("empty file",), "unreadable_file"),
    "missing column": (
        "roles.csv",
        lambda t: t.replace(b"org_id", b"orgid", 1),
        ("org_id", "absent"),
        "missing_column",
    ),
    "garbage parquet": (
        "headcount.parquet",
        lambda t: b"PAR1" + bytes(range(200)) + b"PAR1",
        ("Parquet",),
        "unreadable_file",
    ),
    "garbage dataset.json": (
        "dataset.json",
        lambda t: b"\xff\xfe{not json",
        ("UTF-8 JSON",),
        "dataset_json",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_file_is_refused_clearly_and_the_lake_is_unchanged(
    case: str, base_dir: Path, lake_dir: Path, tmp_path: Path
) -> None:
    file, damage, fragments, rule = CASES[case]
    source = base_dir / file
    original = source.read_bytes() if source.exists() else b""
    data_dir = damaged(base_dir, tmp_path, file, damage(original))
    if file == "headcount.parquet":  # the damaged Parquet file replaces the table's CSV
        (data_dir / "headcount.csv").unlink()
    before = tree_digest(lake_dir)
    with pytest.raises(InvalidSnapshotError) as refused:
        ingest(data_dir, lake_dir, quarantine=True)  # even quarantine cannot take these
    problems = [p for p in refused.value.report.problems if p.rule == rule]
    assert problems, [str(p) for p in refused.value.report.problems]
    problem = problems[0]
    assert problem.file == file
    text = str(problem)
    for fragment in fragments:
        assert fragment in text, text
    assert len(text) < 1000, "the error quotes no megabyte-long row"
    assert tree_digest(lake_dir) == before


def test_header_only_file_is_an_empty_table_and_its_children_are_named(
    base_dir: Path, lake_dir: Path, tmp_path: Path
) -> None:
    header = org_csv(base_dir).split(b"\n")[0] + b"\n"
    data_dir = damaged(base_dir, tmp_path, "organizations.csv", header)
    before = tree_digest(lake_dir)
    with pytest.raises(InvalidSnapshotError) as refused:
        ingest(data_dir, lake_dir)
    first = refused.value.report.problems[0]
    assert (first.rule, first.file, first.row, first.column) == (
        "foreign_key",
        "roles.csv",
        2,
        "org_id",
    )
    assert "not found in organizations.org_id" in str(first)
    assert tree_digest(lake_dir) == before


@pytest.mark.parametrize(
    "damage",
    [
        lambda t: b"\xef\xbb\xbf" + t,  # BOM
        lambda t: t.replace(b"\n", b"\r\n"),  # CRLF
    ],
    ids=["bom", "crlf"],
)
def test_bom_and_crlf_are_the_same_content(
    damage: Damage, base_dir: Path, lake_dir: Path, tmp_path: Path
) -> None:
    data_dir = damaged(base_dir, tmp_path, "organizations.csv", damage(org_csv(base_dir)))
    before = tree_digest(lake_dir)
    result = ingest(data_dir, lake_dir)
    assert not result.created  # same values: same snapshot id, nothing written
    assert tree_digest(lake_dir) == before


def test_cli_names_file_line_and_rule_and_keeps_the_lake(
    base_dir: Path, lake_dir: Path, tmp_path: Path
) -> None:
    app = talentmap_app
    data_dir = damaged(base_dir, tmp_path, "organizations.csv", _cut_mid_row(org_csv(base_dir)))
    before = tree_digest(lake_dir)
    runner = CliRunner()
    for args in (["validate", str(data_dir)], ["ingest", str(data_dir), "--lake", str(lake_dir)]):
        done = runner.invoke(app, args, env={"COLUMNS": "250"})
        assert done.exit_code == 65, done.output
        flat = " ".join(done.output.split())
        assert "unreadable_file" in flat and "organizations.csv" in flat and "line 3" in flat
    assert tree_digest(lake_dir) == before


# ------------------------------------------------------------------ formula injection


def _with_formulas(tables: dict) -> None:
    orgs = tables["organizations"]
    orgs.loc[0, "name"] = FORMULAS[0]
    orgs.loc[1, "city"] = FORMULAS[1]
    orgs.loc[2, "sector"] = FORMULAS[2]
    tables["people"].loc[0, "full_name"] = FORMULAS[3]


def test_formula_strings_are_kept_as_text_in_the_lake(tmp_path: Path) -> None:
    tables = sample_tables()
    _with_formulas(tables)
    result = ingest(
        write_dataset(tmp_path / "data", tables, dataset=sample_dataset_info()), tmp_path / "lake"
    )
    loaded = Lake(tmp_path / "lake").load(result.snapshot_id)
    orgs = loaded["organizations"]
    assert orgs["name"].iloc[0] == FORMULAS[0]  # verbatim: the lake records the source
    assert orgs["city"].iloc[1] == FORMULAS[1] and orgs["sector"].iloc[2] == FORMULAS[2]
    assert loaded["people"]["full_name"].iloc[0] == FORMULAS[3]


def test_formula_strings_in_enumerations_are_rejected(tmp_path: Path, lake_dir: Path) -> None:
    tables = sample_tables()
    tables["funding_rounds"].loc[0, "round_type"] = "=1+1"
    tables["investments"].loc[0, "investor_kind"] = "@SUM(A1)"
    data_dir = write_dataset(tmp_path / "data", tables, dataset=sample_dataset_info())
    before = tree_digest(lake_dir)
    with pytest.raises(InvalidSnapshotError) as refused:
        ingest(data_dir, lake_dir, policy="strict")
    found = {(p.rule, p.column, p.value, p.row) for p in refused.value.report.problems}
    assert ("enum", "round_type", "=1+1", 2) in found
    assert ("enum", "investor_kind", "@SUM(A1)", 2) in found
    assert tree_digest(lake_dir) == before
    # Under repair they never reach the stored tables either: the round whose required
    # round_type is broken is dropped, and its investments with it.
    result = ingest(data_dir, lake_dir, policy="repair")
    stored = Lake(lake_dir).load(result.snapshot_id)
    assert "=1+1" not in set(stored["funding_rounds"]["round_type"])
    assert "@SUM(A1)" not in set(stored["investments"]["investor_kind"].dropna())


def _candidate(org_id: str, name: str, founder: str, reason: str) -> dict:
    return {
        "rank": 1,
        "org_id": org_id,
        "name": name,
        "region": "Occitanie",
        "city": "+33 Toulouse",
        "sector": "@fintech",
        "score": 0.5,
        "percentile": 99.0,
        "founders": [{"name": founder, "role": "founder"}],
        "reasons": [{"text": reason}],
    }


def test_every_csv_export_cell_is_neutralised() -> None:
    rows = [_candidate(f, f, f, f) for f in FORMULAS]
    rows.append(_candidate("\tTAB", "\rCR", "ok", "-1 month since last round"))
    text = to_csv(rows)
    cells = [cell for row in list(csv.reader(io.StringIO(text)))[1:] for cell in row]
    dangerous = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert not dangerous, dangerous
    assert "'" + FORMULAS[0] in cells  # kept readable, just not executable


def test_the_web_page_export_neutralises_cells_too() -> None:
    # The page builds its CSV in the browser (app.js); every cell goes through csvCell.
    source = STATIC_APP.read_text(encoding="utf-8")
    guard = re.search(r"function csvCell\(value\) \{(.*?)\n\}", source, re.S)
    assert guard and r"/^[=+\-@\t\r]/" in guard.group(1) and '"\'" + text' in guard.group(1)
    export = re.search(r"function exportCsv\(\) \{(.*?)\n\}", source, re.S)
    assert export and ".map(csvCell)" in export.group(1)
    # Every line written, the header's included, is built from cells through csvCell.
    body = export.group(1)
    assert body.count(".map(csvCell)") == body.count("lines.push(") + body.count("lines = [")


# ------------------------------------------------------------------ generated damage


@st.composite
def damage_plans(draw: st.DrawFn) -> tuple[str, str, int, bytes, bool]:
    table = draw(st.sampled_from([t for t in TABLES if t in sample_tables()]))
    how = draw(st.sampled_from(["truncate", "insert", "replace", "garbage"]))
    position = draw(st.integers(min_value=0, max_value=400))
    noise = draw(
        st.one_of(
            st.binary(min_size=1, max_size=40),
            st.sampled_from([b'"', b",", b"\n", b"\r", b"\x00", b"\xff", b'",\n"', b"=1+2"]),
        )
    )
    quarantine = draw(st.booleans())
    return table, how, position, noise, quarantine


def _apply(text: bytes, how: str, position: int, noise: bytes) -> bytes:
    at = min(position, len(text))
    if how == "truncate":
        return text[:at]
    if how == "insert":
        return text[:at] + noise + text[at:]
    if how == "replace":
        return text[:at] + noise + text[at + len(noise) :]
    return noise * (1 + position // max(1, len(noise)))


@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure reproduces
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=damage_plans())
def test_generated_damage_is_refused_clearly_or_stored_intact(
    plan: tuple[str, str, int, bytes, bool], base_dir: Path, pristine_lake: Path
) -> None:
    table, how, position, noise, quarantine = plan
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        where = Path(tmp)
        lake_dir = copy_lake(pristine_lake, where / "lake")
        before = tree_digest(lake_dir)
        file = f"{table}.csv"
        data_dir = damaged(
            base_dir, where, file, _apply((base_dir / file).read_bytes(), how, position, noise)
        )
        try:
            result = ingest(data_dir, lake_dir, quarantine=quarantine)
        except InvalidSnapshotError as refused:
            problems = refused.report.problems
            assert problems
            for problem in problems:
                assert problem.rule in RULES and problem.file and problem.message
                if problem.row is not None:
                    assert problem.row_kind == "line" and problem.row >= 1
                assert len(str(problem)) < 2000
            assert tree_digest(lake_dir) == before
        else:
            lake = Lake(lake_dir)
            lake.verify(result.snapshot_id)  # what was stored is whole
            after = tree_digest(lake_dir)
            assert {k: v for k, v in after.items() if k in before} == before  # old untouched
