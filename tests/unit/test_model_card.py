"""The model card and the fairness-audit numbers it is built from.

The card's text is checked on hand-made numbers; the audit groups on tiny hand-made
tables whose answer is known. The card as logged in MLflow is checked in
``test_tracking.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from talentmap.settings.training import PromiseRules
from talentmap.training.evaluation.fairness_audit import (
    FOUNDER_GENDER,
    MEN_ONLY,
    MIXED,
    UNKNOWN,
    WOMEN_ONLY,
    audit_groups,
    group_metrics,
)
from talentmap.training.evaluation.metrics import ranking_report, to_jsonable
from talentmap.training.tracking.model_card import SMALL_GROUP, CardData, render_model_card

NAMES = ("Apolline Rivière", "Jean-Baptiste Kervella", "Yasmine Haddad", "Lucas Moreau")


def _tables() -> dict[str, pd.DataFrame]:
    people = pd.DataFrame(
        {
            "person_id": ["p1", "p2", "p3", "p4"],
            "full_name": list(NAMES),
            "gender": ["F", "M", "F", None],
        }
    )
    roles = pd.DataFrame(
        {
            "person_id": ["p1", "p3", "p1", "p2", "p2", "p4", "p3"],
            "org_id": ["o1", "o1", "o2", "o2", "o3", "o4", "o5"],
            "role": ["founder", "founder", "founder", "founder", "founder", "founder", "advisor"],
            "started_on": pd.to_datetime(
                ["2019-01-01", None, "2019-01-01", "2019-01-01", "2019-01-01", None, None]
            ),
        }
    )
    organizations = pd.DataFrame(
        {
            "org_id": ["o1", "o2", "o3", "o4", "o5", "o6"],
            "region": ["Bretagne", "Occitanie", "Bretagne", None, "Corse", "Bretagne"],
        }
    )
    return {"organizations": organizations, "people": people, "roles": roles}


def test_audit_groups_compose_teams_without_names() -> None:
    groups = audit_groups(_tables(), ["o1", "o2", "o3", "o4", "o5", "o6"], "2020-06-30")
    assert list(groups.columns) == ["org_id", "region", FOUNDER_GENDER]
    assert groups[FOUNDER_GENDER].tolist() == [
        WOMEN_ONLY,  # two women
        MIXED,  # a woman and a man
        MEN_ONLY,
        UNKNOWN,  # founder's gender not recorded
        UNKNOWN,  # an advisor is not a founder
        UNKNOWN,  # no role at all
    ]
    assert groups["region"].tolist() == [
        "Bretagne",
        "Occitanie",
        "Bretagne",
        UNKNOWN,
        "Corse",
        "Bretagne",
    ]
    text = groups.to_csv()
    assert not any(name in text for name in NAMES)


def test_founders_who_start_later_do_not_count_yet() -> None:
    groups = audit_groups(_tables(), ["o2", "o3"], "2018-06-30")
    assert groups[FOUNDER_GENDER].tolist() == [UNKNOWN, UNKNOWN]


def test_audit_without_people_is_unknown_not_guessed() -> None:
    tables = {"organizations": _tables()["organizations"]}
    groups = audit_groups(tables, ["o1", "o2"], "2020-06-30")
    assert groups[FOUNDER_GENDER].tolist() == [UNKNOWN, UNKNOWN]


def test_group_metrics_by_hand() -> None:
    y = np.array([1, 0, 0, 1, 0, 0])
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.2, 0.1])
    groups = np.array(["a", "a", "a", "b", "b", "b"])
    table = group_metrics(y, {"model": score}, groups, k=2).set_index("group")
    assert table.loc["a", "n"] == 3 and table.loc["a", "n_positive"] == 1
    assert table.loc["a", "auc_pr"] == pytest.approx(1.0)  # its positive ranks first
    assert table.loc["a", "selected"] == 2 and table.loc["b", "selected"] == 0
    assert table.loc["a", "precision_selected"] == pytest.approx(0.5)
    assert np.isnan(table.loc["b", "precision_selected"])  # nobody selected
    assert table.loc["a", "share_of_selected"] == 1.0
    assert table.loc["b", "share_of_positives"] == 0.5


def _card(**overrides: object) -> str:
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.15).astype(int)
    scores = {
        "model": np.clip(y * 0.3 + rng.random(400) * 0.6, 0, 1),
        "logistic_regression": rng.random(400),
        "total_raised": rng.random(400) * 1e6,
    }
    regions = np.where(np.arange(400) < 390, "Bretagne", "Corse")
    gender = np.array([WOMEN_ONLY, MEN_ONLY, MIXED, UNKNOWN])[np.arange(400) % 4]
    data = {
        "model_name": "talent-promise",
        "snapshot_id": "20251231-abcdef0123456789",
        "snapshot_date": "2025-12-31",
        "horizon_months": 24,
        "rules": PromiseRules(),
        "feature_service": "promise",
        "features": ["n_rounds", "headcount_growth_12m"],
        "training_as_of": ["2015-03-31", "2021-12-31"],
        "training_rows": 12_000,
        "training_positives": 1_800,
        "evaluation_as_of": "2023-12-31",
        "evaluation_rows": 400,
        "evaluation_positives": int(y.sum()),
        "metrics": {name: to_jsonable(ranking_report(y, s)) for name, s in scores.items()},
        "by_region": group_metrics(y, scores, regions),
        "by_founder_gender": group_metrics(y, scores, gender),
        "run_id": "abc123",
    }
    data.update(overrides)
    return render_model_card(CardData(**data))  # type: ignore[arg-type]


def test_card_states_use_misuse_and_the_ai_act() -> None:
    card = _card()
    assert "## Intended use" in card and "## Out of scope and misuse" in card
    assert "**companies**" in card
    assert "Never use it to recruit, hire, evaluate or select people" in card
    assert "high-risk AI system under the EU AI Act" in card
    assert "never a model feature" in card


def test_card_states_the_data() -> None:
    card = _card()
    assert "`20251231-abcdef0123456789`" in card and "2025-12-31" in card
    assert "12,000 rows" in card and "from 2015-03-31 to 2021-12-31" in card
    assert "base rate 0.150" in card  # 1,800 / 12,000
    assert "Evaluation: the candidates as of 2023-12-31, 400 rows" in card


def test_card_compares_the_model_with_the_baselines() -> None:
    card = _card()
    for label in (
        "LightGBM promise model",
        "baseline: logistic regression",
        "baseline: total raised",
    ):
        assert f"| {label}" in card
    total_raised = next(line for line in card.splitlines() if "total raised so far |" in line)
    assert total_raised.endswith("| n/a | n/a |")  # Brier and ECE undefined for a heuristic


def test_card_reports_regions_and_team_gender_with_small_groups_flagged() -> None:
    card = _card()
    assert "## Per region" in card and "## Per founding-team gender (audit only)" in card
    assert "| Bretagne | 390 |" in card
    assert "| Corse (small group: noisy) | 10 |" in card
    assert f"fewer than {SMALL_GROUP} evaluation rows have noisy metrics: Corse" in card
    for group in (WOMEN_ONLY, MEN_ONLY, MIXED, UNKNOWN):
        assert f"| {group} | 100 |" in card


def test_card_without_audit_data_says_so() -> None:
    card = _card(by_region=None, by_founder_gender=None)
    assert "No region information was available" in card
    assert "No founding team information was available" in card
    assert "## Limitations" in card
