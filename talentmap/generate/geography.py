"""Where organisations are: French regions and cities, and foreign countries.

Region weights follow the rough shape of the French start-up census (Île-de-France
about half, then Auvergne-Rhône-Alpes, Occitanie, PACA, ...); overseas regions get
small but non-zero shares because fairness audits must be able to find them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talentmap.contract import FR_OVERSEAS_REGIONS, FR_REGIONS

#: Official region names -> INSEE codes, and the overseas ones, from the contract.
FR_REGION_CODES: dict[str, str] = FR_REGIONS
OVERSEAS = FR_OVERSEAS_REGIONS

#: (region, share of French start-ups in %, cities with relative weights)
_REGIONS: list[tuple[str, float, dict[str, float]]] = [
    (
        "Île-de-France",
        52.0,
        {
            "Paris": 80,
            "Boulogne-Billancourt": 5,
            "Issy-les-Moulineaux": 4,
            "Levallois-Perret": 3,
            "Montreuil": 3,
            "Palaiseau": 3,
            "Saint-Denis": 2,
        },
    ),
    (
        "Auvergne-Rhône-Alpes",
        11.0,
        {"Lyon": 55, "Grenoble": 22, "Clermont-Ferrand": 8, "Annecy": 8, "Saint-Étienne": 7},
    ),
    ("Occitanie", 6.5, {"Toulouse": 55, "Montpellier": 38, "Nîmes": 7}),
    (
        "Provence-Alpes-Côte d'Azur",
        6.0,
        {"Marseille": 40, "Nice": 22, "Valbonne": 15, "Aix-en-Provence": 18, "Toulon": 5},
    ),
    (
        "Nouvelle-Aquitaine",
        5.5,
        {"Bordeaux": 65, "La Rochelle": 10, "Poitiers": 10, "Limoges": 8, "Pau": 7},
    ),
    ("Hauts-de-France", 4.0, {"Lille": 75, "Roubaix": 10, "Amiens": 10, "Compiègne": 5}),
    ("Pays de la Loire", 4.0, {"Nantes": 75, "Angers": 15, "Le Mans": 10}),
    ("Grand Est", 3.5, {"Strasbourg": 50, "Nancy": 22, "Metz": 16, "Reims": 12}),
    ("Bretagne", 3.0, {"Rennes": 60, "Brest": 20, "Lannion": 10, "Vannes": 10}),
    ("Normandie", 1.5, {"Rouen": 50, "Caen": 35, "Le Havre": 15}),
    ("Centre-Val de Loire", 1.2, {"Tours": 55, "Orléans": 45}),
    ("Bourgogne-Franche-Comté", 1.2, {"Dijon": 60, "Besançon": 40}),
    ("Corse", 0.3, {"Ajaccio": 55, "Bastia": 45}),
    ("La Réunion", 0.4, {"Saint-Denis": 65, "Saint-Pierre": 35}),
    ("Guadeloupe", 0.15, {"Pointe-à-Pitre": 50, "Baie-Mahault": 50}),
    ("Martinique", 0.15, {"Fort-de-France": 100}),
    ("Guyane", 0.07, {"Cayenne": 100}),
    ("Mayotte", 0.03, {"Mamoudzou": 100}),
]

#: (ISO country, share of foreign organisations in %, cities)
_FOREIGN: list[tuple[str, float, dict[str, float]]] = [
    ("DE", 22, {"Berlin": 60, "Munich": 30, "Hamburg": 10}),
    ("GB", 24, {"London": 85, "Cambridge": 8, "Manchester": 7}),
    ("ES", 10, {"Madrid": 50, "Barcelona": 50}),
    ("IT", 7, {"Milan": 70, "Rome": 30}),
    ("NL", 8, {"Amsterdam": 80, "Rotterdam": 20}),
    ("BE", 8, {"Brussels": 70, "Ghent": 30}),
    ("CH", 6, {"Zurich": 60, "Lausanne": 40}),
    ("US", 10, {"San Francisco": 50, "New York": 50}),
    ("SE", 3, {"Stockholm": 100}),
    ("PT", 2, {"Lisbon": 100}),
]

FOREIGN_SHARE = 0.10


@dataclass(frozen=True)
class Place:
    """One (country, region, city) choice; index into the flat tables below."""

    country: str
    region: str | None
    city: str


def _flatten() -> tuple[list[Place], np.ndarray, np.ndarray]:
    places: list[Place] = []
    fr_w: list[float] = []
    foreign_w: list[float] = []
    for region, share, cities in _REGIONS:
        total = sum(cities.values())
        for city, w in cities.items():
            places.append(Place("FR", region, city))
            fr_w.append(share * w / total)
            foreign_w.append(0.0)
    for country, share, cities in _FOREIGN:
        total = sum(cities.values())
        for city, w in cities.items():
            places.append(Place(country, None, city))
            fr_w.append(0.0)
            foreign_w.append(share * w / total)
    fr = np.asarray(fr_w)
    foreign = np.asarray(foreign_w)
    return places, fr / fr.sum(), foreign / foreign.sum()


PLACES, _FR_P, _FOREIGN_P = _flatten()
COUNTRIES: list[str] = sorted({p.country for p in PLACES})
REGIONS: list[str] = list(FR_REGION_CODES)
CITIES: list[str] = sorted({p.city for p in PLACES})

PLACE_COUNTRY = np.array([COUNTRIES.index(p.country) for p in PLACES])
PLACE_REGION = np.array([REGIONS.index(p.region) if p.region else -1 for p in PLACES])
PLACE_CITY = np.array([CITIES.index(p.city) for p in PLACES])
IDF = REGIONS.index("Île-de-France")
OVERSEAS_CODES = np.array([REGIONS.index(r) for r in sorted(OVERSEAS)])


def draw_places(rng: np.random.Generator, n: int) -> np.ndarray:
    """Index into PLACES for ``n`` organisations, a tenth of them foreign."""
    foreign = rng.random(n) < FOREIGN_SHARE
    fr_pick = rng.choice(len(PLACES), size=n, p=_FR_P)
    foreign_pick = rng.choice(len(PLACES), size=n, p=_FOREIGN_P)
    return np.where(foreign, foreign_pick, fr_pick)
