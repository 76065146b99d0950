"""The in-memory ranking: every current candidate scored once, then only filtered per request.

A ``Ranking`` is immutable. The service holds one reference to the current ranking and
replaces it with a single attribute assignment, so a request that took the reference at
its start sees one model, one feature snapshot and one candidate set from start to end,
whatever reload happens meanwhile.

Storage (issue 10): an Arrow table in rank order — for a published ranking, the
retrain chain's memory-mapped ``ranking.arrow`` itself, never copied — plus ``view``, the
table rows served (ascending, so rank order; every row when nothing was removed on read).
Opt-outs and forgets remove rows from the view, not from the file. Nothing per row is
built in Python at load: the indexes a request needs (map region and sector codes, the
founders' placement, per-filter row lists, scores and dates as numpy arrays) are built on
first use, once per ranking, under a lock, or ahead of it by ``warm()`` (the service calls
it in the background right after it becomes ready). So a million-candidate ranking is
served a few milliseconds after its file is mapped; the first filtered request pays for
its own index if ``warm`` has not built it yet. Indexes that depend on the file only (not on
the view) are shared by every ranking derived from it with ``without``.

Reasons (TreeSHAP contributions in plain words) are read from the file for its top N, and
computed for the others on first request (from ``features`` or ``fetch_features``); that
memo is keyed by org id and shared by the rankings derived from one another.

Opt-outs (GDPR) are applied here, whatever the caller did before: an opted-out
organisation is never ranked, an opted-out person never appears among the founders.
``without`` derives a new ranking with more subjects removed, for ``forget``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from talentmap.serving.regions import map_region
from talentmap.training.pipeline import ranking_file

if TYPE_CHECKING:  # LightGBM, scikit-learn and pandas are not needed to serve a file
    import pandas as pd

    from talentmap.training.model.estimator import PromiseModel

N_REASONS = 3
_EMPTY = np.empty(0, dtype=np.int64)
Founder = tuple[str, str, str]  # (person_id, name, role); the id is never served
ReasonDict = dict[str, Any]
# What a ranking table holds (the published file's first columns; reasons are optional).
COLUMNS = ("org_id", "name", "country", "region", "city", "sector", "founded_on", "score")


@dataclass(frozen=True)
class RankingLineage:
    """What a shortlist can be traced back to."""

    model_name: str
    model_version: str
    run_id: str | None
    feature_snapshot_id: str | None
    lake_snapshot_id: str | None
    as_of: date
    ranking_id: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "run_id": self.run_id,
            "feature_snapshot_id": self.feature_snapshot_id,
            "as_of": self.as_of.isoformat(),
            "ranking_id": self.ranking_id,
        }


@dataclass(frozen=True)
class OptOuts:
    """Subjects that must never be served (``opt_outs`` plus anything forgotten live)."""

    org_ids: frozenset[str] = frozenset()
    person_ids: frozenset[str] = frozenset()

    @classmethod
    def from_table(cls, opt_outs: pd.DataFrame | None) -> OptOuts:
        if opt_outs is None or opt_outs.empty:
            return cls()
        kind = opt_outs["subject_kind"].astype(str)
        ids = opt_outs["subject_id"].astype(str)
        return cls(frozenset(ids[kind == "org"]), frozenset(ids[kind == "person"]))

    def union(self, other: OptOuts) -> OptOuts:
        return OptOuts(self.org_ids | other.org_ids, self.person_ids | other.person_ids)


class _ReasonMemo:
    """org_id -> reasons, filled lazily; shared by rankings that share model and features."""

    def __init__(self) -> None:
        self._done: dict[str, tuple[ReasonDict, ...]] = {}
        self._lock = threading.Lock()

    def get(self, org_id: str) -> tuple[ReasonDict, ...] | None:
        return self._done.get(org_id)

    def put_many(self, items: Mapping[str, tuple[ReasonDict, ...]]) -> None:
        # Every reason held carries its text in each language, whoever produced it: the
        # model (reason_dict) or a published file, whose reasons are stored in English.
        ready = {org: tuple(with_texts(r) for r in reasons) for org, reasons in items.items()}
        with self._lock:
            self._done.update(ready)

    def __len__(self) -> int:
        return len(self._done)

    def __getstate__(self) -> dict[str, Any]:  # locks do not pickle; the memo does
        return {"done": dict(self._done)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._done = dict(state["done"])
        self._lock = threading.Lock()


def _frozen(values: Any, dtype: Any = None) -> np.ndarray:
    array = np.asarray(values, dtype=dtype)
    array.setflags(write=False)
    return array


def with_texts(reason: ReasonDict) -> ReasonDict:
    """``reason`` plus ``texts`` ({"en": text, "fr": ...}), worded from its structured parts.

    ``text`` stays the English sentence (API clients rely on it); ``texts`` lets the web
    page show the reason in its own language. Reasons read from a published ranking file
    (any format version: they hold feature, value, contribution, text) get it here.
    """
    if "texts" in reason:
        return reason
    from talentmap.training.model.wording import localised_texts

    texts = localised_texts(
        reason["feature"], reason["value"], reason["contribution"], reason.get("text")
    )
    return {**reason, "texts": texts}


def reason_dict(reason: Any) -> ReasonDict:
    value = reason.value
    if isinstance(value, float) and not np.isfinite(value):
        value = None
    return with_texts(
        {
            "feature": reason.feature,
            "value": value,
            "contribution": round(float(reason.contribution), 6),
            "text": reason.text,
        }
    )


def _flat(column: Any) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _pick(column: Any, rows: Sequence[int] | np.ndarray) -> list[Any]:
    """``column``'s values at ``rows`` as Python objects, chunk by chunk.

    ``take`` on a many-chunk column (a mapped file is one chunk per record batch) first
    concatenates the chunks, milliseconds each time at a million rows; here each chunk
    holding a wanted row is asked for its rows only.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if not isinstance(column, pa.ChunkedArray):
        return column.take(pa.array(rows, type=pa.int64())).to_pylist()
    if column.num_chunks == 1:
        return column.chunk(0).take(pa.array(rows, type=pa.int64())).to_pylist()
    starts = np.cumsum([0, *(len(c) for c in column.chunks)])
    which = np.searchsorted(starts, rows, side="right") - 1
    out: list[Any] = [None] * len(rows)
    for c in np.unique(which).tolist():
        at = np.flatnonzero(which == c)
        local = pa.array(rows[at] - starts[c], type=pa.int64())
        for i, value in zip(at.tolist(), column.chunk(c).take(local).to_pylist(), strict=True):
            out[i] = value
    return out


