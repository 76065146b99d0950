"""Point-in-time checks: worlds with every event after t deleted, or altered.

If a feature at as-of t only uses events dated on or before t, then it must not change
when the future is deleted (``truncate_after``) or rewritten (``alter_after``: amounts,
types, values and dates changed, dates kept after t). Tests compare feature values at t
across these worlds.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from talentmap.features.catalog import PROGRAM_KINDS, ROUND_TYPES

# Per table: the row's own event date (rows after t are future events) and the secondary
# dates that only describe a later change (nulled after t: at t, it had not happened yet).
EVENT_DATES: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "organizations": (None, ("founded_on", "closed_on", "first_seen_on")),
    "funding_rounds": ("announced_on", ()),
    "roles": ("started_on", ("ended_on",)),
    "education": ("graduated_on", ()),
    "programs": ("started_on", ("ended_on",)),
    "publications": ("published_on", ()),
    "headcount": ("observed_on", ()),
    "job_postings": ("posted_on", ()),
    "exits": ("exited_on", ()),
}


def _future(frame: pd.DataFrame, column: str, t: pd.Timestamp) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame[column].notna() & (frame[column] > t)


def truncate_after(world: dict[str, pd.DataFrame], t: date) -> dict[str, pd.DataFrame]:
    """The world as it was known at ``t``: later rows deleted, later secondary dates nulled."""
    when = pd.Timestamp(t)
    out = dict(world)
    for name, (own, secondary) in EVENT_DATES.items():
        if name not in world:
            continue
        frame = world[name].copy()
        if own is not None:
            frame = frame[~_future(frame, own, when)]
        for column in secondary:
            frame.loc[_future(frame, column, when), column] = pd.NaT
        out[name] = frame.reset_index(drop=True)
    if "investments" in world:
        kept = out["funding_rounds"]["round_id"]
        out["investments"] = world["investments"][world["investments"]["round_id"].isin(kept)]
    return out


def _shift(frame: pd.DataFrame, column: str, mask: pd.Series, rng: np.random.Generator) -> None:
    days = pd.to_timedelta(rng.integers(1, 400, int(mask.sum())), unit="D")
    frame.loc[mask, column] = frame.loc[mask, column] + days


def alter_after(
    world: dict[str, pd.DataFrame], t: date, rng: np.random.Generator
) -> dict[str, pd.DataFrame]:
    """Rewrite every event after ``t`` (values, kinds, dates moved later), keep the past."""
    when = pd.Timestamp(t)
    out = {name: frame.copy() for name, frame in world.items()}
    for name, (own, secondary) in EVENT_DATES.items():
        if name not in out:
            continue
        frame = out[name]
        for column in (own, *secondary):
            if column is not None and column in frame.columns:
                _shift(frame, column, _future(frame, column, when), rng)
    rounds = out["funding_rounds"]
    future = _future(world["funding_rounds"], "announced_on", when)
    rounds.loc[future, "amount_eur"] = rounds.loc[future, "amount_eur"] * 3.0 + 1.0
    rounds.loc[future, "round_type"] = rng.choice(ROUND_TYPES, int(future.sum()))
    if "investments" in out:
        inv = out["investments"]
        hit = inv["round_id"].isin(world["funding_rounds"].loc[future, "round_id"])
        inv.loc[hit, "investor_id"] = [f"new{i}" for i in range(int(hit.sum()))]
        inv.loc[hit, "investor_kind"] = "vc"
    if "programs" in out:
        hit = _future(world["programs"], "started_on", when)
        out["programs"].loc[hit, "program_kind"] = rng.choice(PROGRAM_KINDS, int(hit.sum()))
    if "headcount" in out:
        hit = _future(world["headcount"], "observed_on", when)
        out["headcount"].loc[hit, "headcount"] = out["headcount"].loc[hit, "headcount"] * 7
    if "publications" in out:
        hit = _future(world["publications"], "published_on", when)
        out["publications"].loc[hit, "kind"] = "patent"
    if "roles" in out:
        hit = _future(world["roles"], "started_on", when)
        out["roles"].loc[hit, "role"] = "founder"
    return out
