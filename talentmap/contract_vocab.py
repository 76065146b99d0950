"""The contract's vocabulary that settings and serving need at import time, with no
dependency: round types, exit kinds, the French regions.

``talentmap.contract`` re-exports every name here; it imports pandas and pandera, which
cost processes that only need these lists (the service's workers and ``talentmap serve``,
whose start-up time counts, issue 10) most of a second.
"""

from __future__ import annotations

ROUND_TYPES: tuple[str, ...] = (
    "pre_seed",
    "seed",
    "angel",
    "series_a",
    "series_b",
    "series_c_plus",
    "venture_unknown",
    "grant",
    "debt",
    "crowdfunding",
    "other",
)
EXIT_KINDS: tuple[str, ...] = ("acquired", "ipo")

# The 18 French regions (official names, NFC, straight apostrophe) -> INSEE region code.
FR_REGIONS: dict[str, str] = {
    "Île-de-France": "11",
    "Centre-Val de Loire": "24",
    "Bourgogne-Franche-Comté": "27",
    "Normandie": "28",
    "Hauts-de-France": "32",
    "Grand Est": "44",
    "Pays de la Loire": "52",
    "Bretagne": "53",
    "Nouvelle-Aquitaine": "75",
    "Occitanie": "76",
    "Auvergne-Rhône-Alpes": "84",
    "Provence-Alpes-Côte d'Azur": "93",
    "Corse": "94",
    "Guadeloupe": "01",
    "Martinique": "02",
    "Guyane": "03",
    "La Réunion": "04",
    "Mayotte": "06",
}
FR_OVERSEAS_REGIONS: frozenset[str] = frozenset(
    {"Guadeloupe", "Martinique", "Guyane", "La Réunion", "Mayotte"}
)
