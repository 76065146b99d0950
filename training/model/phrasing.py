"""Plain-English phrasing of one feature value: a small table, meant to be edited.

Each row of ``PHRASES`` matches feature names with a regular expression (full match,
first row wins), so new features of an existing family (``n_rounds_<type>``,
``n_programs_<kind>``) are phrased without touching this file, and a renamed or new
feature that matches nothing falls back to ``"<feature label> = <value>"``.

How a row is read:

- ``kind`` formats the value into ``{v}``: ``count`` (3), ``days`` (4 months), ``months``
  (a number of months, worded as ``days``), ``eur`` (€1.2M), ``pct`` (40%, sign dropped:
  pick the words with ``negative``), ``ratio`` (2.5x), ``stage`` (seed), ``text`` (the
  category itself, e.g. a region name).
- templates, picked in this order: ``missing`` for NaN/unknown, ``zero`` for 0,
  ``negative`` for values below 0, ``one`` for exactly 1, else ``many``. An absent
  template falls back to ``many``.
- named groups of the pattern are available to the templates, humanised through
  ``WORDS`` (``series_a`` -> "Series A"); ``{s}`` is "" for 1 and "s" otherwise.

Phrases state facts about the company only. Nothing here may describe a protected
attribute (gender, ethnicity): the model never sees one, and the model refuses such
columns at fit time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

ValueKind = Literal["count", "days", "months", "eur", "pct", "ratio", "stage", "text"]


@dataclass(frozen=True)
class Phrase:
    """How to say one family of features in words (see the module docstring)."""

    pattern: str
    many: str
    kind: ValueKind = "count"
    one: str | None = None
    zero: str | None = None
    negative: str | None = None
    missing: str | None = None


# Words used for the named groups of the patterns and for category values.
WORDS: dict[str, str] = {
    "pre_seed": "pre-seed",
    "seed": "seed",
    "angel": "angel",
    "series_a": "Series A",
    "series_b": "Series B",
    "series_c_plus": "Series C or later",
    "venture_unknown": "venture",
    "grant": "grant",
    "debt": "debt",
    "crowdfunding": "crowdfunding",
    "other": "other",
    "incubator": "incubator",
    "accelerator": "accelerator",
    "public_program": "public support programme",
    "competition": "competition",
    "org": "the company",
    "founders": "the founders",
    "FR": "France",
}
# features.catalog.STAGE_ORDINAL read backwards: the furthest equity stage reached.
STAGES: dict[int, str] = {
    0: "no equity round",
    1: "pre-seed or angel",
    2: "seed",
    3: "Series A",
    4: "Series B",
    5: "Series C or later",
}

_ROUND = "pre_seed|seed|angel|series_a|series_b|series_c_plus|venture_unknown|grant|debt|crowdfunding|other"
_PROGRAM = "incubator|accelerator|public_program|competition"
ROUND_TYPES, PROGRAM_KINDS = _ROUND, _PROGRAM  # for phrasing_fr, whose rows share the patterns

PHRASES: tuple[Phrase, ...] = (
    # profile
    Phrase("region", "based in {v}", kind="text", missing="region unknown"),
    Phrase("sector", "works in {v}", kind="text", missing="sector unknown"),
    Phrase("country", "registered in {v}", kind="text", missing="country unknown"),
    Phrase("company_age_days", "founded {v} ago", kind="days", missing="founding date unknown"),
    # funding
    Phrase(
        "n_rounds",
        "raised {v} funding rounds so far",
        one="raised 1 funding round so far",
        zero="no funding round recorded yet",
        missing="funding history unknown",
    ),
    Phrase(
        f"n_rounds_(?P<round>{_ROUND})",
        "raised {v} {round} rounds",
        one="raised 1 {round} round",  # "1", not "a": no a/an trouble (angel, other)
        zero="no {round} round yet",
        missing="funding history unknown",
    ),
    Phrase(
        "days_since_last_round",
        "raised its latest round {v} ago",
        kind="days",
        missing="no funding round recorded yet",
    ),
    Phrase(
        "days_since_first_round",
        "raised its first round {v} ago",
        kind="days",
        missing="no funding round recorded yet",
    ),
    Phrase(
        "round_gap_days",
        "{v} between its last two funding dates",
        kind="days",
        missing="fewer than two funding dates",
    ),
    Phrase(
        "amount_total_eur",
        "raised {v} in total",
        kind="eur",
        zero="no disclosed amount raised yet",
        missing="amounts raised unknown",
    ),
    Phrase("amount_max_eur", "largest round {v}", kind="eur", missing="no round amount disclosed"),
    Phrase(
        "amount_last_eur", "latest round {v}", kind="eur", missing="latest round amount unknown"
    ),
    Phrase("stage_ordinal", "furthest stage reached: {v}", kind="stage", missing="stage unknown"),
    Phrase(
        "n_distinct_investors",
        "backed by {v} investors",
        one="backed by 1 investor",
        zero="no known investor yet",
        missing="investors unknown",
    ),
    Phrase(
        "n_distinct_vc_investors",
        "backed by {v} venture capital firms",
        one="backed by 1 venture capital firm",
        zero="no venture capital investor yet",
        missing="investors unknown",
    ),
    Phrase(
        "n_rounds_with_vc",
        "{v} rounds with a venture capital firm",
        one="1 round with a venture capital firm",
        zero="no round with a venture capital firm yet",
        missing="investors unknown",
    ),
    Phrase(
        "n_rounds_with_lead",
        "{v} rounds with a named lead investor",
        one="1 round with a named lead investor",
        zero="no round with a named lead investor yet",
        missing="investors unknown",
    ),
    # team and founders
    Phrase(
        "n_founders",
        "{v} founders in post",
        one="1 founder in post",
        zero="no founder in post recorded",
        missing="founding team unknown",
    ),
    Phrase(
        "n_founders_total",
        "{v} founders in total",
        one="1 founder in total",
        missing="founding team unknown",
    ),
    Phrase(
        "n_executives",
        "{v} executives in post",
        one="1 executive in post",
        zero="no executive recorded",
        missing="management team unknown",
    ),
    Phrase(
        "n_founders_phd",
        "{v} founders hold a PhD",
        one="a founder holds a PhD",
        zero="no founder holds a PhD",
        missing="founders' education unknown",
    ),
    Phrase(
        "n_founders_engineer",
        "{v} founders hold an engineering degree",
        one="a founder holds an engineering degree",
        zero="no founder holds an engineering degree",
        missing="founders' education unknown",
    ),
    Phrase(
        "n_founders_mba",
        "{v} founders hold an MBA",
        one="a founder holds an MBA",
        zero="no founder holds an MBA",
        missing="founders' education unknown",
    ),
    Phrase(
        "n_founders_grande_ecole",
        "{v} founders studied at a grande école",
        one="a founder studied at a grande école",
        zero="no founder studied at a grande école",
        missing="founders' education unknown",
    ),
    Phrase(
        "n_founders_prior_venture",
        "{v} founders had started a company before",
        one="a founder had started a company before",
        zero="first-time founders",
        missing="founders' track record unknown",
    ),
    Phrase(
        "n_prior_ventures",
        "the founders had started {v} companies before",
        one="the founders had started 1 company before",
        zero="no earlier company among the founders",
        missing="founders' track record unknown",
    ),
    Phrase(
        "n_founders_prior_exit",
        "{v} founders had a prior exit",
        one="a founder had a prior exit",
        zero="no founder with a prior exit",
        missing="founders' track record unknown",
    ),
    Phrase(
        "n_prior_exits",
        "the founders had {v} prior exits",
        one="the founders had 1 prior exit",
        zero="no prior exit among the founders",
        missing="founders' track record unknown",
    ),
    # momentum and market
    Phrase(
        "round_gap_months_mean",
        "{v} between funding dates on average",
        kind="months",
        missing="fewer than two funding dates",
    ),
    Phrase(
        "amount_step_up",
        "latest round {v} the size of the one before",
        kind="ratio",
        one="latest round the same size as the one before",
        zero="latest round raised no money",
        missing="no step-up known between its last two rounds",
    ),
    Phrase(
        "amount_last_vs_type_year_median",
        "latest round {v} the median of its type that year",
        kind="ratio",
        one="latest round at the median of its type that year",
        zero="latest round raised no money",
        missing="latest round not comparable with others of its type and year",
    ),
    Phrase(
        "market_rounds_12m",
        "{v} funding rounds in its sector and region in the last 12 months",
        one="1 funding round in its sector and region in the last 12 months",
        zero="no funding round in its sector and region in the last 12 months",
        missing="sector or region unknown",
    ),
    Phrase(
        "sector_rounds_12m",
        "{v} funding rounds in its sector nationwide in the last 12 months",
        one="1 funding round in its sector nationwide in the last 12 months",
        zero="no funding round in its sector nationwide in the last 12 months",
        missing="sector unknown",
    ),
    # investors
    Phrase(
        "investors_track_record_max",
        "up to {v} of an investor's other companies reached a milestone",
        kind="pct",
        zero="none of its investors' other companies reached a milestone yet",
        missing="no investor with other companies to judge by",
    ),
    Phrase(
        "investors_track_record_mean",
        "on average {v} of its investors' other companies reached a milestone",
        kind="pct",
        zero="none of its investors' other companies reached a milestone yet",
        missing="no investor with other companies to judge by",
    ),
    Phrase(
        "n_investors_with_track_record",
        "{v} investors with other companies to judge by",
        one="1 investor with other companies to judge by",
        zero="no investor with other companies to judge by",
        missing="investors unknown",
    ),
    # co-investors, founders' networks, programme cohorts
    Phrase(
        "n_investors_coinvested_successful",
        "{v} investors co-invested with a successful investor",
        one="1 investor co-invested with a successful investor",
        zero="no investor co-invested with a successful investor",
        missing="investors unknown",
    ),
    Phrase(
        "coinvestors_track_record_max",
        "up to {v} of a co-investor's companies reached a milestone",
        kind="pct",
        zero="none of its investors' co-investors' companies reached a milestone yet",
        missing="no co-investor with enough companies to judge by",
    ),
    Phrase(
        "n_founders_prior_milestone",
        "{v} founders had an earlier company reach a milestone",
        one="a founder had an earlier company reach a milestone",
        zero="no founder had an earlier company reach a milestone",
        missing="founders' track record unknown",
    ),
    Phrase(
        "founders_network_size",
        "{v} companies in the founders' network",
        one="1 company in the founders' network",
        zero="no earlier company in the founders' network",
        missing="founders' network unknown",
    ),
    Phrase(
        "founders_network_milestone_rate",
        "{v} of the founders' network companies reached a milestone",
        kind="pct",
        zero="none of the founders' network companies reached a milestone yet",
        missing="no earlier company in the founders' network",
    ),
    Phrase(
        "cohort_alumni_n_milestone",
        "{v} programme cohort alumni reached a milestone",
        one="1 programme cohort alumnus reached a milestone",
        zero="no programme cohort alumnus reached a milestone yet",
        missing="programmes unknown",
    ),
    Phrase(
        "cohort_alumni_milestone_rate",
        "{v} of its programme cohort alumni reached a milestone",
        kind="pct",
        zero="none of its programme cohort alumni reached a milestone yet",
        missing="no programme cohort alumni to judge by",
    ),
    # cohort
    Phrase("founding_year", "founded in {v}", missing="founding date unknown"),
    Phrase("founding_cohort", "founded in {v}", kind="text", missing="founding date unknown"),
    # hiring
    Phrase(
        "headcount_growth_12m",
        "headcount grew {v} in 12 months",
        kind="pct",
        zero="headcount flat over 12 months",
        negative="headcount shrank {v} in 12 months",
        missing="headcount growth unknown",
    ),
    Phrase(
        "headcount_growth_per_year",
        "headcount grew {v} a year since founding",
        kind="pct",
        zero="headcount no larger than the founding team",
        negative="headcount shrank {v} a year since founding",
        missing="headcount growth since founding unknown",
    ),
    Phrase("headcount_latest", "{v} employees", one="1 employee", missing="headcount unknown"),
    Phrase(
        "headcount_12m_ago",
        "{v} employees a year earlier",
        one="1 employee a year earlier",
        missing="headcount a year earlier unknown",
    ),
    Phrase(
        "job_postings_(?P<window>90d|365d)",
        "{v} job postings in the last {window}",
        one="1 job posting in the last {window}",
        zero="no job posting in the last {window}",
        missing="job postings unknown",
    ),
    Phrase(
        "job_postings_total",
        "{v} job postings so far",
        one="1 job posting so far",
        zero="no job posting yet",
        missing="job postings unknown",
    ),
    # programmes
    Phrase(
        "n_programs",
        "took part in {v} support programmes",
        one="took part in 1 support programme",
        zero="no incubator, accelerator or programme yet",
        missing="programmes unknown",
    ),
    Phrase(
        "n_programs_active",
        "currently in {v} support programmes",
        one="currently in a support programme",
        zero="in no support programme at the moment",
        missing="programmes unknown",
    ),
    Phrase(
        f"n_programs_(?P<kind>{_PROGRAM})",
        "took part in {v} {kind}s",
        one="took part in 1 {kind}",
        zero="no {kind} yet",
        missing="programmes unknown",
    ),
    Phrase(
        "days_since_first_program",
        "joined its first programme {v} ago",
        kind="days",
        missing="no programme recorded",
    ),
    Phrase(
        "days_since_last_program_start",
        "started its latest programme {v} ago",
        kind="days",
        missing="no programme recorded",
    ),
    # research
    Phrase(
        "(?P<who>org|founders)_n_papers",
        "{who} published {v} research papers",
        one="{who} published a research paper",
        zero="no research paper by {who}",
        missing="publications unknown",
    ),
    Phrase(
        "(?P<who>org|founders)_n_patents",
        "{who} filed {v} patents",
        one="{who} filed a patent",
        zero="no patent by {who}",
        missing="patents unknown",
    ),
    Phrase(
        "(?P<who>org|founders)_n_software",
        "{who} released {v} software projects",
        one="{who} released a software project",
        zero="no published software by {who}",
        missing="software unknown",
    ),
)

_COMPILED: tuple[tuple[re.Pattern[str], Phrase], ...] = tuple(
    (re.compile(p.pattern), p) for p in PHRASES
)
_WINDOWS = {"90d": "90 days", "365d": "12 months"}
DAYS_PER_MONTH = 365.25 / 12


def is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, pd.NA-safe for floats
    except (TypeError, ValueError):
        return True


def feature_label(name: str) -> str:
    """Generic readable label of a feature name: ``n_widgets_90d`` -> "n widgets 90d"."""
    return name.replace("_", " ").strip()


def format_count(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.3g}"


def format_days(days: float) -> str:
    days = abs(float(days))
    if days < 45:
        n = round(days)
        return f"{n} day" if n == 1 else f"{n} days"
    if days < 730:
        months = round(days / DAYS_PER_MONTH)
        return f"{months} months"
    years = days / 365.25
    return f"{years:.0f} years" if years >= 10 else f"{years:.1f} years".replace(".0 ", " ")


def format_eur(amount: float) -> str:
    amount = float(amount)
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(amount) >= scale:
            text = f"{amount / scale:.1f}".removesuffix(".0")
            return f"€{text}{suffix}"
    return f"€{amount:.0f}"


def format_ratio(value: float) -> str:
    value = abs(float(value))
    return f"{value:.0f}x" if value >= 10 else f"{value:.2g}x"


@dataclass(frozen=True)
class ValueWords:
    """How one language writes each kind of value; ``render_value`` is the one dispatch
    every language shares, so a new kind is added once."""

    words: Mapping[str, str]  # category values
    stages: Mapping[int, str]
    count: Callable[[float], str]
    days: Callable[[float], str]
    ratio: Callable[[float], str]
    eur: Callable[[float], str]
    percent: str  # the sign after a percentage, with its spacing


def render_value(value: object, kind: ValueKind, words: ValueWords) -> str:
    if kind == "text":
        return words.words.get(str(value), str(value))
    number = float(value)  # type: ignore[arg-type]
    if kind == "days":
        return words.days(number)
    if kind == "months":
        return words.days(number * DAYS_PER_MONTH)
    if kind == "ratio":
        return words.ratio(number)
    if kind == "eur":
        return words.eur(number)
    if kind == "pct":
        return f"{abs(number) * 100:.0f}{words.percent}"
    if kind == "stage":
        return words.stages.get(round(number), words.count(number))
    return words.count(number)


ENGLISH = ValueWords(WORDS, STAGES, format_count, format_days, format_ratio, format_eur, "%")


def format_value(value: object, kind: ValueKind) -> str:
    return render_value(value, kind, ENGLISH)


def _generic(name: str, value: object) -> str:
    if is_missing(value):
        return f"{feature_label(name)} unknown"
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return f"{feature_label(name)} = {format_count(value)}"
    return f"{feature_label(name)} = {value}"


@lru_cache(maxsize=1024)  # a model has a few dozen feature names; rows reuse them
def _match(name: str) -> tuple[Phrase, re.Match[str]] | None:
    for pattern, phrase in _COMPILED:
        match = pattern.fullmatch(name)
        if match:
            return phrase, match
    return None


def match_phrase(name: str) -> tuple[Phrase, re.Match[str]] | None:
    """The table row that words ``name`` and its match (groups); None: generic phrase."""
    return _match(name)


def phrase_for(name: str) -> Phrase | None:
    """The table row that words ``name``; None when the generic phrase applies."""
    found = _match(name)
    return found[0] if found else None


def describe(name: str, value: object) -> str:
    """The fact ``name = value`` in plain words (no direction: see ``explain``)."""
    found = _match(name)
    return _render(*found, value) if found else _generic(name, value)


def _render(phrase: Phrase, match: re.Match[str], value: object) -> str:
    groups = {k: _WINDOWS.get(v, WORDS.get(v, v)) for k, v in match.groupdict().items()}
    if is_missing(value):
        template = phrase.missing or f"{feature_label(match.string)} unknown"
        return template.format(v="", s="s", **groups)
    number = None if phrase.kind == "text" else float(value)  # type: ignore[arg-type]
    template = phrase.many
    if number is not None:
        if number == 0 and phrase.zero:
            template = phrase.zero
        elif number < 0 and phrase.negative:
            template = phrase.negative
        elif number == 1 and phrase.one:
            template = phrase.one
    s = "" if number == 1 else "s"
    return template.format(v=format_value(value, phrase.kind), s=s, **groups)
