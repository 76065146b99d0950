"""French phrasing of the model's reasons: every English row has a French one, in fr-FR.

The French sentence is built from the structured reason (feature, value, direction), so
these tests call ``phrasing_fr.describe`` / ``explain.sentence`` with the parts, never
with an English string.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from talentmap.features.catalog import FAMILIES, ON_DEMAND_FAMILIES
from talentmap.training.model import phrasing, phrasing_fr
from talentmap.training.model.explain import (
    LOWERS_FR,
    RAISES_FR,
    localised_texts,
    sentence,
)

NBSP, NNBSP = "\u00a0", "\u202f"
_GROUP = re.compile(r"\(\?P<(\w+)>([^)]*)\)")


def names_of(pattern: str) -> list[str]:
    """Every feature name a row's pattern matches (its named groups are alternations)."""
    groups = _GROUP.findall(pattern)
    if not groups:
        return [pattern]
    names = []
    for choice in itertools.product(*(alts.split("|") for _, alts in groups)):
        parts = iter(choice)
        names.append(_GROUP.sub(lambda _m, parts=parts: next(parts), pattern))
    return names


def test_every_english_phrase_has_a_french_form() -> None:
    # Fails when a row is added to phrasing.PHRASES without its French in phrasing_fr.
    assert phrasing_fr.untranslated() == []
    for phrase in phrasing.PHRASES:
        french = phrasing_fr.PHRASES_FR[phrase.pattern]
        for template in ("one", "zero", "negative", "missing"):
            if getattr(phrase, template) is not None:
                assert getattr(french, template) is not None, (phrase.pattern, template)


def test_the_untranslated_check_sees_a_missing_row(monkeypatch: pytest.MonkeyPatch) -> None:
    row = phrasing.PHRASES[0]
    smaller = {k: v for k, v in phrasing_fr.PHRASES_FR.items() if k != row.pattern}
    monkeypatch.setattr(phrasing_fr, "PHRASES_FR", smaller)
    assert phrasing_fr.untranslated() == [row.pattern]
    assert phrasing_fr.describe(row.pattern, "x") == f"{row.pattern} = x"  # generic, not English


@pytest.mark.parametrize("phrase", phrasing.PHRASES, ids=lambda p: p.pattern)
def test_every_row_renders_in_french_for_every_value(phrase: phrasing.Phrase) -> None:
    values: list[object] = (
        ["Occitanie", None] if phrase.kind == "text" else [None, 0.0, 1.0, 3.0, 2.5, -0.2]
    )
    for name in names_of(phrase.pattern):
        assert phrasing.phrase_for(name) is phrase, name
        for value in values:
            french = phrasing_fr.describe(name, value)
            assert french and "{" not in french and "}" not in french, (name, value, french)
            assert not re.search(r"\bnan\b", french.lower()), (name, value, french)
            assert "_" not in french, (name, value, french)
            assert french != phrasing.describe(name, value), (name, value)  # not English


@pytest.mark.parametrize(
    ("feature", "value", "expected"),
    [
        ("n_rounds", 0.0, "aucun tour de financement enregistré pour l'instant"),
        ("n_rounds", 1.0, "a levé 1 tour de financement à ce jour"),
        ("n_rounds", np.nan, "historique de financement inconnu"),
        ("n_rounds_seed", 1.0, "a levé 1 tour d'amorçage"),
        ("n_rounds_series_a", 2.0, "a levé 2 tours de série A"),
        ("days_since_last_round", 122.0, "a levé son dernier tour il y a 4 mois"),
        ("days_since_last_round", 1.0, "a levé son dernier tour il y a 1 jour"),
        ("company_age_days", 913.0, "créée il y a 2,5 ans"),
        ("headcount_growth_12m", 0.4, f"effectif en hausse de 40{NNBSP}% sur 12 mois"),
        ("headcount_growth_12m", -0.25, f"effectif en baisse de 25{NNBSP}% sur 12 mois"),
        ("n_founders_phd", 1.0, "un fondateur titulaire d'un doctorat"),
        ("n_founders_phd", 0.0, "aucun fondateur titulaire d'un doctorat"),
        ("region", "Occitanie", "région : Occitanie"),
        ("country", "FR", "pays d'immatriculation : France"),
        ("amount_total_eur", 1_200_000.0, f"a levé 1,2{NBSP}M€ au total"),
        ("amount_last_eur", 350_000.0, f"dernier tour : 350{NBSP}k€"),
        ("amount_max_eur", 2_000_000_000.0, f"plus gros tour : 2{NBSP}Md€"),
        ("stage_ordinal", 2.0, "stade le plus avancé atteint : amorçage"),
        ("job_postings_90d", 0.0, "aucune offre d'emploi sur les 90 derniers jours"),
        ("job_postings_365d", 4.0, "4 offres d'emploi sur les 12 derniers mois"),
        ("n_programs_accelerator", 1.0, "a participé à 1 accélérateur"),
        ("n_programs_incubator", 2.0, "a participé à 2 incubateurs"),
        ("org_n_patents", 3.0, "3 brevets déposés par l'entreprise"),
        ("founders_n_papers", 1.0, "1 article de recherche publié par les fondateurs"),
        ("round_gap_months_mean", 12.0, "12 mois entre deux dates de financement en moyenne"),
        ("amount_step_up", 2.5, "dernier tour de 2,5 fois le montant du précédent"),
        (
            "market_rounds_12m",
            12_000.0,
            f"12{NNBSP}000 tours de financement dans son secteur et sa région"
            " sur les 12 derniers mois",
        ),
        ("founding_year", 2019.0, "créée en 2019"),
        ("n_widgets_90d", 2.5, "n widgets 90d = 2,5"),
        ("widget_kind", None, "widget kind : inconnu"),
    ],
)
def test_french_phrasing_table(feature: str, value: object, expected: str) -> None:
    assert phrasing_fr.describe(feature, value) == expected


def test_french_sentences_carry_the_direction() -> None:
    assert (
        sentence("n_founders_phd", 1.0, 0.31, "fr")
        == f"Un fondateur titulaire d'un doctorat ({RAISES_FR})"
        == "Un fondateur titulaire d'un doctorat (fait monter le score)"
    )
    assert (
        sentence("amount_total_eur", 1_200_000.0, -0.2, "fr")
        == f"A levé 1,2{NBSP}M€ au total ({LOWERS_FR})"
    )
    assert sentence("amount_total_eur", 1_200_000.0, -0.2) == (
        "Raised €1.2M in total (lowers the score)"
    )
    with pytest.raises(ValueError, match="unknown language 'de'"):
        sentence("n_rounds", 1.0, 0.1, "de")


def test_localised_texts_keep_the_stored_english() -> None:
    texts = localised_texts("n_rounds", 1.0, 0.1, "As published (raises the score)")
    assert texts == {
        "en": "As published (raises the score)",
        "fr": "A levé 1 tour de financement à ce jour (fait monter le score)",
    }
    assert localised_texts("n_rounds", 1.0, 0.1)["en"] == sentence("n_rounds", 1.0, 0.1)


def test_every_catalogued_model_feature_is_worded_in_french() -> None:
    names = [
        c for f in (*FAMILIES.values(), *ON_DEMAND_FAMILIES.values()) for c in f.model_features
    ]
    generic = [
        n for n in names if phrasing_fr.describe(n, 2.0).startswith(f"{n.replace('_', ' ')} =")
    ]
    assert generic == []
