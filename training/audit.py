"""Fairness audit groups and per-group metrics, for the model card and the MLflow run.

Audit groups are attributes the model never sees: the organisation's region and its
founding team's gender composition. Gender may only serve this audit (team notes,
GDPR); ``PromiseModel`` refuses it as a feature, and here it is reduced to a team-level
category before it leaves this module. Only ids and gender codes are read from the
people table: names never enter these frames, so they cannot reach MLflow.

Per group and scorer, ``group_metrics`` reports the group's size and base rate, AUC-PR,
how many of the group's rows make the *overall* top ``k`` (its selection rate) and the
precision among those selected rows. A ranking that selects a group far below its share of
positives is what an auditor looks for; French Tech Next40's regional floor is the same
idea.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from talentmap.training.metrics import auc_pr, auc_roc, top_k_order

REGION = "region"
FOUNDER_GENDER = "founder_gender"
AUDIT_COLUMNS: tuple[str, ...] = (REGION, FOUNDER_GENDER)
UNKNOWN = "unknown"
# Team-level composition: individual genders are never reported.
WOMEN_ONLY, MEN_ONLY, MIXED, OTHER = "women only", "men only", "mixed", "other"
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


def audit_groups(
    tables: Mapping[str, pd.DataFrame], org_ids: Sequence[str] | pd.Series, as_of: object
) -> pd.DataFrame:
    """``[org_id, region, founder_gender]`` for ``org_ids`` at ``as_of``, in their order."""
    ids = pd.Series(np.asarray(org_ids, dtype=object))
    orgs = tables["organizations"]
    if REGION in orgs.columns:
        regions = orgs.drop_duplicates("org_id").set_index("org_id")[REGION]
        region = ids.map(regions).where(lambda r: r.notna(), UNKNOWN).astype(object)
    else:
        region = pd.Series(UNKNOWN, index=ids.index, dtype=object)
    return pd.DataFrame(
        {
            "org_id": ids.to_numpy(),
            REGION: region.to_numpy(),
            FOUNDER_GENDER: founder_gender(tables, ids, as_of).to_numpy(),
        }
    )


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
    ``talentmap.training.metrics``.
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
