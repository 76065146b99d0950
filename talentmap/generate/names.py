"""Synthetic names for people, organisations and business angels.

Every name is assembled from common parts so that no record designates a real person;
real institutions (schools, Bpifrance, Station F, ...) appear only where the world needs
them to look French.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

FIRST_F = [
    "Camille",
    "Léa",
    "Manon",
    "Chloé",
    "Sarah",
    "Inès",
    "Julie",
    "Emma",
    "Claire",
    "Marie",
    "Pauline",
    "Lucie",
    "Anaïs",
    "Élodie",
    "Mathilde",
    "Sophie",
    "Nadia",
    "Amandine",
    "Charlotte",
    "Laura",
    "Aïcha",
    "Yasmine",
    "Hélène",
    "Margaux",
    "Clara",
    "Anna",
    "Sofia",
    "Hannah",
    "Giulia",
    "Lucía",
]
FIRST_M = [
    "Thomas",
    "Nicolas",
    "Julien",
    "Maxime",
    "Antoine",
    "Alexandre",
    "Pierre",
    "Hugo",
    "Louis",
    "Mathieu",
    "Romain",
    "Guillaume",
    "Paul",
    "Arthur",
    "Karim",
    "Mehdi",
    "Benjamin",
    "Vincent",
    "Baptiste",
    "Clément",
    "Olivier",
    "Yann",
    "Théo",
    "Quentin",
    "Lucas",
    "Jonas",
    "Felix",
    "Marco",
    "Daniel",
    "Omar",
]
FIRST_X = ["Alex", "Sacha", "Charlie", "Dominique", "Camille", "Noa", "Eden", "Andrea"]
LAST = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefebvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "Legrand",
    "Garnier",
    "Faure",
    "Rousseau",
    "Blanc",
    "Guerin",
    "Muller",
    "Henry",
    "Roussel",
    "Nicolas",
    "Perrin",
    "Morin",
    "Mathieu",
    "Clement",
    "Gauthier",
    "Dumont",
    "Lopez",
    "Fontaine",
    "Chevalier",
    "Robin",
    "Masson",
    "Benali",
    "Nguyen",
    "Haddad",
    "Kone",
    "Diallo",
    "Le Gall",
    "Kervella",
    "Schmidt",
    "Rossi",
    "Smith",
]

_STEM = [
    "Lumi",
    "Quan",
    "Veri",
    "Nexa",
    "Alto",
    "Kera",
    "Sola",
    "Oria",
    "Zeph",
    "Myri",
    "Vola",
    "Tera",
    "Nova",
    "Arca",
    "Cybe",
    "Hexa",
    "Lyra",
    "Opti",
    "Pulse",
    "Strat",
    "Flux",
    "Orbi",
    "Sylv",
    "Delt",
    "Agri",
    "Medi",
    "Neur",
    "Cale",
    "Brio",
    "Fina",
    "Gaia",
    "Hali",
    "Iris",
    "Joli",
    "Kali",
    "Luna",
    "Mira",
    "Nuvo",
    "Oxy",
    "Pixi",
]
_END = ["o", "a", "is", "ium", "ly", "io", "eo", "ix", "on", "ia", "ora", "ify", "ence", "us"]
_SUFFIX = [
    "",
    "",
    "",
    " Labs",
    " Technologies",
    " AI",
    " Health",
    " Energy",
    " Systems",
    " Bio",
    " Robotics",
    " & Co",
    " SAS",
    " Studio",
    " Analytics",
]


def pick(rng: np.random.Generator, choices: list[str], n: int) -> pa.Array:
    """``n`` strings drawn uniformly from ``choices``, built without a Python loop."""
    codes = pa.array(rng.integers(0, len(choices), n).astype(np.int32))
    return pa.DictionaryArray.from_arrays(codes, pa.array(choices)).cast(pa.string())


def org_names(rng: np.random.Generator, n: int) -> pa.Array:
    return pc.binary_join_element_wise(
        pick(rng, _STEM, n), pick(rng, _END, n), pick(rng, _SUFFIX, n), ""
    )


def person_names(rng: np.random.Generator, gender_code: np.ndarray) -> pa.Array:
    """Full names matching the gender code (0=F, 1=M, 2=X, 3=unknown)."""
    n = gender_code.shape[0]
    f, m, x = pick(rng, FIRST_F, n), pick(rng, FIRST_M, n), pick(rng, FIRST_X, n)
    first = pc.if_else(pa.array(gender_code == 0), f, pc.if_else(pa.array(gender_code == 2), x, m))
    return pc.binary_join_element_wise(first, pick(rng, LAST, n), " ")
