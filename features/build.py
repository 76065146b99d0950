"""``build_feature_tables``: typed tables in, one event-driven table per family out.

A pure function: no I/O, no clock. Each output row is (entity key, ``event_timestamp``,
values) where ``event_timestamp`` is an event day at midnight UTC and every value is
computed from events dated on or before that day. Rows after the snapshot date (e.g. a
posting leaving its 90-day window later) are dropped: they are not yet known.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pandas as pd

from talentmap.features.catalog import EVENT_TS, FAMILIES
from talentmap.features.events import DAY
from talentmap.features.family_founders import build_founders
from talentmap.features.family_funding import build_funding
from talentmap.features.family_hiring import build_hiring
from talentmap.features.family_profile import build_profile
from talentmap.features.family_programs import build_programs
from talentmap.features.family_research import build_person_research, build_research
from talentmap.features.family_team import build_team
from talentmap.features.prepare import Prepared, prepare

BUILDERS: dict[str, Callable[[Prepared], pd.DataFrame]] = {
    "profile": build_profile,
    "funding": build_funding,
    "team": build_team,
    "hiring": build_hiring,
    "programs": build_programs,
    "research": build_research,
    "founders": build_founders,
    "person_research": build_person_research,
}
REQUIRED_TABLES = ("organizations", "funding_rounds")


def finalize(frame: pd.DataFrame, family: str, snapshot: pd.Timestamp) -> pd.DataFrame:
    """Clip to the snapshot, stamp UTC midnight, fix column order and dtypes."""
    spec = FAMILIES[family]
    frame = frame[frame[DAY].notna() & (frame[DAY] <= snapshot)]
    out = pd.DataFrame(
        {
            spec.key: frame[spec.key].astype(object).to_numpy(),
            EVENT_TS: pd.DatetimeIndex(frame[DAY].to_numpy()).tz_localize("UTC"),
        }
    )
    for column in spec.strings:
        values = frame[column].to_numpy(dtype=object)
        out[column] = pd.Series(values, dtype=object).where(pd.notna(values), None)
    for column in spec.numeric:
        out[column] = frame[column].to_numpy(dtype="float64")
    out = out.sort_values([spec.key, EVENT_TS], kind="stable").reset_index(drop=True)
    return out


def build_feature_tables(
    tables: dict[str, pd.DataFrame], snapshot_date: date
) -> dict[str, pd.DataFrame]:
    """One event-driven feature table per family (see ``catalog.FAMILIES``)."""
    missing = [name for name in REQUIRED_TABLES if name not in tables]
    if missing:
        raise ValueError(f"required tables missing: {', '.join(missing)}")
    prepared = prepare(tables, snapshot_date)
    return {
        family: finalize(builder(prepared), family, prepared.snapshot)
        for family, builder in BUILDERS.items()
    }
