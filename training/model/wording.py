"""A reason's words in each language, from its structured parts (feature, value, sign).

Kept apart from ``explain`` on purpose: the service words every stored reason of a
published ranking when it answers, and ``explain`` imports LightGBM, scikit-learn and
SciPy through the estimator (one to four seconds at a worker's start). This module needs
only the phrasing tables, so the first shortlist with reasons does not wait for them.
"""

from __future__ import annotations

from talentmap.training.model import phrasing, phrasing_fr

RAISES, LOWERS = "raises the score", "lowers the score"
RAISES_FR, LOWERS_FR = "fait monter le score", "fait baisser le score"
LANGUAGES = ("en", "fr")
_DESCRIBE = {"en": phrasing.describe, "fr": phrasing_fr.describe}
_DIRECTIONS = {"en": (RAISES, LOWERS), "fr": (RAISES_FR, LOWERS_FR)}


def direction_sentence(fact: str, contribution: float, lang: str = "en") -> str:
    """``fact`` capitalised, with the direction of its contribution in ``lang``."""
    raises, lowers = _DIRECTIONS[lang]
    direction = raises if contribution > 0 else lowers
    return f"{fact[:1].upper()}{fact[1:]} ({direction})"


def _language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: expected one of {', '.join(LANGUAGES)}")
    return lang


def fact(feature: str, value: object, lang: str = "en") -> str:
    """``feature = value`` in plain words of ``lang`` (no direction)."""
    return _DESCRIBE[_language(lang)](feature, value)


def sentence(feature: str, value: object, contribution: float, lang: str = "en") -> str:
    """A reason's text in ``lang``: "A founder holds a PhD (raises the score)"."""
    return direction_sentence(fact(feature, value, lang), contribution, lang)


def localised_texts(
    feature: str, value: object, contribution: float, english: str | None = None
) -> dict[str, str]:
    """The reason's text in every language of ``LANGUAGES``, keyed by language code.

    ``english``: the English text already at hand (a stored reason's), kept as is so
    that ``texts["en"]`` always equals the reason's ``text``.
    """
    return {
        lang: english
        if lang == "en" and english is not None
        else sentence(feature, value, contribution, lang)
        for lang in LANGUAGES
    }
