"""Founders family: education, prior ventures and prior exits, aggregated per company.

Counts are of distinct founders (or distinct prior companies). Each fact about a founder
becomes known to the company on max(the fact's date, the founder's joining day); a degree
without a graduation date is credited on the joining day. A prior venture, and its exit,
is also known no earlier than the source's first sighting of that other company
(``first_seen_on``): a source that lists a company only later, history back-filled, held
no record of it before, so crediting its founding role then would read a later export.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from talentmap.features.catalog import FAMILIES
from talentmap.features.events import DAY, align, count_distinct, to_day
from talentmap.features.prepare import Prepared, org_start_rows

# Institution names that denote a French grande école (case- and accent-insensitive match).
GRANDE_ECOLE_PATTERN = re.compile(
    r"polytechnique|centrale|\bhec\b|essec|escp|\bmines\b|ponts|t[ée]l[ée]com|sup[ée]lec|"
    r"normale sup[ée]rieure|\bens\b|sciences ?po|edhec|em ?lyon|supaero|isae|ensta|ensae|"
    r"espci|agroparistech|\binsa\b|grenoble inp|toulouse inp|\bskema\b|neoma|audencia",
    re.IGNORECASE,
)
EDUCATION_COLUMNS = (
    "n_founders_phd",
    "n_founders_engineer",
    "n_founders_mba",
    "n_founders_grande_ecole",
)
VENTURE_COLUMNS = ("n_founders_prior_venture", "n_prior_ventures")
EXIT_COLUMNS = ("n_founders_prior_exit", "n_prior_exits")


def _later(a: pd.Series, b: pd.Series) -> pd.Series:
    return a.where(a > b, b)


def _founders(p: Prepared) -> pd.DataFrame:
    assert p.roles is not None
    founders = p.roles[p.roles["role"] == "founder"]
    return founders.groupby(["org_id", "person_id"], sort=False)["start"].min().reset_index()


def _education_parts(p: Prepared, founders: pd.DataFrame) -> list:
    raw = p.table("education")
    edu = pd.DataFrame(
        {
            "person_id": raw["person_id"].astype(object),
            "degree": raw["degree"].astype(object),
            "institution": raw["institution"].astype(object).fillna(""),
            "graduated": to_day(raw["graduated_on"]) if "graduated_on" in raw else pd.NaT,
        }
    ).merge(founders, on="person_id", how="inner")
    edu[DAY] = _later(edu["graduated"].fillna(edu["start"]), edu["start"])
    flags = {
        "n_founders_phd": edu["degree"] == "phd",
        "n_founders_engineer": edu["degree"] == "engineer",
        "n_founders_mba": edu["degree"] == "mba",
        "n_founders_grande_ecole": edu["institution"].str.contains(GRANDE_ECOLE_PATTERN),
    }
    zeros = dict.fromkeys(EDUCATION_COLUMNS, 0.0)
    return [
        (count_distinct(edu[mask], "org_id", ["org_id", "person_id"], column), zeros)
        for column, mask in flags.items()
    ]


def _prior_ventures(founders: pd.DataFrame, first_seen: pd.Series) -> pd.DataFrame:
    """(org, person, prior org) triples: companies the founder started earlier.

    Each is known on the later of the founder's start at the company and the first
    sighting of the prior company (when the source records one).
    """
    pairs = founders.merge(founders, on="person_id", suffixes=("", "_prior"))
    pairs = pairs[
        (pairs["org_id_prior"] != pairs["org_id"]) & (pairs["start_prior"] < pairs["start"])
    ]
    listed = pairs["org_id_prior"].map(first_seen).fillna(pairs["start"])
    return pairs.assign(**{DAY: _later(pairs["start"], listed)})


def _exit_parts(p: Prepared, ventures: pd.DataFrame) -> list:
    raw = p.table("exits")
    first_exit = (
        pd.DataFrame(
            {"org_id_prior": raw["org_id"].astype(object), "exit": to_day(raw["exited_on"])}
        )
        .dropna()
        .groupby("org_id_prior")["exit"]
        .min()
        .reset_index()
    )
    exited = ventures.merge(first_exit, on="org_id_prior", how="inner")
    exited[DAY] = _later(exited["exit"], exited[DAY])
    zeros = dict.fromkeys(EXIT_COLUMNS, 0.0)
    return [
        (count_distinct(exited, "org_id", ["org_id", "person_id"], "n_founders_prior_exit"), zeros),
        (count_distinct(exited, "org_id", ["org_id", "org_id_prior"], "n_prior_exits"), zeros),
    ]


def build_founders(p: Prepared) -> pd.DataFrame:
    base = org_start_rows(p)
    parts: list = []
    if p.roles is not None:
        founders = _founders(p)
        first_seen = p.orgs.drop_duplicates("org_id").set_index("org_id")["first_seen"]
        ventures = _prior_ventures(founders, first_seen)
        zeros = dict.fromkeys(VENTURE_COLUMNS, 0.0)
        parts += [
            (
                count_distinct(
                    ventures, "org_id", ["org_id", "person_id"], "n_founders_prior_venture"
                ),
                zeros,
            ),
            (
                count_distinct(ventures, "org_id", ["org_id", "org_id_prior"], "n_prior_ventures"),
                zeros,
            ),
        ]
        if p.has("education"):
            parts += _education_parts(p, founders)
        if p.has("exits"):
            parts += _exit_parts(p, ventures)
    keys = pd.concat([base, *(part[["org_id", DAY]] for part, _ in parts)], ignore_index=True)
    out = align(keys, "org_id", parts)
    for column in FAMILIES["founders"].numeric:
        if column not in out.columns:
            out[column] = np.nan
    return out
