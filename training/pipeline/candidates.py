"""Who is a candidate at as-of date t: the training issue's §1 rule plus visibility (issue 6).

An organisation is a candidate at t when all of these hold:

- it has not opted out (``opt_outs`` with ``subject_kind == "org"``), *at any time*: an
  opt-out applies from the next run on, to everything, including training rows dated
  before it, so ``since`` is deliberately ignored here;
- it is young: ``t - max_age_years < anchor <= t``, where the age anchor at t is the
  founding date when that is on or before t, else (``rules.age_fallback``) its first
  dated event when that is on or before t (``talentmap.features.age``, the rule the
  ``company_age_days`` feature follows too). A founding date after t counts as unknown at
  t when the company already has dated events on or before t (sources correct founding
  dates later), and as "not yet founded" otherwise. A company whose age is unknown at t
  is never a candidate at t;
- it is not closed (``closed_on <= t``) and has not exited (any exit kind, on or before t);
- it has raised no milestone round on or before t (a type in
  ``rules.milestone_round_types`` or an amount of at least ``rules.large_round_eur``);
- it is visible at t (when ``rules.require_visibility``): see ``first_visible_on``.

Every rule reduces to comparing one per-organisation date with t, so the whole
organisations × as-of grid is a handful of numpy broadcasts (100k orgs × 40 dates in
about a second) and never a per-organisation loop.

Each (org, t) that is not a candidate gets exactly one reason, the first failing rule
in ``EXCLUSION_REASONS`` order. ``not_visible`` comes last on purpose: its count is
exactly the number of organisations that would be candidates but for the visibility rule,
which is what ``metrics.json`` reports as "left out as not yet visible".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd

from talentmap.features.age import FIRST_EVENTS, age_anchor, first_event_on, not_yet_founded
from talentmap.settings.training import PromiseRules
from talentmap.training.pipeline.labels import milestone_rounds

DateLike = date | pd.Timestamp | str

CANDIDATE = "candidate"
EXCLUSION_REASONS: tuple[str, ...] = (
    "opted_out",
    "not_yet_founded",  # founded_on after t and no dated event on or before t
    "age_unknown",  # no founding date known at t, and no fallback event on or before t
    "too_old",  # age anchor (founding date, else first event) on or before t - max age
    "closed",
    "exited",
    "milestone_reached",
    "not_visible",
)
STATUSES: tuple[str, ...] = (CANDIDATE, *EXCLUSION_REASONS)

# Dated events that put an organisation on the record (issue 6), the same events that
# anchor its age without a founding date. A founding date is absent on purpose: sources
# back-fill it, so it never makes an organisation visible. Founder roles only, and
# publications by their own org_id only (a founder's paper is about the person).
VISIBILITY_EVENTS: tuple[tuple[str, str], ...] = FIRST_EVENTS


def _as_of_index(as_of: DateLike | Sequence[DateLike]) -> pd.DatetimeIndex:
    """The distinct as-of dates, sorted, at midnight, as datetime64[ns]."""
    values = (
        [as_of] if isinstance(as_of, date | pd.Timestamp | np.datetime64 | str) else list(as_of)
    )
    index = pd.DatetimeIndex([pd.Timestamp(v) for v in values]).normalize()
    return index.astype("datetime64[ns]").unique().sort_values()


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).astype("datetime64[ns]")


def _first_per_org(org_index: pd.Index, org_ids: pd.Series, on: pd.Series) -> np.ndarray:
    """The earliest date per organisation, aligned on ``org_index`` (NaT when none)."""
    first = _dates(on).groupby(org_ids.to_numpy(dtype=object)).min()
    return first.reindex(org_index).to_numpy(dtype="datetime64[ns]")


def first_visible_on(
    tables: Mapping[str, pd.DataFrame], first_event: pd.Series | None = None
) -> pd.Series:
    """The date from which each organisation is visible, indexed by org_id (NaT: never).

    ``organizations.first_seen_on`` wins where the column exists and is filled: when a
    source says it first recorded a company in 2020, a round it back-filled to 2018 did
    not make the company visible in 2019. Where the column is absent, or null for an
    organisation, the earliest of its dated events (``VISIBILITY_EVENTS``) is used.
    """
    orgs = tables["organizations"]
    if first_event is None:
        first_event = first_event_on(tables)
    org_index = first_event.index
    visible = first_event.to_numpy(dtype="datetime64[ns]")
    if "first_seen_on" in orgs:
        seen = _dates(orgs["first_seen_on"]).to_numpy(dtype="datetime64[ns]")
        visible = np.where(np.isnat(seen), visible, seen)
    return pd.Series(visible, index=org_index, name="visible_from")


def visible_on(
    tables: Mapping[str, pd.DataFrame], as_of: DateLike | Sequence[DateLike]
) -> pd.DataFrame:
    """``[org_id, as_of, visible]`` for every organisation and as-of date."""
    dates = _as_of_index(as_of)
    since = first_visible_on(tables)
    grid = since.to_numpy()[None, :] <= dates.to_numpy()[:, None]  # NaT compares False
    return pd.DataFrame(
        {
            "org_id": np.tile(since.index.to_numpy(dtype=object), len(dates)),
            "as_of": np.repeat(dates.to_numpy(), len(since)),
            "visible": grid.ravel(),
        }
    )


def candidate_status(
    tables: Mapping[str, pd.DataFrame],
    as_of: DateLike | Sequence[DateLike],
    rules: PromiseRules | None = None,
) -> pd.DataFrame:
    """``[org_id, as_of, status, age_fallback]`` for every organisation × as-of date.

    ``status`` is categorical over ``STATUSES``: ``"candidate"`` or the first failing
    rule (see the module docstring). ``age_fallback`` is True where the age at t is
    counted from the first dated event rather than the founding date. Rows are sorted by
    as_of, then organisations in their table order.
    """
    rules = rules or PromiseRules()
    dates = _as_of_index(as_of)
    orgs = tables["organizations"]
    org_index = pd.Index(orgs["org_id"].to_numpy(dtype=object), name="org_id")
    exits = tables.get("exits")

    def col(name: str) -> np.ndarray:
        if name not in orgs:
            return np.full(len(orgs), np.datetime64("NaT"), dtype="datetime64[ns]")
        return _dates(orgs[name]).to_numpy(dtype="datetime64[ns]")

    founded = col("founded_on")
    events = first_event_on(tables)
    first_event = events.to_numpy(dtype="datetime64[ns]")
    closed = col("closed_on")
    exited = (
        _first_per_org(org_index, exits["org_id"], exits["exited_on"])
        if exits is not None and len(exits)
        else np.full(len(orgs), np.datetime64("NaT"), dtype="datetime64[ns]")
    )
    milestones = milestone_rounds(tables, rules)
    milestone = _first_per_org(org_index, milestones["org_id"], milestones["on"])
    opted_out = _opted_out(tables, org_index)
    visible_from = first_visible_on(tables, events).to_numpy()

    # Rows: as-of dates; columns: organisations. NaT compares False both ways, which is
    # what every rule below wants (an unknown closing date does not close a company).
    t = dates.to_numpy()[:, None]
    oldest = np.array(
        [d - pd.DateOffset(years=rules.max_age_years) for d in dates], dtype="datetime64[ns]"
    )[:, None]
    shape = (len(dates), len(org_index))
    born, from_fallback = age_anchor(founded[None, :], first_event[None, :], t, rules.age_fallback)
    conditions = [
        np.broadcast_to(opted_out[None, :], shape),
        not_yet_founded(founded[None, :], first_event[None, :], t),
        np.isnat(born),
        born <= oldest,
        closed[None, :] <= t,
        exited[None, :] <= t,
        milestone[None, :] <= t,
        (
            ~(visible_from[None, :] <= t)
            if rules.require_visibility
            else np.zeros(shape, dtype=bool)
        ),
    ]
    codes = np.select(conditions, np.arange(1, len(STATUSES), dtype=np.int8), default=0)
    return pd.DataFrame(
        {
            "org_id": np.tile(org_index.to_numpy(dtype=object), len(dates)),
            "as_of": np.repeat(dates.to_numpy(), len(org_index)),
            "status": pd.Categorical.from_codes(codes.ravel(), categories=list(STATUSES)),
            "age_fallback": np.broadcast_to(from_fallback, shape).ravel(),
        }
    )


def _opted_out(tables: Mapping[str, pd.DataFrame], org_index: pd.Index) -> np.ndarray:
    opt_outs = tables.get("opt_outs")
    if opt_outs is None or len(opt_outs) == 0:
        return np.zeros(len(org_index), dtype=bool)
    ids = opt_outs.loc[opt_outs["subject_kind"] == "org", "subject_id"]
    return org_index.isin(ids.to_numpy(dtype=object))


def candidates(
    tables: Mapping[str, pd.DataFrame],
    as_of: DateLike | Sequence[DateLike],
    rules: PromiseRules | None = None,
) -> pd.DataFrame:
    """The candidates, as an entity frame ``[org_id, as_of]`` (as_of datetime64[ns])."""
    status = candidate_status(tables, as_of, rules)
    picked = status.loc[status["status"] == CANDIDATE, ["org_id", "as_of"]]
    return picked.reset_index(drop=True)


def exclusion_counts(status: pd.DataFrame) -> pd.DataFrame:
    """Per as-of date, how many organisations got each status (``candidate_status``).

    One row per as-of date (the index), one int64 column per entry of ``STATUSES``,
    zeros included, so ``counts.loc[t, "not_visible"]`` always exists.
    """
    counts = status.groupby(["as_of", "status"], observed=False).size().unstack("status")
    counts = counts.reindex(columns=list(STATUSES), fill_value=0).astype("int64")
    counts.columns.name = None
    return counts
