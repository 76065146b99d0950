"""Research families: publications of the company, of its founders, and of each person.

A founder's publication becomes known to the company on max(published_on, the day the
founder joined): earlier work is credited on the joining day, never before it. Work
published after the founder left is not credited to the company.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from talentmap.features.catalog import FAMILIES
from talentmap.features.events import DAY, align, count_distinct, to_day
from talentmap.features.prepare import Prepared, org_start_rows

# Output suffix per publication kind; preprints count as papers.
KIND_GROUPS: dict[str, str] = {
    "paper": "papers",
    "preprint": "papers",
    "patent": "patents",
    "software": "software",
}
GROUPS = ("papers", "patents", "software")


def _publications(p: Prepared) -> pd.DataFrame:
    raw = p.table("publications")
    column = lambda name: raw[name].astype(object) if name in raw.columns else None  # noqa: E731
    pubs = pd.DataFrame(
        {
            "pub_id": raw["pub_id"].astype(object),
            "org_id": column("org_id"),
            "person_id": column("person_id"),
            DAY: to_day(raw["published_on"]),
            "group": raw["kind"].map(KIND_GROUPS),
        }
    )
    return pubs.dropna(subset=[DAY, "group"])


def _by_group(
    pubs: pd.DataFrame, key: str, prefix: str
) -> list[tuple[pd.DataFrame, dict[str, float]]]:
    parts = []
    for group in GROUPS:
        column = f"{prefix}_n_{group}"
        chosen = pubs[pubs["group"] == group]
        parts.append((count_distinct(chosen, key, [key, "pub_id"], column), {column: 0.0}))
    return parts


def _founder_publications(p: Prepared, pubs: pd.DataFrame) -> pd.DataFrame:
    assert p.roles is not None
    founders = p.roles[p.roles["role"] == "founder"][["person_id", "org_id", "start", "end"]]
    credited = pubs.dropna(subset=["person_id"]).drop(columns="org_id")
    credited = credited.merge(founders, on="person_id", how="inner")
    credited = credited[credited["end"].isna() | (credited[DAY] < credited["end"])]
    credited = credited.assign(
        **{DAY: credited[DAY].where(credited[DAY] > credited["start"], credited["start"])}
    )
    return credited


def build_research(p: Prepared) -> pd.DataFrame:
    base = org_start_rows(p)
    parts: list[tuple[pd.DataFrame, dict[str, float]]] = []
    if p.has("publications"):
        pubs = _publications(p)
        parts += _by_group(pubs.dropna(subset=["org_id"]), "org_id", "org")
        if p.roles is not None:
            parts += _by_group(_founder_publications(p, pubs), "org_id", "founders")
    keys = pd.concat([base, *(part[["org_id", DAY]] for part, _ in parts)], ignore_index=True)
    out = align(keys, "org_id", parts)
    for column in FAMILIES["research"].numeric:
        if column not in out.columns:
            out[column] = np.nan
    return out


def build_person_research(p: Prepared) -> pd.DataFrame:
    columns = ["person_id", DAY, *FAMILIES["person_research"].numeric]
    if not p.has("publications"):
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns}).astype(
            {"person_id": object, DAY: "M8[ns]"}
        )
    pubs = _publications(p).dropna(subset=["person_id"])
    parts = _by_group(pubs, "person_id", "person")
    keys = pd.concat([part[["person_id", DAY]] for part, _ in parts], ignore_index=True)
    return align(keys, "person_id", parts)
