"""What the chain after the feature build reads from a snapshot, and nothing more.

Once the feature tables are built and applied, ``talentmap retrain``'s train step
(training rows, labels, candidates, evaluation, the fairness audit), the MLflow logging
and the publish step (batch ranking, founders file) read only a few columns of the
snapshot's tables. Holding every table in full through those steps cost about 4-5 GB at
one million organisations (issue 10 §2), most of it in tables the chain reads only for
each organisation's first dated event. ``slim_snapshot`` keeps:

- ``TRAIN_COLUMNS``: the columns read directly, per table (a column the code tests for
  with ``in`` is listed too, so that its presence, and with it the result, is unchanged);
- ``FIRST_EVENT_ONLY``: tables read only through ``features.age.first_event_on`` (the
  age fallback and visibility rules), reduced to each organisation's earliest dated
  row. That function takes a minimum per organisation and ignores undated rows, so the
  minimum of the minima is the same date: results are identical, not approximate.

Tables not listed (``investments``, ``jei_status``) are dropped. The snapshot's table
names are kept (``Snapshot.table_names``): ``metrics.json``'s lineage lists every table
of the snapshot, not the ones the chain still holds. ``tests/unit/test_snapshot_slim.py``
checks the training rows, metrics and predictions against the full tables.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from talentmap.features.age import FIRST_EVENTS
from talentmap.training.pipeline.backtest import Snapshot

# Read by candidates, labels, rows, evaluation, the fairness audit and the batch ranking.
TRAIN_COLUMNS: dict[str, tuple[str, ...]] = {
    "organizations": (
        "org_id",
        "name",
        "founded_on",
        "closed_on",
        "first_seen_on",
        "country",
        "region",
        "city",
        "sector",
    ),
    "funding_rounds": ("org_id", "announced_on", "round_type", "amount_eur"),
    "exits": ("org_id", "exit_kind", "exited_on", "amount_eur"),
    "roles": ("person_id", "org_id", "role", "title", "started_on", "ended_on"),
    "people": ("person_id", "full_name", "gender", "birth_year"),
    "education": ("person_id", "institution", "graduated_on"),
    "opt_outs": ("subject_kind", "subject_id", "since"),
}

# Tables the chain reads only for each organisation's first dated event (their date column).
FIRST_EVENT_ONLY: dict[str, str] = {
    table: column for table, column in FIRST_EVENTS if table not in TRAIN_COLUMNS
}


def slim_tables(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables the post-build chain reads, with only the columns it reads.

    Columns absent from a table stay absent (an optional column the source lacked).
    """
    out: dict[str, pd.DataFrame] = {}
    for table, columns in TRAIN_COLUMNS.items():
        frame = tables.get(table)
        if frame is not None:
            out[table] = frame[[c for c in columns if c in frame.columns]].copy()
    for table, column in FIRST_EVENT_ONLY.items():
        frame = tables.get(table)
        if frame is not None:
            out[table] = first_dated_rows(frame, column)
    return out


def first_dated_rows(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """``[org_id, column]``: each organisation's earliest dated row (undated rows dropped).

    A table without ``org_id`` or the date column is kept as an empty frame of what it
    has, since ``first_event_on`` skips it either way.
    """
    if "org_id" not in frame.columns or column not in frame.columns:
        return frame.iloc[0:0][[c for c in ("org_id", column) if c in frame.columns]].copy()
    pairs = frame[["org_id", column]].dropna()
    first = pairs.groupby("org_id", sort=True)[column].min()
    return pd.DataFrame(
        {
            "org_id": first.index.to_numpy(dtype=object),
            column: first.to_numpy(dtype=frame[column].dtype),
        }
    )


def slim_snapshot(snapshot: Snapshot) -> Snapshot:
    """``snapshot`` with ``slim_tables``' tables; the table names of the full snapshot."""
    return Snapshot(
        snapshot.snapshot_id,
        snapshot.snapshot_date,
        slim_tables(snapshot.tables),
        table_names=snapshot.names(),
    )
