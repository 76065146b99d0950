"""Value maps shared by the importers; ``data/importers/*.md`` documents each of them.

Every map is literal data so that a reviewer can read exactly what a source value
becomes. Values absent from a map are never guessed: they become ``other`` for
enumerations that have it, or unknown (blank) otherwise, and the report counts them.
"""

from __future__ import annotations

import re
import unicodedata

from talentmap.contract import FR_REGIONS

# --- funding rounds --------------------------------------------------------------------

# Crunchbase 2013 ``funding_round_code``: the finer of the two fields, so it wins.
CB2013_ROUND_CODES: dict[str, str] = {
    "seed": "seed",
    "angel": "angel",
    "a": "series_a",
    "b": "series_b",
    "c": "series_c_plus",
    "d": "series_c_plus",
    "e": "series_c_plus",
    "f": "series_c_plus",
    "g": "series_c_plus",
    "h": "series_c_plus",
    "unattributed": "venture_unknown",
    "debt_round": "debt",
    "grant": "grant",
    "crowd": "crowdfunding",
    "crowd_equity": "crowdfunding",
    "convertible": "other",
    "partial": "other",
    "private_equity": "other",
    "secondary_market": "other",
    "post_ipo_equity": "other",
    "post_ipo_debt": "other",
}
# Crunchbase 2013 ``funding_round_type``, used when the code is blank or unknown.
CB2013_ROUND_TYPES: dict[str, str] = {
    "angel": "angel",
    "series-a": "series_a",
    "series-b": "series_b",
    "series-c+": "series_c_plus",
    "venture": "venture_unknown",
    "crowdfunding": "crowdfunding",
    "private-equity": "other",
    "post-ipo": "other",
    "other": "other",
}
# Today's Crunchbase export, ``funding_rounds.investment_type``.
CB_INVESTMENT_TYPES: dict[str, str] = {
    "pre_seed": "pre_seed",
    "seed": "seed",
    "angel": "angel",
    "series_a": "series_a",
    "series_b": "series_b",
    **{f"series_{c}": "series_c_plus" for c in "cdefghij"},
    "series_unknown": "venture_unknown",
    "undisclosed": "venture_unknown",
    "grant": "grant",
    "debt_financing": "debt",
    "convertible_note": "debt",
    "equity_crowdfunding": "crowdfunding",
    "product_crowdfunding": "crowdfunding",
    "corporate_round": "other",
    "private_equity": "other",
    "post_ipo_equity": "other",
    "post_ipo_debt": "other",
    "post_ipo_secondary": "other",
    "secondary_market": "other",
    "initial_coin_offering": "other",
    "non_equity_assistance": "other",
}

# --- investors -------------------------------------------------------------------------

# Crunchbase 2013 ids are typed by their prefix.
CB2013_INVESTOR_KINDS: dict[str, str] = {"f": "vc", "p": "angel", "c": "corporate"}
# Today's export, ``investors.investor_types`` (comma-separated; the first mapped one wins).
CB_INVESTOR_TYPES: dict[str, str] = {
    "venture_capital": "vc",
    "micro_vc": "vc",
    "venture_debt": "vc",
    "private_equity_firm": "vc",
    "angel": "angel",
    "angel_group": "angel",
    "individual": "angel",
    "family_investment_office": "angel",
    "corporate_venture_capital": "corporate",
    "investment_bank": "corporate",
    "government_office": "public",
    "university_program": "public",
    "accelerator": "accelerator",
    "incubator": "accelerator",
    "startup_competition": "accelerator",
    "co_working_space": "other",
    "fund_of_funds": "other",
    "hedge_fund": "other",
    "pension_funds": "other",
    "secondary_purchaser": "other",
    "syndicate": "other",
    "entrepreneurship_program": "accelerator",
}

# --- people ----------------------------------------------------------------------------

CB_GENDERS: dict[str, str] = {"female": "F", "male": "M"}
# Any other stated gender (non-binary, agender, ...) is "X"; these mean "not stated".
CB_GENDER_UNKNOWN = frozenset({"", "not_provided", "unknown", "prefer_not_to_identify"})

