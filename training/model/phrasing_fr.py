"""French phrasing of one feature value: the same facts as ``phrasing``, said in French.

The sentences are built from the structured reason (feature name, value), never by
translating the English string: each English row of ``phrasing.PHRASES`` has a French
row here, keyed by the same ``pattern``. The English table picks the row (same regular
expressions, same first-match rule) and the value's ``kind``; this table only holds the
French words. ``tests/unit/test_phrasing_fr.py`` fails when an English row has no French
one, so a new feature family cannot ship untranslated.

How a row is read (as in ``phrasing``): templates ``missing``, ``zero``, ``negative``,
``one``, else ``many``; ``{v}`` is the value in fr-FR conventions (``1,2 M€``,
``40 %``, ``12 mois``, ``2,5 ans``, ``2,5 fois``; thousands grouped with a narrow
no-break space from 10 000 on, so years stay ``2019``). Named groups of the pattern are
worded through ``GROUP_WORDS`` (French word order differs: "2 tours de série A"), and
``{<group>_pl}`` is the plural where a template needs one ("2 accélérateurs").

The company is feminine in these sentences ("créée", "soutenue": une entreprise).
Phrases state facts about the company only, never a protected attribute.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from talentmap.training.model.phrasing import (
    DAYS_PER_MONTH,
    PHRASES,
    PROGRAM_KINDS,
    ROUND_TYPES,
    Phrase,
    ValueKind,
    ValueWords,
    feature_label,
    is_missing,
    match_phrase,
    render_value,
)

NBSP = "\u00a0"  # between a number and its unit (fr-FR: "1,2 M€", as Intl formats it)
NNBSP = "\u202f"  # thousands separator and before "%" (fr-FR: "12 000", "40 %")


@dataclass(frozen=True)
class PhraseFr:
    """The French templates of one English row (see the module docstring)."""

    many: str
    one: str | None = None
    zero: str | None = None
    negative: str | None = None
    missing: str | None = None


# Words of the named groups of the patterns, per group: French needs the word in the
# shape its sentence takes ("tour de série A", "tour d'amorçage").
GROUP_WORDS: dict[str, dict[str, str]] = {
    "round": {  # after "tour(s)"
        "pre_seed": "de pré-amorçage",
        "seed": "d'amorçage",
        "angel": "de business angels",
        "series_a": "de série A",
        "series_b": "de série B",
        "series_c_plus": "de série C ou au-delà",
        "venture_unknown": "de capital-risque",
        "grant": "sous forme de subvention",
        "debt": "en dette",
        "crowdfunding": "en financement participatif",
        "other": "d'un autre type",
    },
    "kind": {
        "incubator": "incubateur",
        "accelerator": "accélérateur",
        "public_program": "programme public d'accompagnement",
        "competition": "concours",
    },
    "kind_pl": {
        "incubator": "incubateurs",
        "accelerator": "accélérateurs",
        "public_program": "programmes publics d'accompagnement",
        "competition": "concours",
    },
    "who": {"org": "l'entreprise", "founders": "les fondateurs"},
    "window": {"90d": "les 90 derniers jours", "365d": "les 12 derniers mois"},
}
# Category values (kind "text") that have a French word; others (region and sector
# names, cohorts) are shown as the data gives them.
CATEGORY_WORDS: dict[str, str] = {"FR": "France"}
# features.catalog.STAGE_ORDINAL read backwards: the furthest equity stage reached.
STAGES: dict[int, str] = {
    0: "aucun tour en capital",
    1: "pré-amorçage ou business angels",
    2: "amorçage",
    3: "série A",
    4: "série B",
    5: "série C ou au-delà",
}

_NO_MILESTONE_YET = "n'a encore franchi d'étape clé"

# Keyed by the English row's ``pattern`` (``phrasing.PHRASES``), in the same order.
PHRASES_FR: dict[str, PhraseFr] = {
    # profile
    "region": PhraseFr("région : {v}", missing="région inconnue"),
    "sector": PhraseFr("secteur : {v}", missing="secteur inconnu"),
    "country": PhraseFr("pays d'immatriculation : {v}", missing="pays inconnu"),
    "company_age_days": PhraseFr("créée il y a {v}", missing="date de création inconnue"),
    # funding
    "n_rounds": PhraseFr(
        "a levé {v} tours de financement à ce jour",
        one="a levé 1 tour de financement à ce jour",
        zero="aucun tour de financement enregistré pour l'instant",
        missing="historique de financement inconnu",
    ),
    f"n_rounds_(?P<round>{ROUND_TYPES})": PhraseFr(
        "a levé {v} tours {round}",
        one="a levé 1 tour {round}",
        zero="aucun tour {round} pour l'instant",
        missing="historique de financement inconnu",
    ),
    "days_since_last_round": PhraseFr(
        "a levé son dernier tour il y a {v}",
        missing="aucun tour de financement enregistré pour l'instant",
    ),
    "days_since_first_round": PhraseFr(
        "a levé son premier tour il y a {v}",
        missing="aucun tour de financement enregistré pour l'instant",
    ),
    "round_gap_days": PhraseFr(
        "{v} entre ses deux dernières dates de financement",
        missing="moins de deux dates de financement",
    ),
    "amount_total_eur": PhraseFr(
        "a levé {v} au total",
        zero="aucun montant levé communiqué pour l'instant",
        missing="montants levés inconnus",
    ),
    "amount_max_eur": PhraseFr("plus gros tour : {v}", missing="aucun montant de tour communiqué"),
    "amount_last_eur": PhraseFr("dernier tour : {v}", missing="montant du dernier tour inconnu"),
    "stage_ordinal": PhraseFr("stade le plus avancé atteint : {v}", missing="stade inconnu"),
    "n_distinct_investors": PhraseFr(
        "soutenue par {v} investisseurs",
        one="soutenue par 1 investisseur",
        zero="aucun investisseur connu pour l'instant",
        missing="investisseurs inconnus",
    ),
    "n_distinct_vc_investors": PhraseFr(
        "soutenue par {v} sociétés de capital-risque",
        one="soutenue par 1 société de capital-risque",
        zero="aucun investisseur en capital-risque pour l'instant",
        missing="investisseurs inconnus",
    ),
    "n_rounds_with_vc": PhraseFr(
        "{v} tours avec une société de capital-risque",
        one="1 tour avec une société de capital-risque",
        zero="aucun tour avec une société de capital-risque pour l'instant",
        missing="investisseurs inconnus",
    ),
    "n_rounds_with_lead": PhraseFr(
        "{v} tours avec un investisseur chef de file identifié",
        one="1 tour avec un investisseur chef de file identifié",
        zero="aucun tour avec un investisseur chef de file identifié pour l'instant",
        missing="investisseurs inconnus",
    ),
    # team and founders
    "n_founders": PhraseFr(
        "{v} fondateurs en poste",
        one="1 fondateur en poste",
        zero="aucun fondateur en poste enregistré",
        missing="équipe fondatrice inconnue",
    ),
    "n_founders_total": PhraseFr(
        "{v} fondateurs au total",
        one="1 fondateur au total",
        missing="équipe fondatrice inconnue",
    ),
    "n_executives": PhraseFr(
        "{v} dirigeants en poste",
        one="1 dirigeant en poste",
        zero="aucun dirigeant enregistré",
        missing="équipe de direction inconnue",
    ),
    "n_founders_phd": PhraseFr(
        "{v} fondateurs titulaires d'un doctorat",
        one="un fondateur titulaire d'un doctorat",
        zero="aucun fondateur titulaire d'un doctorat",
        missing="formation des fondateurs inconnue",
    ),
    "n_founders_engineer": PhraseFr(
        "{v} fondateurs titulaires d'un diplôme d'ingénieur",
        one="un fondateur titulaire d'un diplôme d'ingénieur",
        zero="aucun fondateur titulaire d'un diplôme d'ingénieur",
        missing="formation des fondateurs inconnue",
    ),
    "n_founders_mba": PhraseFr(
        "{v} fondateurs titulaires d'un MBA",
        one="un fondateur titulaire d'un MBA",
        zero="aucun fondateur titulaire d'un MBA",
        missing="formation des fondateurs inconnue",
    ),
    "n_founders_grande_ecole": PhraseFr(
        "{v} fondateurs passés par une grande école",
        one="un fondateur passé par une grande école",
        zero="aucun fondateur passé par une grande école",
        missing="formation des fondateurs inconnue",
    ),
    "n_founders_prior_venture": PhraseFr(
        "{v} fondateurs avaient déjà créé une entreprise",
        one="un fondateur avait déjà créé une entreprise",
        zero="première création d'entreprise pour les fondateurs",
        missing="parcours des fondateurs inconnu",
    ),
    "n_prior_ventures": PhraseFr(
        "les fondateurs avaient déjà créé {v} entreprises",
        one="les fondateurs avaient déjà créé 1 entreprise",
        zero="aucune entreprise créée auparavant par les fondateurs",
        missing="parcours des fondateurs inconnu",
    ),
    "n_founders_prior_exit": PhraseFr(
        "{v} fondateurs avaient déjà réalisé une sortie",
        one="un fondateur avait déjà réalisé une sortie",
        zero="aucun fondateur ayant déjà réalisé une sortie",
        missing="parcours des fondateurs inconnu",
    ),
    "n_prior_exits": PhraseFr(
        "les fondateurs avaient réalisé {v} sorties auparavant",
        one="les fondateurs avaient réalisé 1 sortie auparavant",
        zero="aucune sortie antérieure parmi les fondateurs",
        missing="parcours des fondateurs inconnu",
    ),
    # momentum and market
    "round_gap_months_mean": PhraseFr(
        "{v} entre deux dates de financement en moyenne",
        missing="moins de deux dates de financement",
    ),
    "amount_step_up": PhraseFr(
        "dernier tour de {v} le montant du précédent",
        one="dernier tour du même montant que le précédent",
        zero="dernier tour sans argent levé",
        missing="aucune évolution connue entre ses deux derniers tours",
    ),
    "amount_last_vs_type_year_median": PhraseFr(
        "dernier tour de {v} la médiane de son type cette année-là",
        one="dernier tour à la médiane de son type cette année-là",
        zero="dernier tour sans argent levé",
        missing="dernier tour non comparable aux autres de son type et de son année",
    ),
    "market_rounds_12m": PhraseFr(
        "{v} tours de financement dans son secteur et sa région sur les 12 derniers mois",
        one="1 tour de financement dans son secteur et sa région sur les 12 derniers mois",
        zero="aucun tour de financement dans son secteur et sa région sur les 12 derniers mois",
        missing="secteur ou région inconnus",
    ),
    "sector_rounds_12m": PhraseFr(
        "{v} tours de financement dans son secteur en France sur les 12 derniers mois",
        one="1 tour de financement dans son secteur en France sur les 12 derniers mois",
        zero="aucun tour de financement dans son secteur en France sur les 12 derniers mois",
        missing="secteur inconnu",
    ),
    # investors
    "investors_track_record_max": PhraseFr(
        "jusqu'à {v} des autres entreprises d'un de ses investisseurs ont franchi une étape clé",
        zero=f"aucune des autres entreprises de ses investisseurs {_NO_MILESTONE_YET}",
        missing="aucun investisseur ayant d'autres entreprises pour en juger",
    ),
    "investors_track_record_mean": PhraseFr(
        "en moyenne, {v} des autres entreprises de ses investisseurs ont franchi une étape clé",
        zero=f"aucune des autres entreprises de ses investisseurs {_NO_MILESTONE_YET}",
        missing="aucun investisseur ayant d'autres entreprises pour en juger",
    ),
    "n_investors_with_track_record": PhraseFr(
        "{v} investisseurs ayant d'autres entreprises pour en juger",
        one="1 investisseur ayant d'autres entreprises pour en juger",
        zero="aucun investisseur ayant d'autres entreprises pour en juger",
        missing="investisseurs inconnus",
    ),
    # co-investors, founders' networks, programme cohorts
    "n_investors_coinvested_successful": PhraseFr(
        "{v} investisseurs ont co-investi avec un investisseur performant",
        one="1 investisseur a co-investi avec un investisseur performant",
        zero="aucun investisseur n'a co-investi avec un investisseur performant",
        missing="investisseurs inconnus",
    ),
    "coinvestors_track_record_max": PhraseFr(
        "jusqu'à {v} des entreprises d'un co-investisseur ont franchi une étape clé",
        zero=(
            f"aucune des entreprises des co-investisseurs de ses investisseurs {_NO_MILESTONE_YET}"
        ),
        missing="aucun co-investisseur ayant assez d'entreprises pour en juger",
    ),
    "n_founders_prior_milestone": PhraseFr(
        "{v} fondateurs ont vu une entreprise précédente franchir une étape clé",
        one="un fondateur a vu une entreprise précédente franchir une étape clé",
        zero="aucun fondateur n'a vu une entreprise précédente franchir une étape clé",
        missing="parcours des fondateurs inconnu",
    ),
    "founders_network_size": PhraseFr(
        "{v} entreprises dans le réseau des fondateurs",
        one="1 entreprise dans le réseau des fondateurs",
        zero="aucune entreprise antérieure dans le réseau des fondateurs",
        missing="réseau des fondateurs inconnu",
    ),
    "founders_network_milestone_rate": PhraseFr(
        "{v} des entreprises du réseau des fondateurs ont franchi une étape clé",
        zero=f"aucune entreprise du réseau des fondateurs {_NO_MILESTONE_YET}",
        missing="aucune entreprise antérieure dans le réseau des fondateurs",
    ),
    "cohort_alumni_n_milestone": PhraseFr(
        "{v} anciens de ses promotions de programme ont franchi une étape clé",
        one="1 ancien de ses promotions de programme a franchi une étape clé",
        zero=f"aucun ancien de ses promotions de programme {_NO_MILESTONE_YET}",
        missing="programmes inconnus",
    ),
    "cohort_alumni_milestone_rate": PhraseFr(
        "{v} des anciens de ses promotions de programme ont franchi une étape clé",
        zero=f"aucun des anciens de ses promotions de programme {_NO_MILESTONE_YET}",
        missing="aucun ancien de promotion de programme pour en juger",
    ),
    # cohort
    "founding_year": PhraseFr("créée en {v}", missing="date de création inconnue"),
    "founding_cohort": PhraseFr("créée en {v}", missing="date de création inconnue"),
    # hiring
    "headcount_growth_12m": PhraseFr(
        "effectif en hausse de {v} sur 12 mois",
        zero="effectif stable sur 12 mois",
        negative="effectif en baisse de {v} sur 12 mois",
        missing="évolution de l'effectif inconnue",
    ),
    # The French of branch model-gap's new row, ready for when it is merged (an entry
    # with no English row is never used).
    "headcount_growth_per_year": PhraseFr(
        "effectif en hausse de {v} par an depuis la création",
        zero="effectif pas plus grand que l'équipe fondatrice",
        negative="effectif en baisse de {v} par an depuis la création",
        missing="évolution de l'effectif depuis la création inconnue",
    ),
    "headcount_latest": PhraseFr("{v} salariés", one="1 salarié", missing="effectif inconnu"),
    "headcount_12m_ago": PhraseFr(
        "{v} salariés un an plus tôt",
        one="1 salarié un an plus tôt",
        missing="effectif d'il y a un an inconnu",
    ),
    "job_postings_(?P<window>90d|365d)": PhraseFr(
        "{v} offres d'emploi sur {window}",
        one="1 offre d'emploi sur {window}",
        zero="aucune offre d'emploi sur {window}",
        missing="offres d'emploi inconnues",
    ),
    "job_postings_total": PhraseFr(
        "{v} offres d'emploi à ce jour",
        one="1 offre d'emploi à ce jour",
        zero="aucune offre d'emploi pour l'instant",
        missing="offres d'emploi inconnues",
    ),
    # programmes
    "n_programs": PhraseFr(
        "a participé à {v} programmes d'accompagnement",
        one="a participé à 1 programme d'accompagnement",
        zero="aucun incubateur, accélérateur ou programme pour l'instant",
        missing="programmes inconnus",
    ),
    "n_programs_active": PhraseFr(
        "actuellement dans {v} programmes d'accompagnement",
        one="actuellement dans un programme d'accompagnement",
        zero="dans aucun programme d'accompagnement en ce moment",
        missing="programmes inconnus",
    ),
    f"n_programs_(?P<kind>{PROGRAM_KINDS})": PhraseFr(
        "a participé à {v} {kind_pl}",
        one="a participé à 1 {kind}",
        zero="aucun {kind} pour l'instant",
        missing="programmes inconnus",
    ),
    "days_since_first_program": PhraseFr(
        "a rejoint son premier programme il y a {v}", missing="aucun programme enregistré"
    ),
    "days_since_last_program_start": PhraseFr(
        "a commencé son dernier programme il y a {v}", missing="aucun programme enregistré"
    ),
    # research
    "(?P<who>org|founders)_n_papers": PhraseFr(
        "{v} articles de recherche publiés par {who}",
        one="1 article de recherche publié par {who}",
        zero="aucun article de recherche publié par {who}",
        missing="publications inconnues",
    ),
    "(?P<who>org|founders)_n_patents": PhraseFr(
        "{v} brevets déposés par {who}",
        one="1 brevet déposé par {who}",
        zero="aucun brevet déposé par {who}",
        missing="brevets inconnus",
    ),
    "(?P<who>org|founders)_n_software": PhraseFr(
        "{v} projets logiciels publiés par {who}",
        one="1 projet logiciel publié par {who}",
        zero="aucun logiciel publié par {who}",
        missing="logiciels inconnus",
    ),
}


def untranslated() -> list[str]:
    """Patterns of the English table with no French row (the unit tests want none)."""
    return [p.pattern for p in PHRASES if p.pattern not in PHRASES_FR]


def _decimal(text: str) -> str:
    return text.replace(".", ",")


def format_count(value: float) -> str:
    """``3``, ``2,5``; thousands grouped from 10 000 on (a year stays ``2019``)."""
    value = float(value)
    if not value.is_integer():
        return _decimal(f"{value:.3g}")
    if abs(value) < 10_000:
        return f"{value:.0f}"
    return f"{value:,.0f}".replace(",", NNBSP)


def format_days(days: float) -> str:
    """``1 jour``, ``12 jours``, ``4 mois``, ``2,5 ans`` (same thresholds as English)."""
    days = abs(float(days))
    if days < 45:
        n = round(days)
        return f"{n} jour" if n <= 1 else f"{n} jours"
    if days < 730:
        return f"{round(days / DAYS_PER_MONTH)} mois"
    years = days / 365.25
    text = f"{years:.0f}" if years >= 10 else f"{years:.1f}".removesuffix(".0")
    return f"{_decimal(text)} ans"


def format_eur(amount: float) -> str:
    """``1,2 M€``, ``350 k€``, ``2 Md€``, ``800 €``."""
    amount = float(amount)
    for scale, suffix in ((1e9, "Md€"), (1e6, "M€"), (1e3, "k€")):
        if abs(amount) >= scale:
            text = f"{amount / scale:.1f}".removesuffix(".0")
            return f"{_decimal(text)}{NBSP}{suffix}"
    return f"{amount:.0f}{NBSP}€"


def format_ratio(value: float) -> str:
    """``2,5 fois``, ``12 fois``."""
    value = abs(float(value))
    text = f"{value:.0f}" if value >= 10 else f"{value:.2g}"
    return f"{_decimal(text)} fois"


FRENCH = ValueWords(
    CATEGORY_WORDS, STAGES, format_count, format_days, format_ratio, format_eur, f"{NNBSP}%"
)


def format_value(value: object, kind: ValueKind) -> str:
    return render_value(value, kind, FRENCH)


def _generic(name: str, value: object) -> str:
    if is_missing(value):
        return f"{feature_label(name)} : inconnu"
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return f"{feature_label(name)} = {format_count(value)}"
    return f"{feature_label(name)} = {value}"


def _groups(match: re.Match[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for group, value in match.groupdict().items():
        out[group] = GROUP_WORDS.get(group, {}).get(value, value)
        plural = GROUP_WORDS.get(f"{group}_pl", {})
        out[f"{group}_pl"] = plural.get(value, out[group])
    return out


def _render(phrase: Phrase, french: PhraseFr, match: re.Match[str], value: object) -> str:
    groups = _groups(match)
    if is_missing(value):
        template = french.missing or f"{feature_label(match.string)} : inconnu"
        return template.format(v="", **groups)
    number = None if phrase.kind == "text" else float(value)  # type: ignore[arg-type]
    template = french.many
    if number is not None:
        if number == 0 and french.zero:
            template = french.zero
        elif number < 0 and french.negative:
            template = french.negative
        elif number == 1 and french.one:
            template = french.one
    return template.format(v=format_value(value, phrase.kind), **groups)


def describe(name: str, value: object) -> str:
    """The fact ``name = value`` in plain French (no direction: see ``explain``).

    The English table picks the row and the value's kind; a row without French (the
    unit tests forbid it) gets the generic phrase rather than English words.
    """
    found = match_phrase(name)
    if found is None:
        return _generic(name, value)
    phrase, match = found
    french = PHRASES_FR.get(phrase.pattern)
    return _render(phrase, french, match, value) if french else _generic(name, value)
