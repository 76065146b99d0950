"""Explanations: LightGBM contributions and their plain-English phrasing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fixtures.toy_rows import toy_training_rows

from talentmap.features.catalog import FAMILIES, ON_DEMAND_FAMILIES, TIMING_FEATURES
from talentmap.settings.model import ModelConfig
from talentmap.training.model.estimator import PromiseModel
from talentmap.training.model.explain import (
    BIAS,
    LOWERS,
    LOWERS_FR,
    RAISES,
    RAISES_FR,
    contributions,
    reasons_frame,
    sentence,
    top_reasons,
)
from talentmap.training.model.phrasing import describe, feature_label, phrase_for


@pytest.fixture(scope="module")
def fitted() -> tuple[PromiseModel, pd.DataFrame]:
    x, y, as_of = toy_training_rows(seed=5, n_dates=16, per_date=250)
    return PromiseModel(ModelConfig(num_threads=1)).fit(x, y, as_of), x.head(300)


def test_contributions_sum_to_the_raw_score(fitted) -> None:
    model, x = fitted
    contrib = contributions(model, x)
    assert contrib.columns.to_list() == [*model.feature_names_, BIAS]
    assert contrib.index.equals(x.index)
    np.testing.assert_allclose(contrib.sum(axis=1), model.predict_raw(x), rtol=0, atol=1e-9)
    # The bias is the same expected raw score on every row.
    assert contrib[BIAS].nunique() == 1


def test_top_reasons_are_the_largest_signed_contributions(fitted) -> None:
    model, x = fitted
    contrib = contributions(model, x).drop(columns=BIAS)
    reasons = top_reasons(model, x, n=3)
    assert len(reasons) == len(x)
    signs = set()
    for row, row_reasons in zip(contrib.itertuples(index=False), reasons, strict=True):
        assert len(row_reasons) == 3
        sizes = [abs(r.contribution) for r in row_reasons]
        assert sizes == sorted(sizes, reverse=True)
        row_values = row._asdict()
        assert sizes[0] == max(abs(v) for v in row_values.values())
        for reason in row_reasons:
            assert reason.contribution == row_values[reason.feature]
            assert reason.text.endswith(f"({RAISES})" if reason.contribution > 0 else f"({LOWERS})")
            assert not reason.text[0].islower()
            assert "nan" not in reason.text.lower()
            signs.add(reason.contribution > 0)
    assert signs == {True, False}


def test_reasons_name_the_signal_in_words(fitted) -> None:
    model, x = fitted
    # A row with high growth and two PhDs: both signals push the score up, in words.
    row = x.head(1).assign(headcount_growth_12m=0.4, n_founders_phd=2.0)
    texts = {r.feature: r.text for r in top_reasons(model, row, n=2)[0]}
    assert texts == {
        "headcount_growth_12m": "Headcount grew 40% in 12 months (raises the score)",
        "n_founders_phd": "2 founders hold a PhD (raises the score)",
    }


def test_unseen_category_is_explained_as_unknown(fitted) -> None:
    model, x = fitted
    row = x.head(1).assign(region="Atlantis")
    reasons = top_reasons(model, row, n=len(model.feature_names_))[0]
    region = [r for r in reasons if r.feature == "region"]
    assert all(r.value is None and r.fact == "region unknown" for r in region)


def test_reasons_are_worded_in_each_language(fitted) -> None:
    model, x = fitted
    for reasons in top_reasons(model, x.head(20), n=3):
        for reason in reasons:
            assert reason.texts["en"] == reason.text
            assert reason.texts["fr"] == sentence(
                reason.feature, reason.value, reason.contribution, "fr"
            )
            direction = RAISES_FR if reason.contribution > 0 else LOWERS_FR
            assert reason.texts["fr"].endswith(f"({direction})")


def test_reasons_frame_has_one_column_per_reason(fitted) -> None:
    model, x = fitted
    frame = reasons_frame(model, x.head(5), n=2)
    assert frame.columns.to_list() == ["reason_1", "reason_2"]
    assert frame.index.equals(x.head(5).index)
    assert frame.notna().all().all()


@pytest.mark.parametrize(
    ("feature", "value", "expected"),
    [
        ("n_rounds", 0.0, "no funding round recorded yet"),
        ("n_rounds", 1.0, "raised 1 funding round so far"),
        ("n_rounds", np.nan, "funding history unknown"),
        ("n_rounds_seed", 1.0, "raised 1 seed round"),
        ("n_rounds_angel", 1.0, "raised 1 angel round"),
        ("n_rounds_series_a", 2.0, "raised 2 Series A rounds"),
        ("days_since_last_round", 122.0, "raised its latest round 4 months ago"),
        ("days_since_last_round", None, "no funding round recorded yet"),
        ("company_age_days", 913.0, "founded 2.5 years ago"),
        ("headcount_growth_12m", 0.4, "headcount grew 40% in 12 months"),
        ("headcount_growth_12m", -0.25, "headcount shrank 25% in 12 months"),
        ("n_founders_phd", 1.0, "a founder holds a PhD"),
        ("n_founders_phd", 0.0, "no founder holds a PhD"),
        ("region", "Occitanie", "based in Occitanie"),
        ("country", "FR", "registered in France"),
        ("amount_total_eur", 1_500_000.0, "raised €1.5M in total"),
        ("amount_last_eur", 350_000.0, "latest round €350k"),
        ("stage_ordinal", 2.0, "furthest stage reached: seed"),
        ("job_postings_90d", 0.0, "no job posting in the last 90 days"),
        ("n_programs_accelerator", 1.0, "took part in 1 accelerator"),
        ("org_n_patents", 3.0, "the company filed 3 patents"),
        ("founders_n_papers", 1.0, "the founders published a research paper"),
        ("round_gap_months_mean", 17.9, "18 months between funding dates on average"),
        ("amount_step_up", 2.5, "latest round 2.5x the size of the one before"),
        ("amount_step_up", np.nan, "no step-up known between its last two rounds"),
        (
            "amount_last_vs_type_year_median",
            0.4,
            "latest round 0.4x the median of its type that year",
        ),
        (
            "market_rounds_12m",
            12.0,
            "12 funding rounds in its sector and region in the last 12 months",
        ),
        ("sector_rounds_12m", None, "sector unknown"),
        (
            "investors_track_record_max",
            0.5,
            "up to 50% of an investor's other companies reached a milestone",
        ),
        ("n_investors_with_track_record", 0.0, "no investor with other companies to judge by"),
        ("founding_year", 2019.0, "founded in 2019"),
        ("founding_cohort", "2015-2019", "founded in 2015-2019"),
    ],
)
def test_phrasing_table(feature: str, value: object, expected: str) -> None:
    assert describe(feature, value) == expected


@pytest.mark.parametrize(
    ("feature", "value", "expected"),
    [
        ("n_widgets_90d", 3.0, "n widgets 90d = 3"),
        ("widget_score", 0.25, "widget score = 0.25"),
        ("widget_kind", "blue", "widget kind = blue"),
        ("widget_kind", None, "widget kind unknown"),
        ("n_rounds_unheard_of", 2.0, "n rounds unheard of = 2"),
    ],
)
def test_unknown_features_fall_back_to_a_generic_phrase(feature, value, expected) -> None:
    assert describe(feature, value) == expected


def test_unknown_feature_in_a_model_is_explained_generically(fitted) -> None:
    model, x = fitted
    reasons = top_reasons(model, x, n=len(model.feature_names_))
    noise = [r for row in reasons for r in row if r.feature == "noise"]
    assert noise and all(r.fact.startswith("noise = ") for r in noise)


def test_every_catalogued_model_feature_has_its_own_phrase() -> None:
    # Fails when the feature catalogue gains or renames a feature the table does not
    # word yet: the explanation would still work (generic phrase), but read worse.
    names = [
        c for f in (*FAMILIES.values(), *ON_DEMAND_FAMILIES.values()) for c in f.model_features
    ]
    assert set(TIMING_FEATURES) <= set(names)
    assert [n for n in names if phrase_for(n) is None] == []
    assert [n for n in names if phrase_for(n).missing is None] == []
    assert all(describe(n, 2.0) != f"{feature_label(n)} = 2" for n in names)
