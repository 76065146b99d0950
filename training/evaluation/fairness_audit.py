"""Fairness audit groups and per-group metrics, for the model card and the MLflow run.

Audit groups are attributes the model never sees as such: the organisation's region,
its founding team's gender composition and, when the snapshot records them, the founders'
age band and type of school. Gender may only serve this audit (team notes, GDPR);
``PromiseModel`` refuses it as a feature, and here it is reduced to a team-level
category before it leaves this module. Only ids, gender codes, birth years and school
names are read: person names never enter these frames, so they cannot reach MLflow.
Age and school are reduced to team-level bands too. A dimension the snapshot cannot
describe (no ``birth_year`` column, no ``education`` table) is left out, not faked as
"unknown" for everybody.

Per group and scorer, ``group_metrics`` reports the group's size and base rate, AUC-PR,
how many of the group's rows make the *overall* top ``k`` (its selection rate) and the
precision among those selected rows. A ranking that selects a group far below its share of
positives is what an auditor looks for; French Tech Next40's regional floor is the same
idea.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from talentmap.training.evaluation.metrics import auc_pr, auc_roc, top_k_order

REGION = "region"
FOUNDER_GENDER = "founder_gender"
LEAD_GENDER = "lead_founder_gender"
AGE_BAND = "founder_age_band"
SCHOOL = "founder_school"
AUDIT_COLUMNS: tuple[str, ...] = (REGION, FOUNDER_GENDER, LEAD_GENDER, AGE_BAND, SCHOOL)
UNKNOWN = "unknown"
# Team-level composition: individual genders are never reported.
WOMEN_ONLY, MEN_ONLY, MIXED, OTHER = "women only", "men only", "mixed", "other"
# Who leads: the studies of "women-led start-ups" count the CEO's gender.
WOMEN_LED, MEN_LED = "women-led", "men-led"
LEAD_TITLE_PATTERN = re.compile(
    r"\bceo\b|chief executive|pr[ée]sident|\bpdg\b|directeur g[ée]n[ée]ral|"
    r"directrice g[ée]n[ée]rale|managing director",
    re.IGNORECASE,
)
# Median age of the founding team at the as-of date, in bands (lower bound inclusive).
AGE_BANDS: tuple[tuple[int, str], ...] = (
    (0, "under 30"),
    (30, "30-39"),
    (40, "40-49"),
    (50, "50 and over"),
)
# The team's "best" school type: any founder from a grande école makes it one.
GRANDE_ECOLE, UNIVERSITY, OTHER_SCHOOL, NO_DEGREE = (
    "grande ecole",
    "university",
    "other school",
    "no degree recorded",
)
SCHOOL_RANK: tuple[str, ...] = (GRANDE_ECOLE, UNIVERSITY, OTHER_SCHOOL)
# Universities in France and abroad, by name (heuristic; grandes écoles are matched first,
# with the features' own pattern, so that the audit and the feature agree).
UNIVERSITY_PATTERN = re.compile(
    r"universit|\bcollege\b|institute of technology|politecnico|\beth\b|\bepfl\b|leuven",
    re.IGNORECASE,
)
GROUP_COLUMNS: tuple[str, ...] = (
    "group",
    "scorer",
    "n",
    "n_positive",
    "base_rate",
    "auc_pr",
    "auc_roc",
    "selected",
    "precision_selected",
    "selection_rate",
    "share_of_selected",
    "share_of_positives",
)


def _team_composition(genders: set[str]) -> str:
    if not genders:
        return UNKNOWN
    if genders == {"F"}:
        return WOMEN_ONLY
    if genders == {"M"}:
        return MEN_ONLY
    if len(genders) > 1:
        return MIXED
    return OTHER


def founder_gender(
    tables: Mapping[str, pd.DataFrame], org_ids: Sequence[str] | pd.Series, as_of: object
) -> pd.Series:
    """Founding-team gender composition of each org at ``as_of``, aligned with ``org_ids``.

    Founders are ``roles`` rows with ``role == "founder"`` that started on or before
    ``as_of`` (or at an unknown date). Without the roles or people table, or without a
    known gender, the composition is "unknown", never guessed.
    """
    ids = pd.Series(np.asarray(org_ids, dtype=object))
    roles, people = tables.get("roles"), tables.get("people")
    if roles is None or people is None or "gender" not in people.columns:
        return pd.Series(UNKNOWN, index=ids.index, name=FOUNDER_GENDER, dtype=object)
    when = pd.Timestamp(as_of)
    founders = roles.loc[roles["role"] == "founder", ["org_id", "person_id", "started_on"]]
    started = pd.to_datetime(founders["started_on"])
    founders = founders.loc[started.isna() | (started <= when), ["org_id", "person_id"]]
    # Ids and gender codes only: full names stay in the lake.
    known = people.loc[people["gender"].notna(), ["person_id", "gender"]]
    joined = founders.merge(known, on="person_id", how="inner")
    teams = joined.groupby("org_id")["gender"].agg(lambda g: _team_composition(set(g)))
    out = ids.map(teams).fillna(UNKNOWN).astype(object)
    return out.rename(FOUNDER_GENDER)


def _founders_at(tables: Mapping[str, pd.DataFrame], as_of: object) -> pd.DataFrame:
    """``[org_id, person_id]`` of founders who started on or before ``as_of`` (or undated)."""
    roles = tables["roles"]
    founders = roles.loc[roles["role"] == "founder", ["org_id", "person_id", "started_on"]]
    started = pd.to_datetime(founders["started_on"])
    return founders.loc[started.isna() | (started <= pd.Timestamp(as_of)), ["org_id", "person_id"]]


def lead_founder_gender(
    tables: Mapping[str, pd.DataFrame], org_ids: Sequence[str] | pd.Series, as_of: object
) -> pd.Series:
    """women-led / men-led / other / unknown, from the gender of the team's lead founder.

    The lead is the founder titled CEO or président (PDG, directeur général, ...), the
    earliest started if several; a solo founder leads without a title. A team whose lead
    cannot be told, or whose lead's gender is not recorded, is "unknown".
    """
    ids = pd.Series(np.asarray(org_ids, dtype=object))
    roles, people = tables["roles"], tables["people"]
    founders = roles.loc[roles["role"] == "founder"]
    started = pd.to_datetime(founders["started_on"])
    founders = founders.loc[started.isna() | (started <= pd.Timestamp(as_of))]
    titles = founders["title"].astype(object).fillna("").astype(str)
    team_size = founders.groupby("org_id")["person_id"].transform("nunique")
    leads = founders.loc[titles.str.contains(LEAD_TITLE_PATTERN) | (team_size == 1)]
    leads = leads.sort_values(["org_id", "started_on", "person_id"], kind="stable")
    lead = leads.drop_duplicates("org_id").set_index("org_id")["person_id"]
    gender = people.loc[people["gender"].notna()].set_index("person_id")["gender"]
    codes = lead.map(gender).map({"F": WOMEN_LED, "M": MEN_LED, "X": OTHER})
    return ids.map(codes).fillna(UNKNOWN).astype(object).rename(LEAD_GENDER)


def age_band(age: float) -> str:
    """The band of an age in years (NaN: unknown)."""
    if age is None or not np.isfinite(age):
        return UNKNOWN
    label = UNKNOWN
    for lower, name in AGE_BANDS:
        if age >= lower:
            label = name
    return label


def founder_age_band(
    tables: Mapping[str, pd.DataFrame], org_ids: Sequence[str] | pd.Series, as_of: object
) -> pd.Series:
    """Band of the founding team's median age at ``as_of`` (age = as-of year - birth year).

    Founders without a birth year are left out of the median; a team without any is
    "unknown".
    """
    ids = pd.Series(np.asarray(org_ids, dtype=object))
    people = tables["people"]
    known = people.loc[people["birth_year"].notna(), ["person_id", "birth_year"]]
    joined = _founders_at(tables, as_of).merge(known, on="person_id", how="inner")
    ages = pd.Timestamp(as_of).year - joined["birth_year"].astype("float64")
    median = ages.groupby(joined["org_id"]).median()
    return ids.map(median).map(age_band).astype(object).rename(AGE_BAND)


def school_type(institution: object) -> str:
    """grande ecole, university or other school, from an institution's name."""
    from talentmap.features.family_founders import GRANDE_ECOLE_PATTERN

    name = str(institution or "")
    if GRANDE_ECOLE_PATTERN.search(name):
        return GRANDE_ECOLE
    if UNIVERSITY_PATTERN.search(name):
        return UNIVERSITY
    return OTHER_SCHOOL