def _codes(column: Any) -> tuple[np.ndarray, list[Any]]:
    """(int code per row, the distinct values); null rows get code ``len(values)``."""
    encoded = _flat(column).dictionary_encode()
    values = encoded.dictionary.to_pylist()
    codes = pc.fill_null(encoded.indices, len(values)).to_numpy(zero_copy_only=False)
    return codes.astype(np.int64, copy=False), values


class _BuiltOnce:
    """Values built on first use, once, under a lock (a million-row index must not be
    built twice by two requests arriving together), then read without it."""

    def _start_once(self) -> None:
        self._lock = threading.RLock()
        self._done: dict[str, Any] = {}

    def _once(self, name: str, build: Callable[[], Any]) -> Any:
        found = self._done.get(name)
        if found is None:
            with self._lock:
                found = self._done.get(name)
                if found is None:
                    found = build()
                    self._done[name] = found
        return found


class _FileIndex(_BuiltOnce):
    """What depends on the ranking table and founders only, not on what was removed from
    the view: built on first use, shared by every ranking derived from one another."""

    def __init__(self, table: pa.Table, founders: pa.Table) -> None:
        self.table = table
        self.founders = founders
        self._start_once()

    def column(self, name: str) -> pa.Array:
        return self._once(f"col:{name}", lambda: _flat(self.table.column(name)))

    def scores(self) -> np.ndarray:
        return self._once(
            "scores",
            lambda: _frozen(self.column("score").to_numpy(zero_copy_only=False), np.float64),
        )

    def founded_on(self) -> np.ndarray:
        def build() -> np.ndarray:
            column = pc.cast(self.column("founded_on"), pa.timestamp("ns"))
            return _frozen(column.to_numpy(zero_copy_only=False), "datetime64[ns]")

        return self._once("founded_on", build)

    def regions(self) -> tuple[np.ndarray, list[str | None]]:
        """(map region code per file row, the names; code -> None name = on no tile).

        ``map_region`` runs once per distinct (country, region) pair, not per row.
        """

        def build() -> tuple[np.ndarray, list[str | None]]:
            countries, country_values = _codes(self.column("country"))
            regions, region_values = _codes(self.column("region"))
            width = len(region_values) + 1
            pairs, inverse = np.unique(countries * width + regions, return_inverse=True)
            names: list[str | None] = []
            for pair in pairs.tolist():
                c, r = divmod(pair, width)
                country = country_values[c] if c < len(country_values) else None
                region = region_values[r] if r < len(region_values) else None
                names.append(map_region(country, region))
            distinct = sorted({n for n in names if n is not None})
            code_of = {n: i for i, n in enumerate(distinct)}
            pair_code = np.array(
                [code_of[n] if n is not None else len(distinct) for n in names], dtype=np.int64
            )
            return _frozen(pair_code[inverse.reshape(-1)]), [*distinct, None]

        return self._once("regions", build)

    def sectors(self) -> tuple[np.ndarray, list[str | None]]:
        def build() -> tuple[np.ndarray, list[str | None]]:
            codes, values = _codes(self.column("sector"))
            return _frozen(codes), [*(str(v) for v in values), None]

        return self._once("sectors", build)

    def founder_places(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(founder table rows grouped by the file row of their organisation, in the
        file's founder order; the file row of each; where each file row's group starts)."""

        def build() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            n = self.table.num_rows
            if self.founders.num_rows == 0 or n == 0:
                return _EMPTY, _EMPTY, np.zeros(n + 1, dtype=np.int64)
            where = pc.index_in(
                _flat(self.founders.column("org_id")), value_set=self.column("org_id")
            )
            at = pc.fill_null(where, -1).to_numpy(zero_copy_only=False).astype(np.int64)
            order = np.argsort(at, kind="stable")
            at = at[order]
            first = int(np.searchsorted(at, 0))  # founders of organisations not ranked: gone
            order, at = order[first:], at[first:]
            starts = np.searchsorted(at, np.arange(n + 1), side="left")
            return _frozen(order), _frozen(at), _frozen(starts)

        return self._once("founders", build)

    def founders_sorted(self) -> bool:
        """Whether the founders are grouped in ascending org id order (the retrain chain
        writes them so): then an organisation's founders are found by binary search,
        with no index to build."""

        def build() -> bool:
            ids = self.founder_ids()
            if len(ids) < 2:
                return True
            if ids.null_count:
                return False
            ordered = pc.less_equal(ids.slice(0, len(ids) - 1), ids.slice(1))
            return bool(pc.all(ordered).as_py())

        return self._once("founders_sorted", build)

    def founder_ids(self) -> pa.Array:
        return self._once("founder_ids", lambda: _flat(self.founders.column("org_id")))

    def _founder_span(self, ids: pa.Array, org_id: str) -> tuple[int, int]:
        """[start, end) of ``org_id``'s founders in the sorted founder column."""
        lo, hi = 0, len(ids)
        while lo < hi:  # first position whose id is >= org_id
            mid = (lo + hi) // 2
            if ids[mid].as_py() < org_id:
                lo = mid + 1
            else:
                hi = mid
        end = lo
        while end < len(ids) and ids[end].as_py() == org_id:
            end += 1
        return lo, end

    def founders_of(self, file_rows: np.ndarray) -> list[list[Founder]]:
        """The founders of each file row (opted-out persons not yet removed)."""
        if self.founders.num_rows == 0:
            return [[] for _ in file_rows]
        if "founders" not in self._done and self.founders_sorted():
            ids = self.founder_ids()
            orgs = _pick(self.table.column("org_id"), file_rows)
            picked = [np.arange(*self._founder_span(ids, org)) for org in orgs]
        else:
            order, _, starts = self.founder_places()
            picked = [order[starts[r] : starts[r + 1]] for r in file_rows]
        flat = np.concatenate(picked) if picked else _EMPTY
        people = list(
            zip(
                *(_pick(self.founders.column(c), flat) for c in ("person_id", "name", "role")),
                strict=True,
            )
        )
        out, at = [], 0
        for part in picked:
            out.append(people[at : at + len(part)])
            at += len(part)
        return out

    def file_rows_of(self, org_ids: Sequence[str]) -> dict[str, int]:
        """org id -> file row, for the ids present (one scan of the column)."""
        if not org_ids or self.table.num_rows == 0:
            return {}
        wanted = pa.array(list(dict.fromkeys(org_ids)), type=pa.string())
        hits = pc.index_in(self.column("org_id"), value_set=wanted)
        rows = np.flatnonzero(pc.is_valid(hits).to_numpy(zero_copy_only=False))
        positions = pc.take(hits, pa.array(rows, type=pa.int64())).to_pylist()
        names = wanted.to_pylist()
        return {names[p]: int(r) for p, r in zip(positions, rows.tolist(), strict=True)}

    def stored_reasons(self, file_rows: Sequence[int]) -> list[tuple[ReasonDict, ...] | None]:
        """The reasons the file holds for these rows (None where it holds none)."""
        if not all(c in self.table.column_names for c in ranking_file.REASON_COLUMNS):
            return [None] * len(file_rows)
        stored = [_pick(self.table.column(c), file_rows) for c in ranking_file.REASON_COLUMNS]
        out: list[tuple[ReasonDict, ...] | None] = []
        for texts in zip(*stored, strict=True):
            found = tuple(json.loads(t) for t in texts if t is not None)
            out.append(found or None)
        return out


class Ranking(_BuiltOnce):
    """All current candidates in rank order, with what a shortlist row shows.

    Immutable: derived rankings (``without``) are new objects; the lazily built arrays
    are caches of pure functions of the table and view.
    """

    def __init__(
        self,
        lineage: RankingLineage,
        model: PromiseModel | Callable[[], PromiseModel] | None,
        base: _FileIndex,
        view: np.ndarray | None,
        opt_outs: OptOuts,
        memo: _ReasonMemo,
        features: pd.DataFrame | None = None,
        fetch_features: Callable[[list[str]], pd.DataFrame] | None = None,
    ) -> None:
        self.lineage = lineage
        self._model = model
        self._base = base
        self._view = None if view is None else _frozen(view, np.int64)
        self.opt_outs = opt_outs
        self._reasons = memo
        # model inputs in file row order (computed rankings); None for a published ranking,
        # whose reasons below the stored top N come from ``fetch_features``
        self.features = features
        self.fetch_features = fetch_features
        self._start_once()

    # ------------------------------------------------------------------ plumbing

    def _file_rows(self, rows: Any) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        return rows if self._view is None else self._view[rows]

    def _viewed(self, values: np.ndarray) -> np.ndarray:
        return values if self._view is None else _frozen(values[self._view])

    def __getstate__(self) -> dict[str, Any]:  # the benchmark pickles a ranking
        return {
            "lineage": self.lineage,
            "model": self.model if self._model is not None else None,
            "table": self._base.table,
            "founders": self._base.founders,
            "view": self._view,
            "opt_outs": self.opt_outs,
            "memo": self._reasons,
            "features": self.features,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["lineage"],
            state["model"],
            _FileIndex(state["table"], state["founders"]),
            state["view"],
            state["opt_outs"],
            state["memo"],
            state["features"],
        )

    @property
    def model(self) -> PromiseModel:
        """The model behind the scores (loaded on first use when given as a loader)."""
        source = self._model
        if source is None:
            raise RuntimeError("this ranking has no model")
        if callable(source) and not hasattr(source, "predict_proba"):
            return source()
        return source  # type: ignore[return-value]

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return self._base.table.num_rows if self._view is None else len(self._view)

    @property
    def ranking_id(self) -> str:
        return self.lineage.ranking_id

    @property
    def scores(self) -> np.ndarray:  # float64, non-increasing
        return self._once("scores", lambda: self._viewed(self._base.scores()))

    @property
    def founded_on(self) -> np.ndarray:  # datetime64[ns], NaT = unknown
        return self._once("founded_on", lambda: self._viewed(self._base.founded_on()))

    def _text(self, name: str) -> np.ndarray:
        def build() -> np.ndarray:
            column = self._base.column(name)
            if self._view is not None:
                column = column.take(pa.array(self._view, type=pa.int64()))
            return _frozen(column.to_numpy(zero_copy_only=False), object)

        return self._once(f"text:{name}", build)

    @property
    def org_ids(self) -> np.ndarray:  # object, rank order
        return self._text("org_id")

    @property
    def names(self) -> np.ndarray:
        def build() -> np.ndarray:
            names = self._text("name")
            missing = np.array([n is None for n in names], dtype=bool)
            return _frozen(np.where(missing, self.org_ids, names), object)

        return self._once("names", build)

    @property
    def cities(self) -> np.ndarray:
        return self._text("city")

    @property
    def sectors(self) -> np.ndarray:
        return self._text("sector")

    @property
    def countries(self) -> np.ndarray:
        return self._text("country")

    def _region_codes(self) -> np.ndarray:
        return self._once("region_codes", lambda: self._viewed(self._base.regions()[0]))

    def _sector_codes(self) -> np.ndarray:
        return self._once("sector_codes", lambda: self._viewed(self._base.sectors()[0]))

    @property
    def regions(self) -> np.ndarray:  # map region or None
        def build() -> np.ndarray:
            names = np.array(self._base.regions()[1], dtype=object)
            return _frozen(names[self._region_codes()], object)

        return self._once("regions", build)

    @property
    def founders(self) -> tuple[tuple[Founder, ...], ...]:
        """Every row's founders (built in Python: for small rankings and tests only)."""
        teams = self.founders_of(np.arange(len(self)))
        return tuple(tuple(t) for t in teams)

    def founders_of(self, rows: Sequence[int] | np.ndarray) -> list[list[Founder]]:
        """(person_id, name, role) of each row's founders, opted-out persons left out."""
        teams = self._base.founders_of(self._file_rows(rows))
        hidden = self.opt_outs.person_ids
        if hidden:
            teams = [[f for f in team if f[0] not in hidden] for team in teams]
        return teams

    def founder_count(self) -> int:
        """How many founders the rows show in all (for ``forget``'s count)."""
        order, at, _ = self._base.founder_places()
        if not len(order):
            return 0
        if self._view is None:
            shown = np.ones(len(order), dtype=bool)
        else:
            live = np.zeros(self._base.table.num_rows, dtype=bool)
            live[self._view] = True
            shown = live[at]
        hidden = self.opt_outs.person_ids
        if hidden:
            person = _flat(self._base.founders.column("person_id")).take(
                pa.array(order, type=pa.int64())
            )
            gone = pc.is_in(person, value_set=pa.array(sorted(hidden), type=pa.string()))
            shown &= ~pc.fill_null(gone, False).to_numpy(zero_copy_only=False)
        return int(shown.sum())

    def rows_of(self, org_ids: Sequence[str]) -> dict[str, int]:
        """org id -> row (rank - 1) for the ids ranked here (one scan of the ids)."""
        found = self._base.file_rows_of(org_ids)
        if self._view is None or not found:
            return found
        out = {}
        for org, file_row in found.items():
            at = int(np.searchsorted(self._view, file_row))
            if at < len(self._view) and self._view[at] == file_row:
                out[org] = at
        return out

    def row_of(self, org_id: str) -> int | None:
        return self.rows_of([org_id]).get(org_id)

    def rank_of(self, org_id: str) -> int | None:
        row = self.row_of(org_id)
        return None if row is None else row + 1

    def _ascending(self) -> np.ndarray:
        # scores are non-increasing: -scores is sorted ascending (negated once, not per call)
        return self._once("ascending", lambda: _frozen(-self.scores))

    def percentile(self, score: float) -> float:
        """Share of candidates scoring strictly lower than ``score``, in percent."""
        n = len(self)
        if n == 0:
            return 0.0
        not_lower = int(np.searchsorted(self._ascending(), -score, side="right"))
        return round(100.0 * (n - not_lower) / n, 2)

    def sectors_available(self) -> list[str]:
        codes = self._sector_codes()
        names = self._base.sectors()[1]
        present = np.unique(codes).tolist()
        return sorted(str(names[c]) for c in present if names[c] is not None)

    def _rows_with(self, kind: str, value: str) -> np.ndarray:
        """Rows (ascending) whose map region or sector is ``value``; cached per value."""

        def build() -> np.ndarray:
            if kind == "region":
                codes, names = self._region_codes(), self._base.regions()[1]
            else:
                codes, names = self._sector_codes(), self._base.sectors()[1]
            if value not in names:
                return _EMPTY
            return _frozen(np.flatnonzero(codes == names.index(value)).astype(np.int64))

        return self._once(f"{kind}={value}", build)

    def select(
        self,
        k: int,
        region: str | None = None,
        sector: str | None = None,
        founded_after: date | None = None,
        min_score: float | None = None,
    ) -> tuple[np.ndarray, int]:
        """(the first ``k`` matching rows in rank order, how many rows match)."""
        n = len(self)
        limit = (
            n if min_score is None else int(np.searchsorted(self._ascending(), -min_score, "right"))
        )
        rows: np.ndarray | None = None
        if region is not None:
            rows = self._rows_with("region", region)
        if sector is not None:
            in_sector = self._rows_with("sector", sector)
            rows = in_sector if rows is None else np.intersect1d(rows, in_sector, True)
        if rows is None:
            if founded_after is None:
                return np.arange(min(k, limit), dtype=np.int64), limit
            rows = np.arange(limit, dtype=np.int64)
        else:
            rows = rows[: int(np.searchsorted(rows, limit))]
        if founded_after is not None:
            # An unknown founding date (NaT) never passes a founded_after filter.
            rows = rows[self.founded_on[rows] >= np.datetime64(founded_after, "ns")]
        return rows[:k], len(rows)

    def reasons(self, rows: Sequence[int] | np.ndarray) -> list[tuple[ReasonDict, ...]]:
        """Top-3 reasons of the given rows (read or computed once per org, then memoised)."""
        rows = np.asarray(rows, dtype=np.int64)
        ids = self._ids_of(rows)
        missing = [i for i, org in enumerate(ids) if self._reasons.get(org) is None]
        if missing:
            self._fill_reasons(rows[missing], [ids[i] for i in missing])
        return [self._reasons.get(org) or () for org in ids]

    def _ids_of(self, rows: np.ndarray) -> list[str]:
        if "text:org_id" in self._done:
            return [str(o) for o in self.org_ids[rows]]
        return _pick(self._base.table.column("org_id"), self._file_rows(rows))

    def _fill_reasons(self, rows: np.ndarray, ids: list[str]) -> None:
        stored = self._base.stored_reasons(self._file_rows(rows).tolist())
        found = {org: s for org, s in zip(ids, stored, strict=True) if s is not None}
        if found:
            self._reasons.put_many(found)
        rest = [i for i, s in enumerate(stored) if s is None]
        if rest:
            self._compute_reasons(rows[rest], [ids[i] for i in rest])

    def _compute_reasons(self, rows: np.ndarray, ids: list[str]) -> None:
        if self.features is not None:
            frame = self.features.iloc[self._file_rows(rows)]
        elif self.fetch_features is not None:
            frame = self.fetch_features(ids)
            frame = frame.reset_index(drop=True)
        else:
            return
        from talentmap.training.model.explain import top_reasons

        computed = top_reasons(self.model, frame, N_REASONS)
        self._reasons.put_many(
            {
                org: tuple(reason_dict(x) for x in reasons)
                for org, reasons in zip(ids, computed, strict=True)
            }
        )

    def rows(
        self,
        rows: Sequence[int] | np.ndarray,
        reasons: Sequence[tuple[ReasonDict, ...]] | None = None,
    ) -> list[dict[str, Any]]:
        """Shortlist rows as plain JSON-ready data (no names of opted-out persons)."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return []
        file_rows = self._file_rows(rows)
        values = {name: _pick(self._base.table.column(name), file_rows) for name in COLUMNS[:6]}
        founded = self._base.founded_on()[file_rows]
        scores = self._base.scores()[file_rows]
        teams = self.founders_of(rows)
        out = []
        for i, r in enumerate(rows.tolist()):
            score = float(scores[i])
            day = founded[i]
            org_id = values["org_id"][i]
            row: dict[str, Any] = {
                "org_id": org_id,
                "name": values["name"][i] if values["name"][i] is not None else org_id,
                "region": map_region(values["country"][i], values["region"][i]),
                "city": values["city"][i],
                "sector": values["sector"][i],
                "country": values["country"][i],
                "founded_on": None if np.isnat(day) else str(day.astype("datetime64[D]")),
                "founders": [{"name": n, "role": role} for _, n, role in teams[i]],
                "score": score,  # unrounded: a client may pass it back as min_score
                "rank": r + 1,
                "percentile": self.percentile(score),
            }
            if reasons is not None:
                row["reasons"] = list(reasons[i])
            out.append(row)
        return out

    def row(self, r: int, reasons: tuple[ReasonDict, ...] | None = None) -> dict[str, Any]:
        """One shortlist row as plain JSON-ready data (no names of opted-out persons)."""
        return self.rows([r], None if reasons is None else [reasons])[0]

    def warm(self) -> None:
        """Build every index a request may need (the service calls it in the background
        right after it is ready, so no request pays for one)."""
        if not self._base.founders_sorted():
            self._base.founder_places()
        self._region_codes()
        self._ascending()
        self._sector_codes()
        _ = self.scores, self.founded_on

    # ------------------------------------------------------------------ deriving
    def without(
        self,
        org_ids: Iterable[str] = (),
        person_ids: Iterable[str] = (),
        ranking_id: str | None = None,
    ) -> Ranking:
        """A new ranking without these organisations and without these persons as founders.

        Ranks are recomputed (the others move up); scores do not change. The file is not
        touched: the new ranking's view leaves the organisations' rows out.
        """
        extra = OptOuts(frozenset(map(str, org_ids)), frozenset(map(str, person_ids)))
        view = self._view
        if extra.org_ids:
            gone = self._base.file_rows_of(sorted(extra.org_ids))
            if gone:
                current = np.arange(self._base.table.num_rows) if view is None else view
                view = current[~np.isin(current, np.fromiter(gone.values(), dtype=np.int64))]
        lineage = self.lineage
        if ranking_id is not None:
            lineage = replace(lineage, ranking_id=ranking_id)
        return Ranking(
            lineage=lineage,
            model=self._model,
            base=self._base,
            view=view,
            opt_outs=self.opt_outs.union(extra),
            memo=self._reasons,
            features=self.features,
            fetch_features=self.fetch_features,
        )


# ---------------------------------------------------------------------- computed


def _text(series: pd.Series) -> list[Any]:
    return [None if v is None or v != v else str(v) for v in series.astype(object).tolist()]


def founders_by_org(
    tables: Mapping[str, pd.DataFrame], org_ids: Iterable[str], opt_outs: OptOuts
) -> dict[str, tuple[Founder, ...]]:
    """(person_id, name, role) of each organisation's founders, opted-out persons left out.

    The role shown is the founder's title when the source gives one ("CEO"), else
    "founder". Founders are listed in start-date order, then by person id.
    """
    found = ranking_file.founder_rows(tables, org_ids, opt_outs.person_ids)
    return {
        str(org): tuple(zip(group["person_id"], group["name"], group["role"], strict=True))
        for org, group in found.groupby("org_id", sort=False)
    }


def build_ranking(
    model: PromiseModel,
    features: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame],
    lineage: RankingLineage,
    opt_outs: OptOuts | None = None,
    precompute_reasons: int = 1000,
) -> Ranking:
    """Score every row of ``features`` (one per candidate, with ``org_id``) and rank them.

    ``tables`` needs ``organizations`` and, for founders, ``roles`` and ``people``; its
    ``opt_outs`` table is honoured together with ``opt_outs``. Equal scores are ranked by
    org id, as the backtest does.
    """
    import pandas as pd

    blocked = OptOuts.from_table(tables.get("opt_outs")).union(opt_outs or OptOuts())
    features = features.loc[~features["org_id"].astype(str).isin(blocked.org_ids)]
    features = features.drop_duplicates("org_id").reset_index(drop=True)
    ids = features["org_id"].astype(str).to_numpy(dtype=object)
    scores = model.predict_proba(features)[:, 1] if len(features) else np.empty(0, dtype=np.float64)
    order = np.lexsort((ids.astype(str), -scores))
    ids, scores = ids[order], scores[order]
    features = features.iloc[order].reset_index(drop=True)

    orgs = tables["organizations"].drop_duplicates("org_id").set_index("org_id")
    meta = orgs.reindex(ids)
    missing = pd.Series(None, index=meta.index, dtype=object)
    founded = (
        pd.to_datetime(meta["founded_on"]).to_numpy(dtype="datetime64[ns]")
        if "founded_on" in meta
        else np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[ns]")
    )
    table = pa.table(
        {
            "org_id": pa.array(ids.tolist(), type=pa.string()),
            **{
                name: pa.array(_text(meta.get(name, missing)), type=pa.string())
                for name in ("name", "country", "region", "city", "sector")
            },
            "founded_on": pa.array(founded, type=pa.timestamp("ns")),
            "score": pa.array(np.asarray(scores, dtype=np.float64), type=pa.float64()),
        }
    )
    found = ranking_file.founder_rows(tables, ids, blocked.person_ids)
    founders = pa.Table.from_pandas(
        found[list(ranking_file.FOUNDERS_SCHEMA.names)],
        schema=ranking_file.FOUNDERS_SCHEMA,
        preserve_index=False,
    )
    ranking = Ranking(
        lineage=lineage,
        model=model,
        base=_FileIndex(table, founders),
        view=None,
        opt_outs=blocked,
        memo=_ReasonMemo(),
        features=features,
    )
    top = min(precompute_reasons, len(ranking))
    if top:
        ranking.reasons(np.arange(top))
    return ranking


# ---------------------------------------------------------------------- published


def ranking_from_published(
    published: ranking_file.PublishedRanking,
    model: PromiseModel | Callable[[], PromiseModel] | None,
    lineage: RankingLineage,
    opt_outs: OptOuts | None = None,
    fetch_features: Callable[[list[str]], pd.DataFrame] | None = None,
    base: _FileIndex | None = None,
) -> Ranking:
    """The ranking the retrain chain published, over its memory-mapped file.

    Nothing is scored and nothing is copied: scores, order and the top N's reasons are
    the file's. Opt-outs and forgotten subjects (``opt_outs``) are applied here, on read,
    whatever the file holds: their organisations leave the view (the others move up),
    their persons the founder lists. Reasons below the stored top N come from
    ``fetch_features``. ``base``: the indexes of an earlier ranking over the same file,
    to reuse. ``model`` may be a loader, called on first use (``/score``, reasons below N).
    """
    blocked = opt_outs or OptOuts()
    base = base or _FileIndex(published.table, published.founders)
    view = None
    if blocked.org_ids and published.table.num_rows:
        gone = pc.is_in(
            base.column("org_id"), value_set=pa.array(sorted(blocked.org_ids), type=pa.string())
        )
        drop = pc.fill_null(gone, False).to_numpy(zero_copy_only=False)
        if drop.any():
            view = np.flatnonzero(~drop).astype(np.int64)
    return Ranking(
        lineage=lineage,
        model=model,
        base=base,
        view=view,
        opt_outs=blocked,
        memo=_ReasonMemo(),
        fetch_features=fetch_features,
    )
