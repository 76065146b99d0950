"""Programmes family: incubator, accelerator, public programme and competition membership.

Counts are of programmes started so far; ``n_programs_active`` drops on a programme's end
day. Start days are stored for the time-relative on-demand view.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from talentmap.features.catalog import FAMILIES, PROGRAM_KINDS
from talentmap.features.events import DAY, align, epoch_days, running_sum, to_day
from talentmap.features.prepare import Prepared, org_start_rows


def build_programs(p: Prepared) -> pd.DataFrame:
    base = org_start_rows(p)
    if not p.has("programs"):
        out = base.copy()
        for column in FAMILIES["programs"].numeric:
            out[column] = np.nan
        return out
    raw = p.table("programs")
    prog = pd.DataFrame(
        {
            "org_id": raw["org_id"].astype(object),
            "kind": raw["program_kind"].astype(object),
            "start": to_day(raw["started_on"]),
            "end": to_day(raw["ended_on"]) if "ended_on" in raw.columns else pd.NaT,
        }
    ).dropna(subset=["start"])
    starts = prog[["org_id"]].assign(**{DAY: prog["start"], "n_programs": 1.0})
    for kind in PROGRAM_KINDS:
        starts[f"n_programs_{kind}"] = (prog["kind"] == kind).astype("float64")
    starts["n_programs_active"] = 1.0
    ended = prog.dropna(subset=["end"])
    ended = ended[ended["end"] > ended["start"]]
    ends = pd.DataFrame({"org_id": ended["org_id"], DAY: ended["end"], "n_programs_active": -1.0})
    count_cols = [c for c in starts.columns if c not in ("org_id", DAY)]
    counts = running_sum(pd.concat([starts, ends]).fillna(0.0), "org_id", count_cols)

    daily = starts.groupby(["org_id", DAY], sort=True).size().reset_index()[["org_id", DAY]]
    timing = daily.assign(
        first_program_day=epoch_days(daily.groupby("org_id")[DAY].transform("min")),
        last_program_start_day=epoch_days(daily[DAY]),
    )
    keys = pd.concat([base, counts[["org_id", DAY]]], ignore_index=True)
    return align(keys, "org_id", [(counts, dict.fromkeys(count_cols, 0.0)), (timing, {})])