def founder_school(
    tables: Mapping[str, pd.DataFrame], org_ids: Sequence[str] | pd.Series, as_of: object
) -> pd.Series:
    """The team's best school type among degrees graduated by ``as_of`` (or undated).

    Order: grande ecole, then university, then other school; a team with no such degree
    on record is "no degree recorded" (the record is incomplete: not "no degree").
    """
    ids = pd.Series(np.asarray(org_ids, dtype=object))
    education = tables["education"]
    graduated = (
        pd.to_datetime(education["graduated_on"])
        if "graduated_on" in education
        else pd.Series(pd.NaT, index=education.index)
    )
    degrees = education.loc[
        graduated.isna() | (graduated <= pd.Timestamp(as_of)), ["person_id", "institution"]
    ]
    joined = _founders_at(tables, as_of).merge(degrees, on="person_id", how="inner")
    kinds = {name: SCHOOL_RANK.index(school_type(name)) for name in joined["institution"].unique()}
    rank = joined["institution"].map(kinds)
    best = rank.groupby(joined["org_id"]).min().map(lambda r: SCHOOL_RANK[int(r)])
    return ids.map(best).fillna(NO_DEGREE).astype(object).rename(SCHOOL)


def audit_groups(
    tables: Mapping[str, pd.DataFrame], org_ids: Sequence[str] | pd.Series, as_of: object
) -> pd.DataFrame:
    """``[org_id, region, founder_gender]`` plus, when the data supports them,
    ``lead_founder_gender`` (needs ``roles.title``), ``founder_age_band`` (needs
    ``people.birth_year``) and ``founder_school`` (needs ``education``); in ``org_ids`` order.
    """
    ids = pd.Series(np.asarray(org_ids, dtype=object))
    orgs = tables["organizations"]
    if REGION in orgs.columns:
        regions = orgs.drop_duplicates("org_id").set_index("org_id")[REGION]
        region = ids.map(regions).where(lambda r: r.notna(), UNKNOWN).astype(object)
    else:
        region = pd.Series(UNKNOWN, index=ids.index, dtype=object)
    out = pd.DataFrame(
        {
            "org_id": ids.to_numpy(),
            REGION: region.to_numpy(),
            FOUNDER_GENDER: founder_gender(tables, ids, as_of).to_numpy(),
        }
    )
    people, roles = tables.get("people"), tables.get("roles")
    if roles is not None and people is not None and "gender" in people and "title" in roles:
        out[LEAD_GENDER] = lead_founder_gender(tables, ids, as_of).to_numpy()
    if tables.get("roles") is not None and people is not None and "birth_year" in people:
        out[AGE_BAND] = founder_age_band(tables, ids, as_of).to_numpy()
    if tables.get("roles") is not None and tables.get("education") is not None:
        out[SCHOOL] = founder_school(tables, ids, as_of).to_numpy()
    return out


