"""Referential integrity: dangling references, and the cascade of rejected parents.

A reference (``contract.FOREIGN_KEYS``) must name a row of its parent table. When rows are
set aside, their children must go too, or what is kept would dangle; ``cascade_rejections`` repeats
that until nothing changes (rounds of a rejected organisation, then their investments).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from talentmap.contract import FOREIGN_KEYS, ForeignKey
from talentmap.validate_problems import empty_with_table, quoted


def foreign_key(tables: dict[str, pd.DataFrame], fk: ForeignKey) -> pd.DataFrame:
    """Rows of ``fk.table`` whose reference is not found in the parent table."""
    child = tables.get(fk.table)
    if child is None or fk.column not in child.columns:
        return empty_with_table()
    refs = child[fk.column]
    applies = refs.notna()
    if fk.when is not None:
        when_column, when_value = fk.when
        if when_column not in child.columns:
            return empty_with_table()
        applies &= child[when_column].eq(when_value)
    parent = tables.get(fk.parent)
    if parent is not None and fk.parent_column in parent.columns:
        dangling = applies & ~refs.isin(parent[fk.parent_column].dropna())
        message = f"not found in {fk.parent}.{fk.parent_column}"
    else:
        dangling = applies
        message = f"not found: table {fk.parent} is absent"
    positions = np.flatnonzero(dangling.to_numpy(dtype=bool))
    if not positions.size:
        return empty_with_table()
    return pd.DataFrame(
        {
            "table": fk.table,
            "pos": positions,
            "column": fk.column,
            "value": refs.iloc[positions].to_numpy(),
            "rule": "foreign_key",
            "message": message,
        }
    )


def cascade_rejections(
    tables: dict[str, pd.DataFrame], reasons: dict[str, pd.Series]
) -> pd.DataFrame:
    """Reject rows whose parent row is rejected, until stable (mutates ``reasons``).

    Returns the cascaded rows as a problem frame (rule ``parent_rejected``, the reference
    column and its value), so that they can be reported like any other problem.
    """
    found = []
    changed = True
    while changed:
        changed = False
        for fk in FOREIGN_KEYS:
            added = _orphans(fk, tables, reasons)
            if added is not None:
                text = (
                    f"parent_rejected: {fk.column}="
                    + quoted(added["value"])
                    + f" refers to a rejected {fk.parent} row"
                )
                new = pd.Series(text.to_numpy(), index=pd.Index(added["pos"], name="pos"), name="r")
                previous = reasons.get(fk.table)
                merged = new if previous is None else pd.concat([previous, new]).sort_index()
                reasons[fk.table] = merged
                found.append(added)
                changed = True
    if not found:
        return empty_with_table()
    return pd.concat(found, ignore_index=True)


def _orphans(
    fk: ForeignKey, tables: dict[str, pd.DataFrame], reasons: dict[str, pd.Series]
) -> pd.DataFrame | None:
    child, parent = tables.get(fk.table), tables.get(fk.parent)
    rejected_parent = reasons.get(fk.parent)
    if child is None or parent is None or rejected_parent is None or not len(rejected_parent):
        return None
    if fk.column not in child.columns or fk.parent_column not in parent.columns:
        return None
    ids = parent[fk.parent_column]
    kept = np.ones(len(parent), dtype=bool)
    kept[rejected_parent.index.to_numpy(dtype=np.int64)] = False
    gone = ids[~kept].dropna()
    gone = gone[~gone.isin(ids[kept].dropna())].unique()
    if not len(gone):
        return None
    refs = child[fk.column]
    hit = refs.isin(gone).to_numpy(dtype=bool)
    if fk.when is not None:
        hit &= child[fk.when[0]].eq(fk.when[1]).to_numpy(dtype=bool)
    already = reasons.get(fk.table)
    if already is not None:
        hit[already.index.to_numpy(dtype=np.int64)] = False
    positions = np.flatnonzero(hit)
    if not positions.size:
        return None
    return pd.DataFrame(
        {
            "table": fk.table,
            "pos": positions.astype(np.int64),
            "column": fk.column,
            "value": refs.iloc[positions].astype(object).to_numpy(),
            "rule": "parent_rejected",
            "message": f"refers to a {fk.parent} row that was set aside",
        }
    )
