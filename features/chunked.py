"""The feature build in chunks of organisations, so its memory follows a chunk.

On a large world the builders' intermediate frames are several times their output (at
100,000 organisations the hiring family peaked at 2.7 GB for a 0.8 GB table; the
investors' DuckDB join at 4.3 GB). Here the organisations are cut into chunks of
``chunk_orgs`` consecutive ids (in the tables' key order), and:

- the **organisation-local** families (``spark_build.ORG_LOCAL``: a company's values read
  its own rows only) run ``prepare`` and their builders on each chunk's rows, exactly as
  a Spark bucket does (``spark_build.bucket_tables``), one chunk at a time;
- the **chunkable cross-company** families (``CHUNKED``: investors, co-investors,
  programme cohorts) compute what every company reads once (investors' records and
  networks, cohorts' counts, in one DuckDB connection) and the companies' rows chunk by
  chunk;
- the other cross-company families (small: markets, pools, research, founders and their
  networks) run whole, as before.

Chunks are ranges of sorted ids, so a family's chunks, each sorted by ``finalize``, follow
one another in the order of the whole table: concatenated, or appended to one Parquet
file, they are ``build.build_feature_tables``'s table, row for row
(``tests/unit/test_features_chunked.py``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd

from talentmap.features.build import BUILDERS, REQUIRED_TABLES, finalize
from talentmap.features.family_investors import iter_investors
from talentmap.features.family_network import iter_coinvestors, iter_program_cohort
from talentmap.features.prepare import Prepared, prepare
from talentmap.features.spark_build import ORG_LOCAL
from talentmap.settings.training import PromiseRules

logger = logging.getLogger(__name__)

ChunkBuilder = Callable[[Prepared, Sequence[Sequence[str] | None]], Iterator[pd.DataFrame]]
CHUNKED: dict[str, ChunkBuilder] = {
    "investors": iter_investors,
    "coinvestors": iter_coinvestors,
    "program_cohort": iter_program_cohort,
}


def _row_orgs(tables: Mapping[str, pd.DataFrame]) -> dict[str, np.ndarray]:
    """Each row's organisation id (as text), per table that has one: its ``org_id``, or
    for an investment its round's (as ``spark_build.row_buckets``)."""
    out = {
        name: frame["org_id"].astype(str).to_numpy(dtype=object)
        for name, frame in tables.items()
        if "org_id" in frame.columns
    }
    investments = tables.get("investments")
    if investments is not None and "round_id" in investments.columns:
        rounds = tables["funding_rounds"].drop_duplicates("round_id")
        org_of_round = investments["round_id"].map(rounds.set_index("round_id")["org_id"])
        out["investments"] = org_of_round.astype(str).to_numpy(dtype=object)
    return out


def org_chunks(tables: Mapping[str, pd.DataFrame], chunk_orgs: int) -> list[np.ndarray]:
    """Every organisation id named by a row, sorted, cut into chunks of ``chunk_orgs``."""
    named = [ids for ids in _row_orgs(tables).values() if len(ids)]
    # Distinct ids by hashing first: sorting every row's id (tens of millions of Python
    # strings at a million organisations) took minutes; sorting the distinct ones, seconds.
    distinct = pd.unique(np.concatenate(named)) if named else np.array([], dtype=object)
    orgs = np.sort(np.asarray(distinct, dtype=object))
    return [orgs[i : i + chunk_orgs] for i in range(0, len(orgs), chunk_orgs)]


def _chunk_tables(
    tables: Mapping[str, pd.DataFrame], chunks: list[np.ndarray]
) -> Iterator[dict[str, pd.DataFrame]]:
    """Per chunk: the rows of its organisations, and the tables keyed otherwise whole."""
    chunk_of = pd.Index(np.concatenate(chunks))  # position // size is the chunk (hashed)
    size = len(chunks[0])
    positions: dict[str, list[np.ndarray]] = {}
    for name, ids in _row_orgs(tables).items():
        which = chunk_of.get_indexer(ids) // size
        order = np.argsort(which, kind="stable")  # keeps each chunk's rows in table order
        bounds = np.searchsorted(which[order], np.arange(len(chunks) + 1))
        positions[name] = [order[bounds[i] : bounds[i + 1]] for i in range(len(chunks))]
    for index in range(len(chunks)):
        yield {
            name: frame.iloc[positions[name][index]] if name in positions else frame
            for name, frame in tables.items()
        }


