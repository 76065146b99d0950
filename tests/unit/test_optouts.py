"""The opt-out register and ``apply_opt_outs``: append-only and durable lines, clear errors,
persons' rows gone from every table, and features that stop counting a forgotten founder."""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from talentmap.features.build import build_feature_tables
from talentmap.optouts import (
    RegisterError,
    apply_opt_outs,
    apply_settings_opt_outs,
    drop_opted_out_features,
    effective_opt_outs,
    opt_outs_fingerprint,
    read_register,
    record_opt_outs,
    register_path,
)
from talentmap.settings import Settings
from talentmap.settings.privacy import PrivacyConfig, RetentionConfig
from talentmap.training.pipeline.candidates import candidates

D = pd.Timestamp
SNAPSHOT = date(2024, 12, 31)


def world() -> dict[str, pd.DataFrame]:
    """Org A: founders pA (PhD, also founded C earlier, a paper) and pB (MBA); A's own
    patent; a paper co-signed by pA for A. Org B: founder pC. Org C: pA's earlier company."""
    orgs = pd.DataFrame(
        {
            "org_id": ["A", "B", "C"],
            "name": ["Alpha", "Beta", "Gamma"],
            "founded_on": [D("2021-01-01"), D("2021-06-01"), D("2015-01-01")],
            "closed_on": [pd.NaT, pd.NaT, D("2019-01-01")],
            "first_seen_on": [D("2021-01-01"), D("2021-06-01"), D("2015-01-01")],
            "country": ["FR", "FR", "FR"],
            "region": ["Occitanie", "Bretagne", "Bretagne"],
            "city": [None, None, None],
            "sector": ["ai", "health", "ai"],
        }
    )
    rounds = pd.DataFrame(
        {
            "round_id": ["r1", "r2"],
            "org_id": ["A", "B"],
            "announced_on": [D("2022-03-01"), D("2022-05-01")],
            "round_type": ["seed", "seed"],
            "amount_eur": [1e6, 5e5],
            "n_investors": pd.array([1, 1], dtype="Int64"),
        }
    )
    people = pd.DataFrame(
        {
            "person_id": ["pA", "pB", "pC"],
            "full_name": ["Ada Alpha", "Bob Beta", "Cy Gamma"],
            "gender": ["f", "m", None],
            "birth_year": pd.array([1985, 1990, None], dtype="Int64"),
        }
    )
    roles = pd.DataFrame(
        {
            "person_id": ["pA", "pB", "pC", "pA"],
            "org_id": ["A", "A", "B", "C"],
            "role": ["founder", "founder", "founder", "founder"],
            "title": ["CEO", None, None, None],
            "started_on": [D("2021-01-01"), D("2021-01-01"), D("2021-06-01"), D("2015-01-01")],
            "ended_on": [pd.NaT, pd.NaT, pd.NaT, D("2019-01-01")],
        }
    )
    education = pd.DataFrame(
        {
            "person_id": ["pA", "pB"],
            "institution": ["Université de Toulouse", "HEC"],
            "degree": ["phd", "mba"],
            "field": [None, None],
            "graduated_on": [D("2012-06-30"), D("2014-06-30")],
        }
    )
    publications = pd.DataFrame(
        {
            "pub_id": ["x1", "x2", "x3"],
            "person_id": ["pA", None, "pA"],
            "org_id": [None, "A", "A"],
            "kind": ["paper", "patent", "paper"],
            "published_on": [D("2022-01-01"), D("2022-02-01"), D("2022-03-01")],
        }
    )
    opt_outs = pd.DataFrame(
        {"subject_kind": ["org"], "subject_id": ["C"], "since": [D("2020-01-01")]}
    )
    return {
        "organizations": orgs,
        "funding_rounds": rounds,
        "people": people,
        "roles": roles,
        "education": education,
        "publications": publications,
        "opt_outs": opt_outs,
    }


def latest(frame: pd.DataFrame, key: str, value: str) -> pd.Series:
    rows = frame.loc[frame[key] == value].sort_values("event_timestamp")
    return rows.iloc[-1]


# ------------------------------------------------------------------ the register


def test_register_appends_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "optouts" / "register.jsonl"
    assert read_register(path).empty  # no file yet: nobody opted out
    when = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    record_opt_outs(path, [("person", "pA")], now=when)
    first = path.read_bytes()
    record_opt_outs(path, [("org", "B"), ("person", "pZ")], since=date(2026, 2, 1), now=when)
    assert path.read_bytes().startswith(first)  # appended, never rewritten
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    frame = read_register(path)
    assert list(frame["subject_kind"]) == ["person", "org", "person"]
    assert list(frame["subject_id"]) == ["pA", "B", "pZ"]
    assert frame["since"].dtype == "datetime64[ns]"
    assert list(frame["since"]) == [D("2026-03-01"), D("2026-02-01"), D("2026-02-01")]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert {tuple(sorted(line)) for line in lines} == {
        ("format", "recorded_at", "since", "subject_id", "subject_kind")
    }