# Job titles, checked in this order (case-insensitive word match); else "employee".
ROLE_FROM_TITLE: tuple[tuple[str, str], ...] = (
    (r"\bfound(er|ing)|\bco-?found", "founder"),
    (r"\bboard\b|\bdirector of the board\b|\bchairm|\bchair\b", "board"),
    (r"\badvis", "advisor"),
    (
        r"\bceo\b|\bcto\b|\bcfo\b|\bcoo\b|\bcmo\b|\bcio\b|\bchief\b|\bpresident\b|\bvp\b|"
        r"\bvice[- ]president\b|\bhead of\b|\bdirector\b|\bmanaging\b|\bpartner\b|"
        r"\bgeneral manager\b|\bexecutive\b",
        "executive",
    ),
)
ROLE_PATTERNS = tuple((re.compile(p, re.IGNORECASE), role) for p, role in ROLE_FROM_TITLE)
# Today's export, ``jobs.job_type``; a founder title still wins (Crunchbase files
# founders as executives).
CB_JOB_TYPES: dict[str, str] = {
    "executive": "executive",
    "employee": "employee",
    "advisor": "advisor",
    "board_member": "board",
    "board_observer": "board",
}

# Degree types are free text in both Crunchbase exports; checked in this order.
DEGREE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.IGNORECASE), degree)
    for p, degree in (
        (r"\bmba\b|master of business admin", "mba"),
        (r"\bph\.?\s?d\b|\bdoctor|\bdphil\b|\bdoctorat", "phd"),
        (r"ing[ée]nieur|\bengineer(ing)? degree\b|\bdipl\.?[- ]?ing\b", "engineer"),
        (
            r"\bmaster|\bm\.?\s?s\.?c?\b|\bm\.?\s?a\b|\bm\.?\s?eng\b|\bmsc\b|\bmphil\b|"
            r"\bm\.?\s?sc\b|\bdea\b|\bdess\b|\bllm\b",
            "master",
        ),
        (
            r"\bbachelor|\bb\.?\s?s\.?c?\b|\bb\.?\s?a\b|\bb\.?\s?eng\b|\bbsc\b|\blicence\b|"
            r"\bb\.?\s?tech\b|\bab\b",
            "bachelor",
        ),
    )
)


def role_from(title: str | None, job_type: str | None = None) -> str:
    """The contract role of a job: a founder title wins, then the job type, then the title."""
    text = title or ""
    for pattern, role in ROLE_PATTERNS[:1]:
        if pattern.search(text):
            return role
    if job_type and job_type.strip().lower() in CB_JOB_TYPES:
        return CB_JOB_TYPES[job_type.strip().lower()]
    for pattern, role in ROLE_PATTERNS[1:]:
        if pattern.search(text):
            return role
    return "employee"


def degree_from(degree_type: str | None) -> str:
    text = degree_type or ""
    for pattern, degree in DEGREE_PATTERNS:
        if pattern.search(text):
            return degree
    return "other"


# --- money -----------------------------------------------------------------------------

# Euros per unit of currency: stated, fixed rates (rounded long-run averages), never
# historical ones. Amounts convert at these rates whatever their date; pass other rates
# with --fx-rate CUR=RATE (or the mapping file's currency_rates).
DEFAULT_EUR_RATES: dict[str, float] = {
    "EUR": 1.0,
    "USD": 0.85,
    "GBP": 1.15,
    "CHF": 0.90,
    "CAD": 0.65,
    "AUD": 0.60,
    "JPY": 0.0075,
    "CNY": 0.12,
    "INR": 0.011,
    "SEK": 0.090,
    "NOK": 0.090,
    "DKK": 0.134,
    "PLN": 0.23,
    "ILS": 0.24,
    "SGD": 0.65,
    "HKD": 0.11,
    "BRL": 0.20,
    "KRW": 0.00070,
    "RUB": 0.015,
    "ZAR": 0.055,
}

# --- French regions --------------------------------------------------------------------

