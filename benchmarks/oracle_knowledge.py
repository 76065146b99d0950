"""How much each piece of hidden knowledge is worth, against the generator's oracles:
``python -m benchmarks.oracle_knowledge``.

On fresh in-memory worlds (the generator's own functions, no files), at one as-of month,
the candidates (alive, milestone-free, founded within 5 years) are ranked by:

- the **path oracle** (``p_path``: knows the future of the hidden path);
- the **as-of oracle** (``p_true``: every hidden variable known at the date);
- the as-of oracle computed as if the trajectory were ``latent + slope * age`` (it knows
  the latent quality and the slope, not the random walk so far);
- the as-of oracle computed as if the trajectory were the latent quality alone (it knows
  ``latent``, the seed round so far, age, sector, region and the bias; not the slope or
  the walk; those are set to their mean, not integrated, so this ranks a little worse
  than the exact expectation given ``latent`` would).

AUC-PR, precision@100 and precision@500 on the realised 24-month labels, and each
scorer's ratio to the as-of oracle (per world, then averaged): a model that reads only
observable data cannot know more than ``latent`` itself, so the last line bounds what
"served / oracle" can reach on these worlds. Results go to
``benchmarks/results/oracle_knowledge.json``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).parent
DEFAULT_OUT = ROOT / "results" / "oracle_knowledge.json"
SCORERS = ("path oracle", "as-of oracle", "knows latent and slope", "knows latent only")
KS = (100, 500)

app = typer.Typer(add_completion=False, help="What each piece of hidden knowledge is worth.")
console = Console()


def measure_world(orgs_n: int, seed: int, as_of_month: int) -> dict[str, Any]:
    """AUC-PR and precision@k of the four scorers on one world at ``as_of_month``."""
    from talentmap.generate import oracle
    from talentmap.generate.calendar import HORIZON_MONTHS, MonthGrid
    from talentmap.generate.hidden import HazardPath, draw_orgs, draw_path
    from talentmap.generate.outcomes import simulate
    from talentmap.training.evaluation.metrics import auc_pr, precision_at_k

    grid = MonthGrid(date(2012, 1, 1), date(2025, 12, 31))
    rng = np.random.default_rng(seed)
    orgs = draw_orgs(rng, orgs_n, grid)
    path = draw_path(rng, orgs, grid)
    out = simulate(rng, orgs, path, grid)
    f, m = orgs.founded_month, as_of_month
    org = np.flatnonzero(
        (f <= m)
        & (m - f <= oracle.CANDIDATE_MAX_AGE_MONTHS)
        & (out.milestone_month > m)
        & (out.close_month > m)
    )
    month = np.full(org.shape[0], m)
    first = out.milestone_month[org]
    labels = ((first > m) & (first <= m + HORIZON_MONTHS)).astype(np.int64)
    age = (np.arange(grid.n_path)[None, :] - f[:, None]).astype(np.float32)

    def as_of(trajectory: np.ndarray, slope: np.ndarray) -> np.ndarray:
        known = HazardPath(trajectory, path.h_milestone, path.h_close, path.seed_month, slope)
        return oracle.asof_probability(
            np.random.default_rng(seed + 1), orgs, known, grid, org, month
        )

    latent = orgs.latent.astype(np.float32)[:, None]
    assert path.slope is not None
    scores = {
        SCORERS[0]: oracle.window_probability(path, np.array([m]))[org, 0],
        SCORERS[1]: as_of(path.trajectory, path.slope),
        SCORERS[2]: as_of(latent + path.slope[:, None] * age / 12.0, path.slope),
        SCORERS[3]: as_of(np.repeat(latent, grid.n_path, axis=1), np.zeros_like(path.slope)),
    }
    metrics = {
        name: {
            "auc_pr": float(auc_pr(labels, score)),
            **{f"precision@{k}": float(precision_at_k(labels, score, k)) for k in KS},
        }
        for name, score in scores.items()
    }
    return {
        "orgs": orgs_n,
        "seed": seed,
        "candidates": int(org.shape[0]),
        "base_rate": float(labels.mean()),
        "metrics": metrics,
    }


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean of each metric, and mean of each scorer's per-world ratio to the as-of oracle."""
    out: dict[str, Any] = {}
    for name in SCORERS:
        out[name] = {}
        for metric in records[0]["metrics"][name]:
            values = [r["metrics"][name][metric] for r in records]
            ratios = [
                r["metrics"][name][metric] / r["metrics"][SCORERS[1]][metric] for r in records
            ]
            out[name][metric] = {
                "mean": float(np.mean(values)),
                "over_as_of": float(np.mean(ratios)),
            }
    return out


@app.command()
def main(
    orgs: Annotated[int, typer.Option(help="Organisations simulated per world.")] = 10_000,
    worlds: Annotated[int, typer.Option(min=1, help="Worlds (seeds first_seed, +1, ...).")] = 8,
    first_seed: Annotated[int, typer.Option(help="Seed of the first world.")] = 1001,
    as_of_month: Annotated[
        int, typer.Option(help="As-of month index (143 = 2023-12-31, benchmarks.model's date).")
    ] = 143,
    out: Annotated[Path, typer.Option(help="JSON file the results are written to.")] = DEFAULT_OUT,
) -> None:
    """Rank candidates with more or less hidden knowledge; compare with the as-of oracle."""
    started = time.perf_counter()
    records = []
    for seed in range(first_seed, first_seed + worlds):
        records.append(measure_world(orgs, seed, as_of_month))
        console.print(f"seed {seed}: {records[-1]['candidates']:,} candidates")
    summary = summarise(records)
    table = Table(title=f"{worlds} worlds of {orgs:,} organisations, as-of month {as_of_month}")
    for column in ("scorer", "AUC-PR", "p@100", "p@500", "/ as-of AUC-PR", "p@100", "p@500"):
        table.add_column(column, justify="left" if column == "scorer" else "right")
    for name in SCORERS:
        entry = summary[name]
        metrics = ("auc_pr", "precision@100", "precision@500")
        table.add_row(
            name,
            *[f"{entry[m]['mean']:.3f}" for m in metrics],
            *[f"{entry[m]['over_as_of']:.3f}" for m in metrics],
        )
    console.print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "suite": "oracle_knowledge",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "run": {
            "orgs": orgs,
            "worlds": worlds,
            "first_seed": first_seed,
            "as_of_month": as_of_month,
        },
        "total_seconds": round(time.perf_counter() - started, 1),
        "summary": summary,
        "worlds": records,
    }
    out.write_text(json.dumps(payload, indent=2) + "\n")
    console.print(f"Written to {out}")


if __name__ == "__main__":
    app()
