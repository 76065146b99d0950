"""Profile family: sector, region and country from the first known day, the founding date
once it is reached, the age anchor (``talentmap.features.age``) from the day it is known,
and closure from its date on.

An unknown sector, region or country (absent column, empty, blank, or ``ZZ`` for the
country) is a missing feature, never a category of its own; an unknown founding date
leaves ``founded_day`` missing, never guessed (the company age then falls back as
``talentmap.features.age`` says).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from talentmap.contract import known_text
from talentmap.contract_parse import Kind
from talentmap.features.age import age_anchor_changes
from talentmap.features.events import DAY, align, epoch_days, union_days
from talentmap.features.prepare import Prepared, org_start_rows


def build_profile(p: Prepared) -> pd.DataFrame:
    organizations = p.table("organizations")
    static = org_start_rows(p)
    for column, kind in (("sector", Kind.TEXT), ("region", Kind.TEXT), ("country", Kind.COUNTRY)):
        values = organizations[column] if column in organizations.columns else None
        static[column] = known_text(values, kind).to_numpy() if values is not None else None
    founded = p.orgs.dropna(subset=["founded"])
    founded = pd.DataFrame(
        {
            "org_id": founded["org_id"],
            DAY: founded["founded"],
            "founded_day": epoch_days(founded["founded"]),
        }
    )
    anchors = age_anchor_changes(
        p.orgs["org_id"].to_numpy(dtype=object),
        p.orgs["founded"].to_numpy(dtype="datetime64[ns]"),
        p.orgs["first_event"].to_numpy(dtype="datetime64[ns]"),
        p.age_fallback,
    )
    anchors["age_anchor_day"] = epoch_days(anchors["age_anchor_day"])
    closed = p.orgs.dropna(subset=["closed"])
    closed = pd.DataFrame({"org_id": closed["org_id"], DAY: closed["closed"], "is_closed": 1.0})
    keys = union_days([static, founded, anchors, closed], "org_id")
    return align(
        keys,
        "org_id",
        [
            (static, {}),
            (founded, {"founded_day": np.nan}),
            (anchors, {"age_anchor_day": np.nan}),
            (closed, {"is_closed": 0.0}),
        ],
    )
