"""The in-memory ranking: every current candidate scored once, then only filtered per request.

A ``Ranking`` is immutable. The service holds one reference to the current ranking and
replaces it with a single attribute assignment, so a request that took the reference at
its start sees one model, one feature snapshot and one candidate set from start to end,
whatever reload happens meanwhile.

Rows are stored in rank order as parallel numpy arrays (read-only), with index arrays per
region and per sector, so a filtered top-k is a few array operations even at 100,000
candidates. Reasons (TreeSHAP contributions in plain words) are computed at build time for
the top ``precompute_reasons`` rows and for the others on first request; that memo is
keyed by org id and is the only mutable part (a cache of a pure function).

Opt-outs (GDPR) are applied here, whatever the caller did before: an opted-out
organisation is never ranked, an opted-out person never appears among the founders.
``without`` derives a new ranking with more subjects removed, for ``forget``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from talentmap.serving.regions import map_region
from talentmap.training.model.estimator import PromiseModel
from talentmap.training.model.explain import localised_texts, top_reasons
from talentmap.training.pipeline import ranking_file

N_REASONS = 3
_EMPTY = np.empty(0, dtype=np.int64)
Founder = tuple[str, str, str]  # (person_id, name, role); the id is never served
ReasonDict = dict[str, Any]


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


def _index(values: np.ndarray) -> dict[str, np.ndarray]:
    """value -> ascending row numbers holding it (None values are not indexed)."""
    frame = pd.DataFrame({"v": values, "row": np.arange(len(values))}).dropna()
    return {str(v): _frozen(g.to_numpy(dtype=np.int64)) for v, g in frame.groupby("v")["row"]}


def with_texts(reason: ReasonDict) -> ReasonDict:
    """``reason`` plus ``texts`` ({"en": text, "fr": ...}), worded from its structured parts.

    ``text`` stays the English sentence (API clients rely on it); ``texts`` lets the web
    page show the reason in its own language. Reasons read from a published ranking file
    (any format version: they hold feature, value, contribution, text) get it here.
    """
    if "texts" in reason:
        return reason
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


@dataclass(frozen=True, eq=False)
class Ranking:
    """All current candidates in rank order, with what a shortlist row shows."""

    lineage: RankingLineage
    model: PromiseModel
    org_ids: np.ndarray  # object, rank order
    names: np.ndarray
    regions: np.ndarray  # map region or None
    cities: np.ndarray
    sectors: np.ndarray
    countries: np.ndarray
    founded_on: np.ndarray  # datetime64[ns], NaT = unknown
    scores: np.ndarray  # float64, non-increasing
    founders: tuple[tuple[Founder, ...], ...]
    # model inputs, rank order, RangeIndex; None for a published ranking, whose reasons
    # below the stored top N come from ``fetch_features`` (the online store)
    features: pd.DataFrame | None
    opt_outs: OptOuts
    _position: dict[str, int] = field(repr=False)
    _by_region: dict[str, np.ndarray] = field(repr=False)
    _by_sector: dict[str, np.ndarray] = field(repr=False)
    _reasons: _ReasonMemo = field(repr=False)
    fetch_features: Callable[[list[str]], pd.DataFrame] | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self.org_ids)

    @property
    def ranking_id(self) -> str:
        return self.lineage.ranking_id

    def rank_of(self, org_id: str) -> int | None:
        row = self._position.get(org_id)
        return None if row is None else row + 1

    def row_of(self, org_id: str) -> int | None:
        return self._position.get(org_id)

    def percentile(self, score: float) -> float:
        """Share of candidates scoring strictly lower than ``score``, in percent."""
        n = len(self.scores)
        if n == 0:
            return 0.0
        # scores are non-increasing: -scores is sorted ascending
        not_lower = int(np.searchsorted(-self.scores, -score, side="right"))
        return round(100.0 * (n - not_lower) / n, 2)

    def sectors_available(self) -> list[str]:
        return sorted(self._by_sector)

    def region_counts(self, rows: np.ndarray) -> dict[str, int]:
        picked = pd.Series(self.regions[rows], dtype=object).dropna()
        return {str(k): int(v) for k, v in picked.value_counts().items()}

    def select(
        self,
        k: int,
        region: str | None = None,
        sector: str | None = None,
        founded_after: date | None = None,
        min_score: float | None = None,
    ) -> tuple[np.ndarray, int]:
        """(the first ``k`` matching rows in rank order, how many rows match)."""
        n = len(self.scores)
        limit = n if min_score is None else int(np.searchsorted(-self.scores, -min_score, "right"))
        rows: np.ndarray | None = None
        if region is not None:
            rows = self._by_region.get(region, _EMPTY)
        if sector is not None:
            in_sector = self._by_sector.get(sector, _EMPTY)
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
        """Top-3 reasons of the given rows (computed once per org, then memoised)."""
        rows = np.asarray(rows, dtype=np.int64)
        missing = [int(r) for r in rows if self._reasons.get(self.org_ids[r]) is None]
        if missing:
            self._compute_reasons(np.asarray(missing, dtype=np.int64))
        return [self._reasons.get(self.org_ids[r]) or () for r in rows]

    def _compute_reasons(self, rows: np.ndarray) -> None:
        if self.features is not None:
            frame = self.features.iloc[rows]
        elif self.fetch_features is not None:
            frame = self.fetch_features([str(o) for o in self.org_ids[rows]])
            frame = frame.reset_index(drop=True)
        else:
            return
        computed = top_reasons(self.model, frame, N_REASONS)
        self._reasons.put_many(
            {
                str(self.org_ids[r]): tuple(reason_dict(x) for x in reasons)
                for r, reasons in zip(rows, computed, strict=True)
            }
        )

    def row(self, r: int, reasons: tuple[ReasonDict, ...] | None = None) -> dict[str, Any]:
        """One shortlist row as plain JSON-ready data (no names of opted-out persons)."""
        founded = self.founded_on[r]
        score = float(self.scores[r])
        out: dict[str, Any] = {
            "org_id": self.org_ids[r],
            "name": self.names[r],
            "region": self.regions[r],
            "city": self.cities[r],
            "sector": self.sectors[r],
            "country": self.countries[r],
            "founded_on": None if np.isnat(founded) else pd.Timestamp(founded).date().isoformat(),
            "founders": [{"name": n, "role": role} for _, n, role in self.founders[r]],
            "score": score,  # unrounded: a client may pass it back as min_score
            "rank": int(r) + 1,
            "percentile": self.percentile(score),
        }
        if reasons is not None:
            out["reasons"] = list(reasons)
        return out

    # ------------------------------------------------------------------ deriving
    def without(
        self,
        org_ids: Iterable[str] = (),
        person_ids: Iterable[str] = (),
        ranking_id: str | None = None,
    ) -> Ranking:
        """A new ranking without these organisations and without these persons as founders.

        Ranks are recomputed (the others move up); scores do not change.
        """
        extra = OptOuts(frozenset(map(str, org_ids)), frozenset(map(str, person_ids)))
        opt_outs = self.opt_outs.union(extra)
        keep = ~np.isin(self.org_ids, list(extra.org_ids)) if extra.org_ids else None
        hidden = extra.person_ids
        founders = tuple(
            tuple(f for f in team if f[0] not in hidden) if hidden else team
            for team in self.founders
        )
        rows = np.flatnonzero(keep) if keep is not None else np.arange(len(self))
        lineage = self.lineage
        if ranking_id is not None:
            lineage = replace(lineage, ranking_id=ranking_id)
        return _assemble(
            lineage=lineage,
            model=self.model,
            columns={
                "org_id": self.org_ids[rows],
                "name": self.names[rows],
                "region": self.regions[rows],
                "city": self.cities[rows],
                "sector": self.sectors[rows],
                "country": self.countries[rows],
                "founded_on": self.founded_on[rows],
            },
            scores=self.scores[rows],
            founders=tuple(founders[r] for r in rows),
            features=(
                None if self.features is None else self.features.iloc[rows].reset_index(drop=True)
            ),
            opt_outs=opt_outs,
            memo=self._reasons,
            fetch_features=self.fetch_features,
        )


def _assemble(
    lineage: RankingLineage,
    model: PromiseModel,
    columns: Mapping[str, np.ndarray],
    scores: np.ndarray,
    founders: tuple[tuple[Founder, ...], ...],
    features: pd.DataFrame | None,
    opt_outs: OptOuts,
    memo: _ReasonMemo,
    fetch_features: Callable[[list[str]], pd.DataFrame] | None = None,
) -> Ranking:
    org_ids = _frozen(columns["org_id"], object)
    regions = _frozen(columns["region"], object)
    sectors = _frozen(columns["sector"], object)
    return Ranking(
        lineage=lineage,
        model=model,
        org_ids=org_ids,
        names=_frozen(columns["name"], object),
        regions=regions,
        cities=_frozen(columns["city"], object),
        sectors=sectors,
        countries=_frozen(columns["country"], object),
        founded_on=_frozen(columns["founded_on"], "datetime64[ns]"),
        scores=_frozen(scores, np.float64),
        founders=founders,
        features=features,
        opt_outs=opt_outs,
        _position={str(o): i for i, o in enumerate(org_ids)},
        _by_region=_index(regions),
        _by_sector=_index(sectors),
        _reasons=memo,
        fetch_features=fetch_features,
    )


def _text(series: pd.Series) -> np.ndarray:
    return series.astype(object).where(series.notna(), None).to_numpy(dtype=object)


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

    def text(name: str) -> np.ndarray:
        return _text(meta.get(name, missing))

    countries, raw_regions = text("country"), text("region")
    founded = (
        pd.to_datetime(meta["founded_on"]).to_numpy(dtype="datetime64[ns]")
        if "founded_on" in meta
        else np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[ns]")
    )
    teams = founders_by_org(tables, ids, blocked)
    names = text("name")
    ranking = _assemble(
        lineage=lineage,
        model=model,
        columns={
            "org_id": ids,
            "name": np.where(pd.isna(names), ids, names),
            "region": np.array(
                [map_region(c, r) for c, r in zip(countries, raw_regions, strict=True)],
                dtype=object,
            ),
            "city": text("city"),
            "sector": text("sector"),
            "country": countries,
            "founded_on": founded,
        },
        scores=scores,
        founders=tuple(teams.get(str(o), ()) for o in ids),
        features=features,
        opt_outs=blocked,
        memo=_ReasonMemo(),
    )
    top = min(precompute_reasons, len(ranking))
    if top:
        ranking.reasons(np.arange(top))
    return ranking


# ---------------------------------------------------------------------- published


def _strings(column: Any) -> np.ndarray:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)


def _map_regions(countries: Any, regions: Any) -> np.ndarray:
    """``map_region`` per row, computed once per distinct (country, region) pair.

    Arrow columns in: the pairs are dictionary-encoded in Arrow's C++ (at a million rows,
    pandas' factorize of a MultiIndex took seconds of the service's start-up).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(countries) == 0:
        return np.empty(0, dtype=object)
    blank = "\x00"
    pairs = pc.binary_join_element_wise(
        pc.fill_null(pc.cast(countries, pa.string()), blank),
        pc.fill_null(pc.cast(regions, pa.string()), blank),
        "\x01",
    )
    if isinstance(pairs, pa.ChunkedArray):
        pairs = pairs.combine_chunks()
    encoded = pairs.dictionary_encode()
    mapped = []
    for pair in encoded.dictionary.to_pylist():
        c, r = pair.split("\x01", 1)
        mapped.append(map_region(None if c == blank else c, None if r == blank else r))
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    return np.array(mapped, dtype=object)[codes]