# Regions before the 2016 merger map wholesale onto one of today's 18: not a guess.
FR_FORMER_REGIONS: dict[str, str] = {
    "Alsace": "Grand Est",
    "Lorraine": "Grand Est",
    "Champagne-Ardenne": "Grand Est",
    "Aquitaine": "Nouvelle-Aquitaine",
    "Limousin": "Nouvelle-Aquitaine",
    "Poitou-Charentes": "Nouvelle-Aquitaine",
    "Auvergne": "Auvergne-Rhône-Alpes",
    "Rhône-Alpes": "Auvergne-Rhône-Alpes",
    "Bourgogne": "Bourgogne-Franche-Comté",
    "Franche-Comté": "Bourgogne-Franche-Comté",
    "Languedoc-Roussillon": "Occitanie",
    "Midi-Pyrénées": "Occitanie",
    "Nord-Pas-de-Calais": "Hauts-de-France",
    "Picardie": "Hauts-de-France",
    "Basse-Normandie": "Normandie",
    "Haute-Normandie": "Normandie",
    "Centre": "Centre-Val de Loire",
    "PACA": "Provence-Alpes-Côte d'Azur",
    "Réunion": "La Réunion",
    "Corsica": "Corse",
    "Brittany": "Bretagne",
    "Normandy": "Normandie",
}
# Crunchbase files French companies under a metropolitan area ("Paris"); each area lies
# inside one official region, so the region follows from the area (not from a guess).
FR_METRO_AREAS: dict[str, str] = {
    "Paris": "Île-de-France",
    "Lyon": "Auvergne-Rhône-Alpes",
    "Grenoble": "Auvergne-Rhône-Alpes",
    "Clermont-Ferrand": "Auvergne-Rhône-Alpes",
    "Saint-Etienne": "Auvergne-Rhône-Alpes",
    "Marseille": "Provence-Alpes-Côte d'Azur",
    "Nice": "Provence-Alpes-Côte d'Azur",
    "Sophia Antipolis": "Provence-Alpes-Côte d'Azur",
    "Aix-en-Provence": "Provence-Alpes-Côte d'Azur",
    "Toulouse": "Occitanie",
    "Montpellier": "Occitanie",
    "Bordeaux": "Nouvelle-Aquitaine",
    "Lille": "Hauts-de-France",
    "Nantes": "Pays de la Loire",
    "Rennes": "Bretagne",
    "Strasbourg": "Grand Est",
    "Rouen": "Normandie",
    "Dijon": "Bourgogne-Franche-Comté",
    "Tours": "Centre-Val de Loire",
    "Orléans": "Centre-Val de Loire",
}


def _key(text: str) -> str:
    """Accent-, case-, dash- and apostrophe-insensitive comparison key."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[\s\-'’_]+", " ", bare).strip().lower()


_FR_REGION_KEYS: dict[str, str] = {
    **{_key(name): name for name in FR_REGIONS},
    **{_key(old): new for old, new in FR_FORMER_REGIONS.items()},
    **{_key(area): region for area, region in FR_METRO_AREAS.items()},
    _key("Provence Alpes Cote d Azur"): "Provence-Alpes-Côte d'Azur",
}


def fr_region(text: str | None) -> str | None:
    """The official region name for a French region, former region or Crunchbase area."""
    if not text:
        return None
    return _FR_REGION_KEYS.get(_key(text))


# --- SIRENE ----------------------------------------------------------------------------

# trancheEffectifsUniteLegale -> midpoint of the band (employees). "NN" (no employee in
# the reference year) is 0; blank is unknown. 53 ("10,000 or more") has no upper bound:
# its lower bound is used.
SIRENE_HEADCOUNT_MIDPOINTS: dict[str, float] = {
    "NN": 0.0,
    "00": 0.0,
    "01": 1.5,
    "02": 4.0,
    "03": 7.5,
    "11": 15.0,
    "12": 35.0,
    "21": 75.0,
    "22": 150.0,
    "31": 225.0,
    "32": 375.0,
    "41": 750.0,
    "42": 1500.0,
    "51": 3500.0,
    "52": 7500.0,
    "53": 10000.0,
}
