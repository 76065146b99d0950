"""Team family: founders and executives in post, from dated roles.

A role counts from its (effective) start day until its end day, exclusive: on the day a
founder leaves, they are no longer in post.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from talentmap.features.catalog import FAMILIES
from talentmap.features.events import DAY, align, running_sum
from talentmap.features.prepare import Prepared, org_start_rows


def _in_post(roles: pd.DataFrame, role: str, column: str) -> pd.DataFrame:
    chosen = roles[roles["role"] == role]
    ended = chosen.dropna(subset=["end"])
    ended = ended[ended["end"] > ended["start"]]
    events = pd.concat(
        [
            pd.DataFrame({"org_id": chosen["org_id"], DAY: chosen["start"], column: 1.0}),
            pd.DataFrame({"org_id": ended["org_id"], DAY: ended["end"], column: -1.0}),
        ],
        ignore_index=True,
    )
    return running_sum(events, "org_id", [column])


def build_team(p: Prepared) -> pd.DataFrame:
    base = org_start_rows(p)
    if p.roles is None:
        out = base.copy()
        for column in FAMILIES["team"].numeric:
            out[column] = np.nan
        return out
    roles = p.roles
    founders = roles[roles["role"] == "founder"]
    total = running_sum(
        pd.DataFrame(
            {"org_id": founders["org_id"], DAY: founders["start"], "n_founders_total": 1.0}
        ),
        "org_id",
        ["n_founders_total"],
    )
    parts = [
        (_in_post(roles, "founder", "n_founders"), {"n_founders": 0.0}),
        (total, {"n_founders_total": 0.0}),
        (_in_post(roles, "executive", "n_executives"), {"n_executives": 0.0}),
    ]
    keys = pd.concat([base, *(part[["org_id", DAY]] for part, _ in parts)], ignore_index=True)
    return align(keys, "org_id", parts)