def _teams(
    founders: Any, org_ids: Any, person_opt_outs: frozenset[str]
) -> tuple[tuple[Founder, ...], ...]:
    """Founders per ranked organisation (rank order), opted-out persons left out.

    ``org_ids``: the ranked ids as an Arrow column. Founders are placed by Arrow's hash
    lookup (``index_in``) and one stable numpy sort, not by pandas: at a million
    organisations (two million founders) the pandas version took most of the start-up.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(org_ids)
    if founders.num_rows == 0 or n == 0:
        return ((),) * n
    if person_opt_outs:
        gone = pc.is_in(founders.column("person_id"), value_set=pa.array(sorted(person_opt_outs)))
        founders = founders.filter(pc.invert(pc.fill_null(gone, False)))
    if isinstance(org_ids, pa.ChunkedArray):
        org_ids = org_ids.combine_chunks()
    where = pc.index_in(founders.column("org_id"), value_set=org_ids)
    found = pc.is_valid(where)
    founders = founders.filter(found)
    pos = pc.filter(where, found).to_numpy(zero_copy_only=False).astype(np.int64)
    order = np.argsort(pos, kind="stable")  # the file's founder order within an org
    pos = pos[order]
    taken = founders.take(pa.array(order))
    people = list(
        zip(
            taken.column("person_id").to_pylist(),
            taken.column("name").to_pylist(),
            taken.column("role").to_pylist(),
            strict=True,
        )
    )
    teams: list[tuple[Founder, ...]] = [()] * n
    if len(pos):
        starts = np.flatnonzero(np.r_[True, pos[1:] != pos[:-1]])
        ends = np.r_[starts[1:], len(pos)]
        for start, end, at in zip(
            starts.tolist(), ends.tolist(), pos[starts].tolist(), strict=True
        ):
            teams[at] = tuple(people[start:end])
    return tuple(teams)


def ranking_from_published(
    published: ranking_file.PublishedRanking,
    model: PromiseModel,
    lineage: RankingLineage,
    opt_outs: OptOuts | None = None,
    fetch_features: Callable[[list[str]], pd.DataFrame] | None = None,
) -> Ranking:
    """The ranking the retrain chain published, read from its memory-mapped file.

    Nothing is scored: scores, order and the top N's reasons are the file's. Opt-outs
    and forgotten subjects (``opt_outs``) are applied here, on read, whatever the file
    holds: their organisations leave the ranking (the others move up), their persons the
    founder lists. Reasons below the stored top N come from ``fetch_features``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    blocked = opt_outs or OptOuts()
    table = published.table
    if blocked.org_ids and table.num_rows:
        gone = pc.is_in(table.column("org_id"), value_set=pa.array(sorted(blocked.org_ids)))
        table = table.filter(pc.invert(pc.fill_null(gone, False)))
    ids = _strings(table.column("org_id"))
    names = _strings(table.column("name"))
    countries = _strings(table.column("country"))
    founded = (
        table.column("founded_on").to_pandas().to_numpy(dtype="datetime64[ns]")
        if table.num_rows
        else np.empty(0, dtype="datetime64[ns]")
    )
    scores = table.column("score").to_numpy()
    memo = _ReasonMemo()
    top_n = int(published.meta.get("reasons_top_n") or 0)
    if top_n and table.num_rows:
        # The rows the file holds reasons for: its top N (ranks as published, before any
        # opt-out on read moved the others up).
        stored_rows = np.flatnonzero(table.column("rank").to_numpy() <= top_n)
        head = table.take(pa.array(stored_rows))
        stored = [head.column(c).to_pylist() for c in ranking_file.REASON_COLUMNS]
        memo.put_many(
            {
                org: tuple(json.loads(text) for text in texts if text is not None)
                for org, *texts in zip(ids[stored_rows], *stored, strict=True)
            }
        )
    return _assemble(
        lineage=lineage,
        model=model,
        columns={
            "org_id": ids,
            "name": np.where(pd.isna(names), ids, names),
            "region": _map_regions(table.column("country"), table.column("region")),
            "city": _strings(table.column("city")),
            "sector": _strings(table.column("sector")),
            "country": countries,
            "founded_on": founded,
        },
        scores=scores,
        founders=_teams(published.founders, table.column("org_id"), blocked.person_ids),
        features=None,
        opt_outs=blocked,
        memo=memo,
        fetch_features=fetch_features,
    )