def group_metrics(
    y_true: np.ndarray | pd.Series,
    scores: Mapping[str, np.ndarray],
    groups: pd.Series | np.ndarray,
    k: int = 100,
) -> pd.DataFrame:
    """One row per (group, scorer) with the columns of ``GROUP_COLUMNS``.

    ``selected`` counts the group's rows in the overall top ``k`` and
    ``precision_selected`` is the positive rate among them: the shortlist is shared, so
    a per-group top-k would be a different list. Undefined metrics are NaN, as in
    ``talentmap.training.evaluation.metrics``.
    """
    y = np.asarray(y_true, dtype=np.int64)
    labels = pd.Series(np.asarray(groups, dtype=object)).fillna(UNKNOWN).astype(str).to_numpy()
    total_pos = int(y.sum())
    rows: list[dict[str, object]] = []
    for scorer, score in scores.items():
        s = np.asarray(score, dtype=np.float64)
        selected = np.zeros(len(y), dtype=bool)
        selected[top_k_order(s, k)] = True
        n_selected = int(selected.sum())
        for group in sorted(set(labels)):
            mask = labels == group
            yg, sg = y[mask], s[mask]
            n, n_pos, n_sel = int(mask.sum()), int(yg.sum()), int(selected[mask].sum())
            rows.append(
                {
                    "group": group,
                    "scorer": scorer,
                    "n": n,
                    "n_positive": n_pos,
                    "base_rate": n_pos / n,
                    "auc_pr": auc_pr(yg, sg),
                    "auc_roc": auc_roc(yg, sg),
                    "selected": n_sel,
                    "precision_selected": float(yg[selected[mask]].mean()) if n_sel else np.nan,
                    "selection_rate": n_sel / n,
                    "share_of_selected": n_sel / n_selected if n_selected else np.nan,
                    "share_of_positives": n_pos / total_pos if total_pos else np.nan,
                }
            )
    return pd.DataFrame(rows, columns=list(GROUP_COLUMNS))
