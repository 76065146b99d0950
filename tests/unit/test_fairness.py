"""The fairness audit of the top k: hand-computed exposure and selection figures, the
four-fifths flags, the extra audit dimensions, and what the model card and MLflow get.

The planted funding bias is found on a generated world in ``tests/e2e/test_fairness_audit.py``.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from talentmap.settings.model import ModelConfig
from talentmap.settings.training import PromiseRules
from talentmap.training.evaluation.fairness import (
    FairnessConfig,
    attention,
    fairness_audit,
    fairness_document,
    fairness_metrics,
    fairness_table,
)
from talentmap.training.evaluation.fairness_audit import (
    AGE_BAND,
    GRANDE_ECOLE,
    LEAD_GENDER,
    MEN_LED,
    NO_DEGREE,
    OTHER_SCHOOL,
    SCHOOL,
    UNIVERSITY,
    UNKNOWN,
    WOMEN_LED,
    audit_groups,
)
from talentmap.training.model.estimator import PromiseModel
from talentmap.training.tracking.model_card import CardData, render_model_card
from talentmap.training.tracking.plots import fairness_ratios

# Seven candidates, best first.
SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
GROUPS = np.array(["a", "b", "a", "b", "b", "c", "a"], dtype=object)


def test_attention_is_the_dcg_discount_cut_at_k() -> None:
    np.testing.assert_allclose(attention(3, 5), [1.0, 1 / math.log2(3), 0.5, 0.0, 0.0])


def test_selection_and_exposure_by_hand() -> None:
    table = fairness_table(
        SCORES, GROUPS, k=3, min_group_size=1, min_expected_selected=0
    ).set_index("group")
    # Top 3: a (rank 1), b (rank 2), a (rank 3).
    assert table["selected"].to_dict() == {"a": 2, "b": 1, "c": 0}
    assert table.loc["a", "selection_rate"] == pytest.approx(2 / 3)
    assert table.loc["b", "selection_rate"] == pytest.approx(1 / 3)
    total = 1 + 1 / math.log2(3) + 0.5
    assert table.loc["a", "exposure"] == pytest.approx(1.5)
    assert table.loc["b", "exposure_share"] == pytest.approx(1 / math.log2(3) / total)
    assert table.loc["a", "mean_exposure"] == pytest.approx(0.5)
    # Reference: a, the highest selection rate.
    assert table["reference"].to_dict() == {"a": True, "b": False, "c": False}
    assert table.loc["b", "selection_ratio"] == pytest.approx(0.5)
    assert table.loc["b", "exposure_ratio"] == pytest.approx((1 / math.log2(3) / 3) / 0.5)
    assert table["flagged"].to_dict() == {"a": False, "b": True, "c": True}
    assert table["candidate_share"].sum() == pytest.approx(1.0)
    assert table["exposure_share"].sum() == pytest.approx(1.0)


def test_labels_add_base_rates() -> None:
    y = np.array([1, 0, 0, 1, 1, 0, 0])
    table = fairness_table(
        SCORES, GROUPS, k=3, y_true=y, min_group_size=1, min_expected_selected=0
    ).set_index("group")
    assert table["n_positive"].to_dict() == {"a": 1, "b": 2, "c": 0}
    assert table.loc["b", "base_rate"] == pytest.approx(2 / 3)


def test_reference_is_never_unknown_nor_a_small_group() -> None:
    scores = np.arange(10, 0, -1, dtype=float)
    groups = np.array(
        [UNKNOWN, "tiny", "big", "big", "big", "other", "other", "other", "big", "other"]
    )
    table = fairness_table(
        scores, groups, k=3, min_group_size=3, min_expected_selected=0
    ).set_index("group")
    # unknown (1/1) and tiny (1/1) are selected at 100% but cannot set the bar.
    assert table.loc["big", "reference"] and not table.loc[UNKNOWN, "reference"]
    assert table.loc["tiny", "small"] and not table.loc["big", "small"]
    assert table.loc["big", "selection_ratio"] == pytest.approx(1.0)
    assert table.loc["tiny", "selection_ratio"] == pytest.approx(4.0)
    assert table.loc["other", "flagged"]


def test_groups_expected_to_place_few_candidates_are_small() -> None:
    # 100 candidates, k=10: overall rate 0.1; "b" (20) expects 2 places, "a" (80) expects 8.
    groups = np.array(["b"] * 4 + ["a"] * 80 + ["b"] * 16, dtype=object)
    scores = np.linspace(1.0, 0.0, 100)  # top 10: 4 b, then 6 a
    table = fairness_table(scores, groups, k=10, min_group_size=1).set_index("group")
    assert table.loc["b", "small"] and not table.loc["a", "small"]
    assert table.loc["a", "reference"]  # although b's rate (4/20) is higher than a's (6/80)
    assert table.loc["b", "selection_ratio"] == pytest.approx((4 / 20) / (6 / 80))


def test_no_reference_gives_undefined_ratios_and_no_flags() -> None:
    table = fairness_table([0.5, 0.4], [UNKNOWN, None], k=1)
    assert table["selection_ratio"].isna().all() and not table["flagged"].any()


def test_metric_keys_and_document() -> None:
    audit = pd.DataFrame(
        {
            "org_id": [f"o{i}" for i in range(7)],
            "region": ["Île-de-France"] * 4 + ["Provence-Alpes-Côte d'Azur"] * 3,
            "founder_gender": [
                *("men only", "women only", "men only", "mixed"),
                *("women only", "men only", "women only"),
            ],
        }
    )
    config = FairnessConfig(k=3, min_group_size=1, min_expected_selected=0)
    tables = fairness_audit(SCORES, audit, config)
    assert set(tables) == {"region", "gender"}
    metrics = fairness_metrics(tables, config.k)
    assert metrics["fairness.gender.women_only.selection_rate_at_3"] == pytest.approx(1 / 3)
    assert "fairness.region.Provence-Alpes-Côte_d_Azur.selection_ratio_at_3" in metrics
    # men only 2 of 3 (the reference), women only 1 of 3 (ratio 0.5), mixed 0 of 1.
    assert metrics["fairness.gender.n_flagged_at_3"] == 2.0
    assert metrics["fairness.gender.women_only.selection_ratio_at_3"] == pytest.approx(0.5)
    assert not any("@" in key or " " in key for key in metrics)
    document = fairness_document(tables, config, {"m": 2, "cost": 0.01})
    text = json.dumps(document, allow_nan=False, ensure_ascii=False)  # strict JSON
    assert document["dimensions"]["gender"]["flagged"] == ["mixed", "women only"]
    assert document["dimensions"]["gender"]["reference_group"] == "men only"
    assert "1/log2(1 + rank)" in text and document["regional_floor"]["m"] == 2


def test_gender_is_never_a_model_feature() -> None:
    from talentmap.training.pipeline.backtest import feature_names

    protected = re.compile(r"gender|\bsex|_sex|women|female|\bmale|femme|homme", re.IGNORECASE)
    names = feature_names()
    assert len(names) > 10
    assert [n for n in names if protected.search(n)] == []
    # And the model refuses any such column, including the audit's own.
    for column in ("founder_gender", LEAD_GENDER, "sex"):
        with pytest.raises(ValueError, match="protected"):
            PromiseModel(ModelConfig(num_threads=1, n_estimators=5), features=["x", column]).fit(
                pd.DataFrame({"x": [0.0, 1.0] * 20, column: ["F", "M"] * 20}),
                np.array([0, 1] * 20),
                pd.Series(pd.to_datetime(["2020-03-31"] * 20 + ["2020-06-30"] * 20)),
            )


def _people_tables() -> dict[str, pd.DataFrame]:
    people = pd.DataFrame(
        {
            "person_id": ["p1", "p2", "p3", "p4", "p5", "p6"],
            "full_name": ["Nom Un", "Nom Deux", "Nom Trois", "Nom Quatre", "Nom Cinq", "Nom Six"],
            "gender": ["F", "M", "M", "F", None, "M"],
            "birth_year": pd.array([1995, 1980, 1960, 1992, None, 1970], dtype="Int64"),
        }
    )
    roles = pd.DataFrame(
        {
            "person_id": ["p1", "p2", "p3", "p4", "p5", "p6"],
            "org_id": ["o1", "o1", "o2", "o3", "o4", "o3"],
            "role": ["founder"] * 5 + ["employee"],
            "title": ["CEO", "CTO", None, "Co-founder", "Président", None],
            "started_on": pd.to_datetime(["2019-01-01"] * 4 + [None, "2019-01-01"]),
        }
    )
    education = pd.DataFrame(
        {
            "person_id": ["p1", "p2", "p3", "p4", "p4"],
            "institution": [
                "Université de Rennes",
                "HEC Paris",
                "Epitech",
                "Université de Lille",
                "École polytechnique",
            ],
            "degree": ["master", "master", "engineer", "master", "engineer"],
            "graduated_on": pd.to_datetime(
                ["2018-06-30", "2005-06-30", "1985-06-30", "2015-06-30", "2021-06-30"]
            ),
        }
    )
    organizations = pd.DataFrame(
        {"org_id": ["o1", "o2", "o3", "o4"], "region": ["Bretagne", "Corse", None, "Occitanie"]}
    )
    return {
        "organizations": organizations,
        "people": people,
        "roles": roles,
        "education": education,
    }


def test_lead_gender_age_band_and_school_per_team() -> None:
    groups = audit_groups(_people_tables(), ["o1", "o2", "o3", "o4", "o5"], "2020-06-30")
    assert list(groups.columns) == [
        "org_id",
        "region",
        "founder_gender",
        LEAD_GENDER,
        AGE_BAND,
        SCHOOL,
    ]
    # o1: CEO p1 is a woman; o2: solo founder, a man; o3: no lead title in a team of one
    # founder (p6 is an employee): solo, a woman; o4: gender unknown; o5: no founders.
    assert groups[LEAD_GENDER].tolist() == [WOMEN_LED, MEN_LED, WOMEN_LED, UNKNOWN, UNKNOWN]
    # Median ages in 2020: o1 (25, 40) -> 32.5; o2 60; o3 28; o4 no birth year.
    assert groups[AGE_BAND].tolist() == ["30-39", "50 and over", "under 30", UNKNOWN, UNKNOWN]
    # o3's polytechnique degree is from 2021, after the as-of date: only the university counts.
    assert groups[SCHOOL].tolist() == [GRANDE_ECOLE, OTHER_SCHOOL, UNIVERSITY, NO_DEGREE, NO_DEGREE]
    names = " ".join(_people_tables()["people"]["full_name"])
    assert not any(part in groups.to_string() for part in names.split())


def test_dimensions_the_data_cannot_describe_are_left_out() -> None:
    tables = _people_tables()
    tables["people"] = tables["people"].drop(columns="birth_year")
    tables["roles"] = tables["roles"].drop(columns="title")
    del tables["education"]
    groups = audit_groups(tables, ["o1", "o2"], "2020-06-30")
    assert list(groups.columns) == ["org_id", "region", "founder_gender"]


def _card(fairness: dict[str, pd.DataFrame], floor: dict | None) -> str:
    report = {"auc_pr": 0.3, "auc_roc": 0.7, "precision@100": 0.4}
    return render_model_card(
        CardData(
            model_name="talent-promise",
            snapshot_id="snap",
            snapshot_date="2025-12-31",
            horizon_months=24,
            rules=PromiseRules(),
            feature_service="promise",
            features=["n_rounds"],
            training_as_of=["2020-03-31"],
            training_rows=100,
            training_positives=10,
            evaluation_as_of="2023-12-31",
            evaluation_rows=50,
            evaluation_positives=5,
            metrics={"model": report},
            fairness=fairness,
            fairness_k=3,
            regional_floor=floor,
        )
    )


def test_model_card_shows_flags_and_says_what_they_mean() -> None:
    audit = pd.DataFrame({"founder_gender": GROUPS, "lead_founder_gender": GROUPS})
    tables = fairness_audit(
        SCORES, audit, FairnessConfig(k=3, min_group_size=2, min_expected_selected=0)
    )
    floor = {
        "m": 2,
        "k": 3,
        "precision_at_k_without": 0.4,
        "precision_at_k_with": 0.38,
        "cost": 0.02,
        "promoted": 5,
        "regions_floored": 13,
        "feasible": True,
    }
    card = _card(tables, floor)
    assert "## Fairness of the top-3 shortlist" in card
    assert "### By founding-team gender" in card and "### By lead founder's gender" in card
    assert "| b | 3 | 0.429 | 1 | 0.333 | 0.50 |" in card and "**below 0.8**" in card
    assert "| a | 3 |" in card and "reference" in card
    assert "| c | 1 |" in card and "(small group: noisy)" in card
    assert "What a flag means" in card and "What it does not mean" in card
    assert "not proof" in card
    assert "precision@3 goes from 0.400 to 0.380 (cost +0.020)" in card
    assert "No audit group" in _card({}, None)


def test_fairness_plot_has_one_panel_per_dimension() -> None:
    audit = pd.DataFrame({"region": GROUPS, "founder_gender": GROUPS[::-1]})
    figure = fairness_ratios(fairness_audit(SCORES, audit, FairnessConfig(k=3)), 3)
    assert len(figure.axes) == 2
    assert figure.axes[0].get_title() == "region: selection ratio in the top 3"
