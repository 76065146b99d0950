"""``generate_world``: write a complete synthetic French ecosystem to a directory.

Organisations are generated in chunks with independent random streams and appended to
the table files, so memory stays bounded whatever the size of the world.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

from talentmap.generate.calendar import MonthGrid
from talentmap.generate.chunk import Counters, generate_chunk
from talentmap.generate.writer import DatasetWriter

GENERATOR_VERSION = "1"
DATASET_LICENCE = "CC0-1.0"


@dataclass
class GenerationSummary:
    out_dir: Path
    seed: int
    fmt: str
    n_orgs_simulated: int
    n_orgs_written: int
    rows: dict[str, int] = field(default_factory=dict)
    oracle_rows: int = 0
    #: Realised 24-month label rate among visible candidates whose window the data covers.
    base_rate: float = float("nan")
    #: Mean as-of oracle probability over the same rows (should match ``base_rate``).
    mean_p_true: float = float("nan")
    #: Mean path-oracle probability over the same rows (it should match too).
    mean_p_path: float = float("nan")
    candidate_rows: int = 0
    elapsed_seconds: float = 0.0


def generate_world(
    out_dir: Path,
    n_orgs: int,
    seed: int,
    *,
    fmt: Literal["csv", "parquet"] = "csv",
    start: date = date(2012, 1, 1),
    end: date = date(2025, 12, 31),
    oracle_every_months: int = 1,
    chunk_size: int = 50_000,
    progress: Callable[[int, int], None] | None = None,
    write_hidden: bool = False,
) -> GenerationSummary:
    """Generate ``n_orgs`` organisations (those never recorded by ``end`` are left out).

    ``write_hidden`` also writes ``truth/hidden.parquet`` (latent quality, founder gender):
    a hook for tests and audits of the generator, never read by the pipeline.
    """
    if n_orgs < 1 or chunk_size < 1 or oracle_every_months < 1:
        raise ValueError("n_orgs, chunk_size and oracle_every_months must be positive")
    if end <= start:
        raise ValueError("end must come after start")
    began = time.perf_counter()
    out_dir = Path(out_dir)
    grid = MonthGrid(start, end)
    writer = DatasetWriter(out_dir, fmt, hidden=write_hidden)
    counters = Counters()
    summary = GenerationSummary(
        out_dir=out_dir, seed=seed, fmt=fmt, n_orgs_simulated=n_orgs, n_orgs_written=0
    )
    labels, p_sum, p_path_sum = 0, 0.0, 0.0
    try:
        done = 0
        for index, offset in enumerate(range(0, n_orgs, chunk_size)):
            size = min(chunk_size, n_orgs - offset)
            chunk = generate_chunk(seed, index, size, offset, grid, oracle_every_months, counters)
            for name, columns in chunk.tables.items():
                writer.write(name, columns)
            writer.write("_oracle", chunk.oracle)
            writer.write("_hidden", chunk.hidden)
            summary.n_orgs_written += chunk.n_written
            summary.oracle_rows += len(chunk.oracle["p_true"])
            summary.candidate_rows += chunk.n_candidates
            labels += chunk.label_sum
            p_sum += chunk.p_sum
            p_path_sum += chunk.p_path_sum
            done += size
            if progress is not None:
                progress(done, n_orgs)
    finally:
        writer.close()
    summary.rows = dict(writer.rows)
    if summary.candidate_rows:
        summary.base_rate = labels / summary.candidate_rows
        summary.mean_p_true = p_sum / summary.candidate_rows
        summary.mean_p_path = p_path_sum / summary.candidate_rows
    (out_dir / "dataset.json").write_text(
        json.dumps(
            {
                "name": f"talentmap-synthetic-seed{seed}-{n_orgs}",
                "source": f"talentmap synthetic generator v{GENERATOR_VERSION}",
                "licence": DATASET_LICENCE,
                "snapshot_date": end.isoformat(),
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    summary.elapsed_seconds = time.perf_counter() - began
    return summary
