"""How old a company is at t: the one rule the candidate filter and the age features share.

A company's age at as-of date t is counted from its *age anchor* at t:

- its founding date, when that date is on or before t;
- otherwise, when the fallback is on, its first dated event if that is on or before t
  (a funding round, a programme, a headcount observation, a job posting, a founder's
  role start, a publication under its own ``org_id``, an exit: ``FIRST_EVENTS``);
- otherwise unknown.

The second case covers both a missing founding date (common in real exports) and a
founding date *after* t for a company already on the record at t: sources correct
founding dates after the fact, so a founding date later than events dated on or before t
cannot have been known at t. A founding date after t with no event on or before t simply
means "not yet founded". Every branch compares a date with t, and the first event is a
minimum, so deleting or rewriting what happens after t never changes the anchor at t.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from talentmap.features.events import DAY, to_day

# Dated events that put an organisation on the record. Founder roles only (an employee's
# start is about the person), and publications under the company's own org_id only (a
# founder's paper does not mean the source knew the company).
FIRST_EVENTS: tuple[tuple[str, str], ...] = (
    ("funding_rounds", "announced_on"),
    ("programs", "started_on"),
    ("headcount", "observed_on"),
    ("job_postings", "posted_on"),
    ("roles", "started_on"),
    ("publications", "published_on"),
    ("exits", "exited_on"),
)

_NAT = np.datetime64("NaT")


def first_event_on(tables: Mapping[str, pd.DataFrame]) -> pd.Series:
    """Each organisation's earliest dated event (``FIRST_EVENTS``), indexed by org_id.

    Aligned on ``organizations`` in table order; NaT for an organisation without any.
    Undated rows are ignored: an event without a date cannot anchor anything.
    """
    orgs = tables["organizations"]
    index = pd.Index(orgs["org_id"].to_numpy(dtype=object), name="org_id")
    parts: list[pd.DataFrame] = []
    for table, column in FIRST_EVENTS:
        frame = tables.get(table)
        if frame is None or len(frame) == 0 or "org_id" not in frame or column not in frame:
            continue
        if table == "roles":
            frame = frame.loc[frame["role"] == "founder"]
        org_ids = frame["org_id"].to_numpy(dtype=object)
        parts.append(pd.DataFrame({"org_id": org_ids, "on": to_day(frame[column]).to_numpy()}))
    if not parts:
        return pd.Series(np.full(len(index), _NAT, dtype="datetime64[ns]"), index=index)
    events = pd.concat(parts, ignore_index=True).dropna()
    first = events.groupby("org_id")["on"].min()
    return pd.Series(first.reindex(index).to_numpy(dtype="datetime64[ns]"), index=index)


def age_anchor(
    founded: np.ndarray, first_event: np.ndarray, t: np.ndarray, fallback: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``(anchor, from_fallback)`` at t, element-wise and broadcasting (datetime64[ns]).

    ``anchor`` is NaT where the age is unknown at t; ``from_fallback`` is True where the
    anchor is the first event rather than the founding date.
    """
    known = founded <= t  # NaT compares False: a missing founding date is not known
    from_fallback = ~known & (first_event <= t) if fallback else np.zeros_like(known)
    anchor = np.where(known, founded, np.where(from_fallback, first_event, _NAT))
    return anchor.astype("datetime64[ns]"), np.asarray(from_fallback, dtype=bool)


def not_yet_founded(founded: np.ndarray, first_event: np.ndarray, t: np.ndarray) -> np.ndarray:
    """A founding date after t and nothing on the record on or before t."""
    return (founded > t) & ~(first_event <= t)


def age_anchor_changes(
    org_ids: np.ndarray, founded: np.ndarray, first_event: np.ndarray, fallback: bool
) -> pd.DataFrame:
    """``[org_id, day, age_anchor_day]``: the days on which the age anchor changes.

    For event-driven feature tables: an as-of lookup (latest row on or before t) of this
    frame gives exactly ``age_anchor`` at t. The anchor becomes the first event on that
    event's day (when the fallback is on and the founding date is missing or later), and
    the founding date on the founding day.
    """
    founded = np.asarray(founded, dtype="datetime64[ns]")
    first_event = np.asarray(first_event, dtype="datetime64[ns]")
    ids = np.asarray(org_ids, dtype=object)
    has_founding = ~np.isnat(founded)
    # ``founded > first_event`` is False when founded is NaT, hence the explicit isnat.
    early = (
        ~np.isnat(first_event) & (~has_founding | (first_event < founded))
        if fallback
        else np.zeros(len(ids), dtype=bool)
    )
    frames = [
        pd.DataFrame(
            {
                "org_id": ids[early],
                DAY: first_event[early],
                "age_anchor_day": first_event[early],
            }
        ),
        pd.DataFrame(
            {
                "org_id": ids[has_founding],
                DAY: founded[has_founding],
                "age_anchor_day": founded[has_founding],
            }
        ),
    ]
    out = pd.concat(frames, ignore_index=True)
    out[DAY] = out[DAY].astype("datetime64[ns]")
    out["age_anchor_day"] = out["age_anchor_day"].astype("datetime64[ns]")
    return out.sort_values(["org_id", DAY], kind="stable").reset_index(drop=True)