def iter_chunks(
    tables: dict[str, pd.DataFrame],
    snapshot_date: date,
    rules: PromiseRules | None,
    chunk_orgs: int,
) -> Iterator[tuple[str, pd.DataFrame]]:
    """(family, finalised chunk) pairs: every family's table, cut by organisation chunks.

    A family's chunks come in key order; chunks of different families interleave (the
    organisation-local families are built together, chunk by chunk).
    """
    missing = [name for name in REQUIRED_TABLES if name not in tables]
    if missing:
        raise ValueError(f"required tables missing: {', '.join(missing)}")
    started = _clock()
    chunks = org_chunks(tables, chunk_orgs)
    whole = prepare(tables, snapshot_date, rules)
    n_orgs = sum(len(chunk) for chunk in chunks)
    _log_step("prepared", None, None, len(chunks), n_orgs, started)
    if len(chunks) <= 1:  # a small world: nothing to cut
        for family, builder in BUILDERS.items():
            started = _clock()
            frame = finalize(builder(whole), family, whole.snapshot)
            _log_step("built", family, None, 1, len(frame), started)
            yield family, frame
        return
    local = [family for family in BUILDERS if family in ORG_LOCAL]
    for index, part in enumerate(_chunk_tables(tables, chunks)):
        started = _clock()
        prepared = prepare(part, snapshot_date, rules)
        _log_step("prepared", None, index, len(chunks), len(chunks[index]), started)
        for family in local:
            started = _clock()
            frame = finalize(BUILDERS[family](prepared), family, prepared.snapshot)
            _log_step("built", family, index, len(chunks), len(frame), started)
            yield family, frame
        del prepared, part
    for family, builder in BUILDERS.items():
        if family in ORG_LOCAL:
            continue
        started = _clock()
        if family in CHUNKED:
            for index, raw in enumerate(CHUNKED[family](whole, chunks)):
                frame = finalize(raw, family, whole.snapshot)
                _log_step("built", family, index, len(chunks), len(frame), started)
                yield family, frame
                started = _clock()
        else:
            frame = finalize(builder(whole), family, whole.snapshot)
            _log_step("built", family, None, 1, len(frame), started)
            yield family, frame


def _clock() -> tuple[float, float]:
    """Wall and CPU seconds now: on a shared machine the CPU time is the cost of a step."""
    return time.perf_counter(), time.process_time()


def _log_step(
    what: str,
    family: str | None,
    chunk: int | None,
    chunks: int,
    rows: int,
    started: tuple[float, float],
) -> None:
    """One progress line of the build (issue 10: at a million organisations it runs for
    minutes, and the operator and the retrain log should see it move). ``prepared``
    counts organisations, ``built`` a family's rows; a chunk is numbered from 1."""
    seconds = round(time.perf_counter() - started[0], 3)
    cpu = round(time.process_time() - started[1], 3)
    part = "" if chunk is None else f" chunk {chunk + 1}/{chunks}"
    if what == "prepared" and chunk is None:
        message = f"feature build: {rows:,} organisations in {chunks} chunks, prepared"
    elif what == "prepared":
        message = f"feature build:{part}: {rows:,} organisations prepared"
    else:
        message = f"feature build: {family}{part}: {rows:,} rows"
    logger.info(
        "%s in %.1f s (CPU %.1f s)",
        message,
        seconds,
        cpu,
        extra={
            "progress": "features build",  # not "step": step lines end a retrain step
            "family": family,
            "chunk": None if chunk is None else chunk + 1,
            "chunks": chunks,
            "rows": rows,
            "duration_s": seconds,
            "cpu_s": cpu,
        },
    )


def iter_tables_chunked(
    tables: dict[str, pd.DataFrame],
    snapshot_date: date,
    rules: PromiseRules | None,
    chunk_orgs: int,
) -> Iterator[tuple[str, pd.DataFrame]]:
    """``build.iter_feature_tables``'s (family, whole table) pairs, built in chunks.

    The organisation-local tables are held until the first cross-company family starts
    (they are built together), then handed out; the others one at a time. With several
    chunks the organisation-local families therefore come first.
    """
    held: dict[str, list[pd.DataFrame]] = {}
    for family, frame in iter_chunks(tables, snapshot_date, rules, chunk_orgs):
        if family not in ORG_LOCAL:
            for done in [f for f in held if f != family]:
                yield done, _joined(held.pop(done))
        held.setdefault(family, []).append(frame)
    for done in list(held):
        yield done, _joined(held.pop(done))


def _joined(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)
