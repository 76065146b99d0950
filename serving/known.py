"""The organisations ``/score`` may answer: the published ``known.arrow`` column, mapped.

A million ids as a Python ``frozenset`` cost a worker about half a second and 100 MB at
every load; the column is already in memory (mapped), so membership is asked of it
directly: one scan per question, for one id or a whole ``/score`` batch. Ids removed at
run time (forget) are kept beside it in a small set.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


class KnownIds:
    """A read-only set of org ids over an Arrow string column, minus ``removed``."""

    def __init__(self, column: Any, removed: frozenset[str] = frozenset()) -> None:
        self._column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        self._removed = removed

    def __contains__(self, org_id: object) -> bool:
        if not isinstance(org_id, str) or org_id in self._removed:
            return False
        return bool(pc.index(self._column, org_id).as_py() >= 0)

    def __sub__(self, other: Iterable[str]) -> KnownIds:
        return KnownIds(self._column, self._removed | frozenset(other))

    def among(self, org_ids: Iterable[str]) -> frozenset[str]:
        """Those of ``org_ids`` in the set (one scan of the column)."""
        wanted = [o for o in dict.fromkeys(org_ids) if o not in self._removed]
        if not wanted:
            return frozenset()
        hits = pc.is_in(pa.array(wanted, type=pa.string()), value_set=self._column)
        return frozenset(o for o, hit in zip(wanted, hits.to_pylist(), strict=True) if hit)

    def any_one(self) -> str | None:
        for start in range(0, len(self._column), 1024):
            for org_id in self._column.slice(start, 1024).to_pylist():
                if org_id is not None and org_id not in self._removed:
                    return org_id
        return None


def known_among(known: Any, org_ids: Iterable[str]) -> frozenset[str]:
    """Those of ``org_ids`` that ``known`` (a ``KnownIds`` or a plain set) holds."""
    if isinstance(known, KnownIds):
        return known.among(org_ids)
    return frozenset(o for o in org_ids if o in known)


def any_known(known: Any) -> str | None:
    """One id of ``known`` (the online-store probe reads it), None when empty."""
    if isinstance(known, KnownIds):
        return known.any_one()
    return min(known) if known else None