@pytest.mark.parametrize(
    ("subject", "needle"),
    [(("people", "p1"), "subject_kind"), (("person", ""), "non-empty"), (("org", "a\nb"), "line")],
)
def test_bad_subjects_are_refused(tmp_path: Path, subject: tuple[str, str], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        record_opt_outs(tmp_path / "r.jsonl", [subject])
    assert not (tmp_path / "r.jsonl").exists()


def _append_many(args: tuple[str, int]) -> None:
    path, worker = args
    for i in range(200):
        record_opt_outs(Path(path), [("person", f"w{worker}-{i}-" + "x" * 300)])


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "register.jsonl"
    with multiprocessing.get_context("fork").Pool(4) as pool:
        pool.map(_append_many, [(str(path), w) for w in range(4)])
    frame = read_register(path)  # every line parses: none was torn or interleaved
    assert len(frame) == 800
    assert frame["subject_id"].nunique() == 800


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "JSON object"),
        ('{"subject_kind": "person", "subject_id": "p1"}', "missing field"),
        (
            '{"subject_kind": "robot", "subject_id": "p1", "since": "2026-01-01", '
            '"recorded_at": "2026-01-01T00:00:00+00:00"}',
            "subject_kind",
        ),
        (
            '{"subject_kind": "person", "subject_id": "p1", "since": "yesterday", '
            '"recorded_at": "2026-01-01T00:00:00+00:00"}',
            "yesterday",
        ),
    ],
)
def test_malformed_line_is_a_clear_error(tmp_path: Path, line: str, needle: str) -> None:
    path = tmp_path / "register.jsonl"
    record_opt_outs(path, [("person", "p0")])
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    with pytest.raises(RegisterError, match=needle) as caught:
        read_register(path)
    assert f"{path}:2" in str(caught.value)  # file and line number


def test_register_path_comes_from_settings(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert register_path(settings) == tmp_path / "data" / "optouts" / "register.jsonl"
    assert PrivacyConfig().retention.lake_keep_snapshots == 3
    forever = RetentionConfig(audit_max_age_days="forever", lake_max_age_days="null")
    assert forever.audit_max_age_days is None and forever.lake_max_age_days is None
    with pytest.raises(ValueError, match="audit_max_age_days"):
        RetentionConfig(audit_max_age_days="a year")


# ------------------------------------------------------------------ applying


def test_effective_opt_outs_is_the_union_with_earliest_since(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    record_opt_outs(path, [("org", "C"), ("person", "pA")], since=date(2026, 1, 5))
    merged = effective_opt_outs(world(), read_register(path))
    assert list(zip(merged["subject_kind"], merged["subject_id"], strict=True)) == [
        ("org", "C"),
        ("person", "pA"),
    ]
    assert merged.loc[merged["subject_id"] == "C", "since"].item() == D("2020-01-01")
    assert list(merged.columns) == ["subject_kind", "subject_id", "since"]


def test_apply_drops_the_person_everywhere_and_keeps_org_publications(tmp_path: Path) -> None:
    tables = world()
    path = tmp_path / "r.jsonl"
    record_opt_outs(path, [("person", "pA")])
    out = apply_opt_outs(tables, read_register(path))
    for name in ("people", "roles", "education", "publications"):
        assert "pA" not in set(out[name]["person_id"].dropna()), name
    assert list(out["publications"]["pub_id"]) == ["x2"]  # A's own patent stays
    assert len(out["roles"]) == 2 and set(out["people"]["person_id"]) == {"pB", "pC"}
    assert out["organizations"] is tables["organizations"]  # untouched tables are shared
    assert len(tables["roles"]) == 4  # the input is not modified
    assert set(out["opt_outs"]["subject_id"]) == {"C", "pA"}
    # Opted-out organisations keep being excluded as candidates.
    assert "C" not in set(candidates(out, "2022-12-31")["org_id"])


def test_no_register_and_no_lake_table_adds_nothing() -> None:
    tables = {k: v for k, v in world().items() if k != "opt_outs"}
    assert "opt_outs" not in apply_opt_outs(tables, None)


def test_features_stop_counting_an_opted_out_founder(tmp_path: Path) -> None:
    tables = world()
    before = build_feature_tables(tables, SNAPSHOT)
    settings = Settings(home=tmp_path)
    record_opt_outs(register_path(settings), [("person", "pA")])
    after = build_feature_tables(apply_settings_opt_outs(tables, settings), SNAPSHOT)

    was, now = latest(before["founders"], "org_id", "A"), latest(after["founders"], "org_id", "A")
    assert was["n_founders_phd"] == 1 and now["n_founders_phd"] == 0
    assert was["n_founders_prior_venture"] == 1 and now["n_founders_prior_venture"] == 0
    assert now["n_founders_mba"] == 1  # the other founder still counts
    team_was, team_now = latest(before["team"], "org_id", "A"), latest(after["team"], "org_id", "A")
    assert team_was["n_founders"] == 2 and team_now["n_founders"] == 1
    research = latest(after["research"], "org_id", "A")
    assert research["org_n_patents"] == 1  # the company's own patent
    assert research["founders_n_papers"] == 0
    assert "pA" in set(before["person_research"]["person_id"])
    assert "pA" not in set(after["person_research"]["person_id"])


def test_feature_tables_lose_opted_out_entities() -> None:
    tables = world()
    built = build_feature_tables(tables, SNAPSHOT)
    opt = effective_opt_outs(
        tables,
        pd.DataFrame(
            {"subject_kind": ["person"], "subject_id": ["pA"], "since": [D("2026-01-01")]}
        ),
    )
    cut = drop_opted_out_features(built, opt)
    assert "C" in set(built["profile"]["org_id"]) and "C" not in set(cut["profile"]["org_id"])
    assert all("C" not in set(f["org_id"]) for f in cut.values() if "org_id" in f)
    assert "pA" not in set(cut["person_research"]["person_id"])
    assert set(cut["profile"]["org_id"]) == {"A", "B"}


def test_fingerprint_changes_with_the_set_only() -> None:
    tables = world()
    base = opt_outs_fingerprint(tables["opt_outs"])
    again = tables["opt_outs"].assign(since=D("2021-01-01"))
    assert opt_outs_fingerprint(again) == base
    more = effective_opt_outs(
        tables,
        pd.DataFrame(
            {"subject_kind": ["person"], "subject_id": ["pA"], "since": [D("2026-01-01")]}
        ),
    )
    assert opt_outs_fingerprint(more) != base
    assert "pA" not in opt_outs_fingerprint(more)
