"""The company page's parts and the earlier rankings: the timeline (point in time, every
signal kind), the history found in published version folders (merged with MLflow copies by
digest), the choice of the previous ranking, the changes API's parameters and the CLI's
CSV."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from talentmap.serving.changes import Filters
from talentmap.serving.commands.changes import to_csv
from talentmap.serving.company import timeline
from talentmap.serving.history import (
    HistoricRanking,
    merged,
    previous_ranking,
    published_rankings,
    read_frame,
)
from talentmap.serving.web_pages import BadParameterError, changes_filters
from talentmap.settings import Settings
from talentmap.training.pipeline import ranking_file


def tables() -> dict[str, pd.DataFrame]:
    day = pd.Timestamp
    return {
        "organizations": pd.DataFrame(
            {
                "org_id": ["o1", "o2"],
                "name": ["One", "Two"],
                "founded_on": [day("2020-01-15"), day("2019-01-01")],
            }
        ),
        "funding_rounds": pd.DataFrame(
            {
                "round_id": ["r1", "r2", "r3"],
                "org_id": ["o1", "o1", "o2"],
                "announced_on": [day("2021-03-01"), day("2024-06-01"), day("2021-01-01")],
                "round_type": ["seed", "series_a", "seed"],
                "amount_eur": [500_000.0, 5_000_000.0, 1.0],
                "n_investors": [2, 4, 1],
            }
        ),
        "programs": pd.DataFrame(
            {
                "org_id": ["o1"],
                "program_id": ["p"],
                "program_name": ["Station F"],
                "program_kind": ["incubator"],
                "started_on": [day("2020-06-01")],
                "ended_on": [pd.NaT],
            }
        ),
        "job_postings": pd.DataFrame(
            {"org_id": ["o1"], "posted_on": [day("2022-02-02")], "category": ["data"]}
        ),
        "headcount": pd.DataFrame(
            {"org_id": ["o1"], "observed_on": [day("2022-01-01")], "headcount": [12]}
        ),
        "publications": pd.DataFrame(
            {
                "pub_id": ["x", "y"],
                "person_id": ["per1", None],
                "org_id": [None, "o1"],
                "published_on": [day("2021-05-05"), day("2021-07-07")],
                "kind": ["paper", "patent"],
                "venue": ["NeurIPS", "EPO"],
            }
        ),
        "exits": pd.DataFrame(
            {
                "org_id": ["o2"],
                "exit_kind": ["acquired"],
                "exited_on": [day("2022-01-01")],
                "amount_eur": [9.0],
            }
        ),
    }


def test_timeline_lists_every_kind_in_date_order_up_to_the_serving_date() -> None:
    events = timeline(tables(), "o1", date(2023, 12, 31))
    kinds = [e["kind"] for e in events]
    assert kinds == ["founded", "programme", "round", "publication", "headcount", "job_posting"]
    assert [e["date"] for e in events] == sorted(e["date"] for e in events)
    seed = events[2]
    assert seed["detail"] == {"round_type": "seed", "amount_eur": 500_000.0, "n_investors": 2}
    assert events[1]["detail"]["ended_on"] is None  # NaT -> null
    # The Series A of 2024 is after the serving date: not shown (point in time).
    assert "series_a" not in json.dumps(events)
    # A founder's own paper (person-level) is not the company's signal.
    assert "NeurIPS" not in json.dumps(events)
    json.dumps(events)  # JSON-ready


def test_timeline_of_another_company_and_exits() -> None:
    events = timeline(tables(), "o2", date(2030, 1, 1))
    assert [e["kind"] for e in events] == ["founded", "round", "exit"]
    assert timeline(tables(), "nobody", date(2030, 1, 1)) == []


def publish(root: Path, name: str, rows: list[tuple[str, str, float]], meta: dict) -> Path:
    """A version folder with a published ranking (the real writer)."""
    frame = pd.DataFrame(rows, columns=["org_id", "region", "score"])
    frame = frame.sort_values("score", ascending=False).reset_index(drop=True)
    frame = frame.assign(
        name=frame["org_id"].str.upper(),
        country="FR",
        city=None,
        sector="software",
        founded_on=pd.Timestamp("2020-01-01"),
        rank=range(1, len(frame) + 1),
        percentile=ranking_file.percentiles(frame["score"]),
        reason_1=None,
        reason_2=None,
        reason_3=None,
    )
    founders = pd.DataFrame(columns=["org_id", "person_id", "name", "role"])
    return ranking_file.write_ranking(
        root / name / "features", frame, founders, list(frame["org_id"]), meta
    )


def test_published_history_previous_and_frames(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    versions = settings.path(settings.retrain.versions_dir)
    publish(
        versions,
        "20250101-aaa",
        [("a", "Occitanie", 0.9), ("b", "Bretagne", 0.5)],
        {
            "ranking_id": "r1",
            "model_version": "1",
            "run_id": "run1",
            "as_of": "2025-01-01",
            "created_at": "2025-01-02T00:00:00+00:00",
        },
    )
    publish(
        versions,
        "20250201-bbb",
        [("a", "Occitanie", 0.4), ("b", "Bretagne", 0.6), ("c", "Corse", 0.1)],
        {
            "ranking_id": "r2",
            "model_version": "1",
            "run_id": "run1",
            "as_of": "2025-02-01",
            "created_at": "2025-02-02T00:00:00+00:00",
        },
    )
    (versions / ".staging-x" / "features" / "ranking").mkdir(parents=True)  # ignored
    found = published_rankings(settings)
    assert [r.ranking_id for r in found] == ["r1", "r2"]
    # Served = r2 (with an opt-out suffix on its id): the previous is r1.
    previous = previous_ranking(found, "r2-1a2b3c4d", "1", "run1")
    assert previous is not None and previous.ranking_id == "r1"
    assert previous_ranking(found, "r1", "1", "run1") is None  # nothing before the first
    # A ranking the service computed itself (unknown id) compares with the newest other
    # producer's list; the served champion's own run is skipped.
    assert previous_ranking(found, "computed", "2", "run2").ranking_id == "r2"
    assert previous_ranking(found, "computed", "1", "run1") is None
    frame = read_frame(found[1])
    assert list(frame["org_id"]) == ["b", "a", "c"]
    assert set(frame["region"]) == {"Occitanie", "Bretagne", "Corse"}  # map regions
    assert "founders" not in frame and "person_id" not in frame


def test_merged_dedupes_copies_by_digest(tmp_path: Path) -> None:
    pub = HistoricRanking(
        "published", tmp_path / "a", "d1", "1", "run1", "r1", "2025-01-01", "s1", "t1"
    )
    copy = HistoricRanking(
        "mlflow",
        tmp_path / "b",
        "d1",
        "1",
        "run1",
        artifact_path="ranking/ranking.parquet",
        created_at="t0",
    )
    other = HistoricRanking("mlflow", tmp_path / "c", "d0", "0", "run0", created_at="t0")
    out = merged([pub], [copy, other])
    assert [e.digest for e in out] == ["d0", "d1"]
    assert out[1].source == "published" and out[1].artifact_path == "ranking/ranking.parquet"


def test_changes_parameters_are_checked_with_clear_messages() -> None:
    k, filters, moves = changes_filters({"k": "7", "region": "Corse", "moves": "2"}, 10)
    assert (k, filters, moves) == (7, Filters(region="Corse"), 2)
    assert changes_filters({}, 10)[0] == 10
    for query, message in (
        ({"k": "0"}, "k must be between"),
        ({"k": "x"}, "k must be a whole number"),
        ({"region": "Bavaria"}, "region must be one of"),
        ({"founded_after": "2020-13-01"}, "founded_after must be YYYY-MM-DD"),
        ({"kk": "1"}, "unknown parameter"),
        ({"moves": "99"}, "moves must be between"),
    ):
        with pytest.raises(BadParameterError, match=message):
            changes_filters(query, 10)


def test_cli_csv_has_one_row_per_change_and_neutralises_formulas() -> None:
    change = {
        "org_id": "o1",
        "name": "=HYPERLINK()",
        "region": "Corse",
        "sector": "software",
        "rank_before": None,
        "rank_after": 1,
        "places": None,
        "score_before": None,
        "score_after": 0.5,
    }
    scope = {"entrants": [change], "leavers": [], "up": [], "down": []}
    answer = {"k": 3, "filters": {"region": None}, "overall": scope, "regions": {"Corse": scope}}
    lines = to_csv(answer).splitlines()
    assert lines[0].startswith("scope,change,org_id,name")
    assert len(lines) == 3
    assert lines[1].startswith("all regions,entrants,o1,'=HYPERLINK()")
    assert lines[2].startswith("Corse,entrants,o1")
