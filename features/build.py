"""``build_feature_tables``: typed tables in, one event-driven table per family out.

A pure function: no I/O, no clock. Each output row is (entity key, ``event_timestamp``,
values) where ``event_timestamp`` is an event day at midnight UTC and every value is
computed from events dated on or before that day. Rows after the snapshot date (e.g. a
posting leaving its 90-day window later) are dropped: they are not yet known.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from datetime import date

import pandas as pd

from talentmap.features.catalog import EVENT_TS, FAMILIES, Family
from talentmap.features.events import DAY
from talentmap.features.prepare import Prepared, prepare
from talentmap.settings.training import PromiseRules

Builder = Callable[[Prepared], pd.DataFrame]


def _builder(spec: Family) -> Builder:
    module = importlib.import_module(spec.builder_module)
    try:
        return getattr(module, spec.builder_name)
    except AttributeError:
        raise ImportError(
            f"family {spec.name!r}: {spec.builder_module} defines no {spec.builder_name}"
        ) from None


# Resolved once, on import, so that a catalogue entry without its builder fails at once.
BUILDERS: dict[str, Builder] = {name: _builder(spec) for name, spec in FAMILIES.items()}
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
    tables: dict[str, pd.DataFrame], snapshot_date: date, rules: PromiseRules | None = None
) -> dict[str, pd.DataFrame]:
    """One event-driven feature table per family (see ``catalog.FAMILIES``).

    ``rules`` are the run's training rules (default: ``PromiseRules()``): what a milestone
    is for the investors family, and the candidate rule's age fallback, so that the
    company age the model reads is the age the candidate filter judged.
    """
    return dict(iter_feature_tables(tables, snapshot_date, rules))


def iter_feature_tables(
    tables: dict[str, pd.DataFrame], snapshot_date: date, rules: PromiseRules | None = None
) -> Iterator[tuple[str, pd.DataFrame]]:
    """``build_feature_tables``, one family at a time (same tables, same order).

    A caller that writes each table as it comes (the retrain chain) holds one family's
    table at a time instead of all of them: on a large world the feature tables together
    are about twice the size of the lake tables they come from.
    """
    missing = [name for name in REQUIRED_TABLES if name not in tables]
    if missing:
        raise ValueError(f"required tables missing: {', '.join(missing)}")
    prepared = prepare(tables, snapshot_date, rules)
    for family, builder in BUILDERS.items():
        yield family, finalize(builder(prepared), family, prepared.snapshot)
