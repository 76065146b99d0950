"""Model evidence benchmark (issue 9 §3): the served model against the logistic regression
and the generator's oracle, on several fresh worlds: ``python -m benchmarks.model``.

For each world (by default two sizes, 3,000 and 10,000 organisations, four seeds each;
seeds ``9101..9104`` and ``9201..9204``, used nowhere else in the repository, so no
setting was ever tuned on them):

1. the world is generated in-process, as ``talentmap generate`` does (the settings'
   generator dates and oracle spacing, Parquet files), into ``--work``/worlds, and reused
   when it is already there for that size and seed;
2. the real backtest chain (``run_backtest``: ingest, features through Feast, the promise
   model, the logistic baseline, scoring, evaluation) runs in-process with its lake,
   feature tables and Feast store in a temporary folder of its own, at the date ``train``
   uses (``latest_covered_as_of(snapshot_date, horizon)``), so the model measured is the
   one ``train`` would register and serve; its wall time is recorded (ingest included);
3. on the candidates at that date that the oracle covers (``truth/oracle.parquet``, its
   ``p_true`` and ``p_path`` at that date joined by ``org_id``; the coverage is reported,
   since the generator's candidate rule differs from the pipeline's at the edges),
   AUC-PR, precision@100 and precision@500 of the served model, the logistic regression,
   the **as-of oracle** (``p_true``: the best forecast given every hidden variable known
   at the date; issue 9's yardstick) and the **path oracle** (``p_path``: it also knows
   the future of the hidden path, so no forecaster can match it; kept for continuity with
   the figures measured before the as-of oracle existed), all on the same rows and
   labels; the ratios served / oracle and served / path oracle, and the differences
   served - logistic;
4. a table, and ``--out`` (default ``benchmarks/results/model.json``): one record per world
   and a summary (mean and worst served / oracle and served / path-oracle ratios for
   p@100, p@500 and AUC-PR, over all worlds and per world size; the number of worlds
   where the served model loses to the logistic regression on AUC-PR).

The fitted model's scorer selection (``model.selection_``: which of logistic, trees or a
blend serves, and every candidate's inner score) is written into the world's record, and
its name shown in the table.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

ROOT = Path(__file__).parent
DEFAULT_WORK = ROOT / "cache"
DEFAULT_OUT = ROOT / "results" / "model.json"
SIZES = (3000, 10000)
SEEDS_PER_SIZE = 4
# Seed of world j (0-based) of the i-th size: FIRST_SEED + 100 * i + j. Checked unused
# anywhere else in the repository (tests, benchmarks, package) when this was written.
FIRST_SEED = 9101
KS = (100, 500)
SERVED, LOGISTIC, ORACLE, PATH_ORACLE = "served", "logistic", "oracle", "path_oracle"
#: Ratio keys of a comparison: served / as-of oracle (the goal) and / path oracle.
RATIOS = {ORACLE: "served_over_oracle", PATH_ORACLE: "served_over_path_oracle"}
METRICS = ("auc_pr", "precision@100", "precision@500")
DONE_MARKER = "dataset.json"  # written last by the generator

app = typer.Typer(add_completion=False, help="Model evidence: served model vs logistic vs oracle.")
# Wide enough for the per-world ratio table when the output goes to a log file.
console = Console(width=None if sys.stdout.isatty() else 200)


# ------------------------------------------------------------------ pure functions


def world_seeds(sizes: Sequence[int], seeds_per_size: int, first_seed: int = FIRST_SEED) -> list:
    """``(size, seed)`` pairs: the i-th size gets seeds ``first_seed + 100 * i + j``."""
    if seeds_per_size > 100:
        raise ValueError("at most 100 seeds per size (they would run into the next size's)")
    return [
        (size, first_seed + 100 * i + j)
        for i, size in enumerate(sizes)
        for j in range(seeds_per_size)
    ]


def oracle_at(
    oracle: pd.DataFrame, as_of: date | pd.Timestamp | str, column: str = "p_true"
) -> pd.Series:
    """The oracle's ``column`` at ``as_of``, indexed by ``org_id`` (first row per org).

    ``p_true`` is the as-of oracle, ``p_path`` the path oracle (``data/GENERATOR.md``).
    """
    when = pd.Timestamp(as_of).normalize()
    at = oracle.loc[pd.to_datetime(oracle["as_of"]).dt.normalize() == when]
    at = at.drop_duplicates("org_id")
    return pd.Series(
        at[column].to_numpy(dtype=np.float64), index=at["org_id"].astype(str), name=column
    )


def join_oracle(candidate_ids: Sequence[str] | np.ndarray, p_true: pd.Series) -> np.ndarray:
    """``p_true`` aligned with ``candidate_ids`` (NaN where the oracle has no row)."""
    ids = pd.Index(np.asarray(candidate_ids, dtype=object).astype(str))
    return p_true.reindex(ids).to_numpy(dtype=np.float64)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``; None when either is missing/NaN or the divisor is 0."""
    if numerator is None or denominator is None:
        return None
    if math.isnan(numerator) or math.isnan(denominator) or denominator == 0:
        return None
    return numerator / denominator


def _clean(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def compare_scorers(
    labels: np.ndarray,
    served: np.ndarray,
    logistic: np.ndarray,
    p_true: np.ndarray,
    p_path: np.ndarray | None = None,
) -> dict[str, Any]:
    """AUC-PR, p@100 and p@500 of the scorers on the rows the oracle covers.

    ``labels``, ``served``, ``logistic``, ``p_true`` (the as-of oracle) and ``p_path``
    (the path oracle, optional) are aligned, one entry per candidate; ``p_true`` is NaN
    where the oracle does not cover the candidate, and those rows are left out for every
    scorer, so all are judged on the same rows.
    """
    from talentmap.training.evaluation.metrics import auc_pr, precision_at_k

    y = np.asarray(labels, dtype=np.int64)
    p = np.asarray(p_true, dtype=np.float64)
    if not (len(y) == len(served) == len(logistic) == len(p)):
        raise ValueError("labels, scores and p_true must be aligned")
    if p_path is not None and len(p_path) != len(y):
        raise ValueError("p_path must be aligned with the labels")
    known = ~np.isnan(p)
    y_known = y[known]
    scores = {
        SERVED: np.asarray(served, dtype=np.float64)[known],
        LOGISTIC: np.asarray(logistic, dtype=np.float64)[known],
        ORACLE: p[known],
    }
    if p_path is not None:
        scores[PATH_ORACLE] = np.asarray(p_path, dtype=np.float64)[known]
    metrics: dict[str, dict[str, float | None]] = {}
    for name, score in scores.items():
        metrics[name] = {"auc_pr": _clean(auc_pr(y_known, score))}
        for k in KS:
            metrics[name][f"precision@{k}"] = _clean(precision_at_k(y_known, score, k))
    served_m, logistic_m, oracle_m = metrics[SERVED], metrics[LOGISTIC], metrics[ORACLE]
    path_ratios = (
        {m: ratio(served_m[m], metrics[PATH_ORACLE][m]) for m in METRICS}
        if PATH_ORACLE in metrics
        else None
    )
    return {
        "candidates": len(y),
        "covered": int(known.sum()),
        "coverage": float(known.mean()) if len(y) else None,
        "positives_covered": int(y_known.sum()),
        # precision@k over k >= the covered rows is the base rate for every scorer.
        "ks_at_or_beyond_rows": [k for k in KS if k >= int(known.sum())],
        "base_rate_covered": float(y_known.mean()) if len(y_known) else None,
        # The oracle's expected base rate on the same rows: far from the realised one
        # would mean the labels and the oracle disagree about the promise label.
        "mean_p_true_covered": float(p[known].mean()) if known.any() else None,
        "metrics": metrics,
        "served_over_oracle": {m: ratio(served_m[m], oracle_m[m]) for m in METRICS},
        **({} if path_ratios is None else {"served_over_path_oracle": path_ratios}),
        "served_minus_logistic": {
            m: (
                None
                if served_m[m] is None or logistic_m[m] is None
                else served_m[m] - logistic_m[m]
            )
            for m in METRICS
        },
    }


def summarise(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Mean and worst served/oracle ratio per metric, and worlds lost to the logistic.

    Records with an ``"error"`` (or no comparison) count as failed; ratios that are None
    (undefined on that world) are left out of the mean and the worst, and counted.
    """
    done = [r for r in records if "error" not in r and "comparison" in r]
    summary: dict[str, Any] = {
        "worlds": len(records),
        "worlds_measured": len(done),
        "worlds_failed": len(records) - len(done),
        **_ratio_summary(done, [RATIOS[ORACLE]]),
    }
    if any(RATIOS[PATH_ORACLE] in r["comparison"] for r in done):
        summary.update(_ratio_summary(done, [RATIOS[PATH_ORACLE]]))
    sizes = sorted({r["orgs"] for r in done if "orgs" in r})
    if sizes:
        keys = [key for key in RATIOS.values() if key in summary]
        summary["by_size"] = {
            str(size): _ratio_summary([r for r in done if r.get("orgs") == size], keys)
            for size in sizes
        }
    diffs = [r["comparison"]["served_minus_logistic"]["auc_pr"] for r in done]
    summary["served_below_logistic_auc_pr"] = sum(1 for d in diffs if d is not None and d < 0)
    defined = [d for d in diffs if d is not None]
    summary["served_minus_logistic_auc_pr_mean"] = float(np.mean(defined)) if defined else None
    return summary


def _ratio_summary(done: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> dict[str, Any]:
    """Mean and worst of each ratio ``key`` per metric over ``done`` (None left out)."""
    out: dict[str, Any] = {}
    for key in keys:
        out[key] = {}
        for metric in METRICS:
            values = [r["comparison"].get(key, {}).get(metric) for r in done]
            defined = [v for v in values if v is not None]
            out[key][metric] = {
                "mean": float(np.mean(defined)) if defined else None,
                "worst": float(min(defined)) if defined else None,
                "undefined": len(values) - len(defined),
            }
    return out


def selection_of(model: Any) -> dict[str, Any] | None:
    """The model's candidate selection (``selection_``) as plain JSON, or None."""
    selection = getattr(model, "selection_", None)
    if selection is None:
        return None
    # PromiseModel's Selection says itself what is worth keeping (its name included).
    as_dict = getattr(selection, "to_dict", None)
    return json.loads(json.dumps(as_dict() if callable(as_dict) else selection, default=_plain))


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as numbers and lists; anything else as its text."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


# ------------------------------------------------------------------ one world


@dataclass(frozen=True)
class WorldSpec:
    orgs: int
    seed: int

    @property
    def name(self) -> str:
        return f"orgs{self.orgs}-seed{self.seed}"


def ensure_world(spec: WorldSpec, worlds_dir: Path) -> tuple[Path, float | None]:
    """The world's folder, generated unless already complete; the generation seconds."""
    from talentmap.generate.world import generate_world
    from talentmap.settings import Settings

    out = worlds_dir / spec.name
    oracle = out / "truth" / "oracle.parquet"
    if (out / DONE_MARKER).is_file() and oracle.is_file() and _has_path_oracle(oracle):
        return out, None
    cfg = Settings().generator
    partial = worlds_dir / f".{spec.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    started = time.perf_counter()
    generate_world(
        partial,
        spec.orgs,
        spec.seed,
        fmt="parquet",
        start=cfg.start,
        end=cfg.end,
        oracle_every_months=cfg.oracle_every_months,
    )
    seconds = time.perf_counter() - started
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    return out, seconds


def _has_path_oracle(oracle: Path) -> bool:
    """Worlds generated before the as-of oracle have only the path oracle, as p_true."""
    import pyarrow.parquet as pq

    return "p_path" in pq.read_schema(oracle).names


def _settings(home: Path, threads: int | None) -> Any:
    from talentmap.settings import Settings

    settings = Settings(home=home)
    if threads is None:
        return settings
    model = settings.training.model.model_copy(update={"num_threads": threads})
    training = settings.training.model_copy(update={"model": model})
    return settings.model_copy(update={"training": training})


def measure_world(
    spec: WorldSpec, worlds_dir: Path, as_of: date | None, threads: int | None
) -> dict[str, Any]:
    """Generate (or reuse) the world, run the backtest at train's date, compare."""
    from talentmap.training.evaluation.baselines import LOGISTIC_NAME
    from talentmap.training.pipeline.backtest import MODEL_NAME, load_snapshot, run_backtest
    from talentmap.training.pipeline.train import latest_covered_as_of

    world, generate_seconds = ensure_world(spec, worlds_dir)
    record: dict[str, Any] = {
        "orgs": spec.orgs,
        "seed": spec.seed,
        "world": str(world),
        "generate_seconds": None if generate_seconds is None else round(generate_seconds, 1),
    }
    with tempfile.TemporaryDirectory(prefix=f"talentmap-bench-model-{spec.name}-") as tmp:
        home = Path(tmp)
        settings = _settings(home, threads)
        steps: dict[str, float] = {}
        last = [time.perf_counter(), "Loading the snapshot"]

        def on_step(done: int, total: int, description: str) -> None:
            now = time.perf_counter()
            steps[str(last[1])] = round(steps.get(str(last[1]), 0.0) + now - float(last[0]), 2)
            last[:] = [now, description]

        started = time.perf_counter()
        snapshot = load_snapshot(settings, world)
        horizon = settings.training.rules.horizon_months
        when = as_of or latest_covered_as_of(snapshot.snapshot_date, horizon)
        result = run_backtest(
            settings, world, when, None, home / "out", on_step=on_step, snapshot=snapshot
        )
        backtest_seconds = time.perf_counter() - started
    if not result.evaluated or result.labels is None:
        raise RuntimeError(f"the backtest at {when} has no labels: {result.metrics['evaluation']}")
    oracle = pd.read_parquet(world / "truth" / "oracle.parquet")
    oracle_now = oracle_at(oracle, result.as_of)
    p_true = join_oracle(result.candidate_ids, oracle_now)
    p_path = join_oracle(result.candidate_ids, oracle_at(oracle, result.as_of, "p_path"))
    evaluation = result.metrics["evaluation"]
    record.update(
        snapshot_date=result.snapshot_date.isoformat(),
        as_of=result.as_of.date().isoformat(),
        backtest_seconds=round(backtest_seconds, 1),
        backtest_steps_seconds=steps,
        threads=settings.training.model.num_threads,
        training_rows=result.metrics["training"]["rows"],
        # The generator's own candidate rule at that date (a superset is expected: the
        # pipeline also needs the company to be visible in the data by then).
        oracle_rows_at_as_of=len(oracle_now),
        best_iteration=result.metrics["training"]["model"]["best_iteration"],
        all_candidates={
            "n": evaluation["n"],
            "positives": evaluation["n_positive"],
            "auc_pr": {
                SERVED: evaluation["scorers"][MODEL_NAME]["auc_pr"],
                LOGISTIC: evaluation["scorers"][LOGISTIC_NAME]["auc_pr"],
            },
        },
        comparison=compare_scorers(
            result.labels,
            result.scores[MODEL_NAME],
            result.scores[LOGISTIC_NAME],
            p_true,
            p_path,
        ),
    )
    selection = selection_of(result.model)
    if selection is not None:
        record["selection"] = selection
    return record


# ------------------------------------------------------------------ output


def _f(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.3f}"


def print_table(records: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]) -> None:
    """Two tables (scores per world and scorer; ratios per world), then the summary."""
    scores = Table(title="AUC-PR, p@100, p@500 on the oracle-covered candidates at train's date")
    for column in ("orgs", "seed", "scorer", "AUC-PR", "p@100", "p@500"):
        scores.add_column(column, justify="left" if column == "scorer" else "right")
    dates = sorted({str(r["as_of"]) for r in records if "as_of" in r})
    ratios = Table(
        title=(
            f"Per world at {', '.join(dates) or 'n/a'}: s = served, l = logistic, o = as-of "
            "oracle, po = path oracle; AP = AUC-PR; secs = backtest wall time"
        )
    )
    for column in (
        "orgs",
        "seed",
        "cand.",
        "cover",
        "pos.",
        "s/o AP",
        "s/o p100",
        "s/o p500",
        "s/po AP",
        "s/po p100",
        "s/po p500",
        "s-l AP",
        "secs",
        "served as",
    ):
        ratios.add_column(column, justify="left" if column == "served as" else "right")
    for r in records:
        if "error" in r:
            ratios.add_row(_f(r["orgs"]), str(r["seed"]), "[red]error[/]", *[""] * 11)
            continue
        c = r["comparison"]
        for name in (SERVED, LOGISTIC, ORACLE, PATH_ORACLE):
            if name not in c["metrics"]:
                continue
            m = c["metrics"][name]
            scores.add_row(
                _f(r["orgs"]), str(r["seed"]), name, *[_f(m[metric]) for metric in METRICS]
            )
        scores.add_section()
        ratios.add_row(
            _f(r["orgs"]),
            str(r["seed"]),
            _f(c["candidates"]),
            _f(c["coverage"]),
            _f(c["positives_covered"]),
            *[_f(c["served_over_oracle"][metric]) for metric in METRICS],
            *[_f(c.get("served_over_path_oracle", {}).get(metric)) for metric in METRICS],
            _signed(c["served_minus_logistic"]["auc_pr"]),
            _f(r["backtest_seconds"], 1),
            escape(str((r.get("selection") or {}).get("name", ""))),  # "[binary]" stays
        )
    console.print(scores)
    console.print(ratios)
    summary_table = Table(
        title="Summary: served / as-of oracle (the goal) and served / path oracle"
    )
    for column in ("ratio", "worlds", "metric", "mean", "worst", "undefined"):
        summary_table.add_column(column, justify="left" if column == "ratio" else "right")
    groups = [("all", summary)] + [
        (f"{int(size):,} orgs", entry) for size, entry in summary.get("by_size", {}).items()
    ]
    for label, key in ((ORACLE, RATIOS[ORACLE]), (PATH_ORACLE, RATIOS[PATH_ORACLE])):
        for group, entries in groups:
            if key not in entries:
                continue
            for metric in METRICS:
                entry = entries[key][metric]
                summary_table.add_row(
                    f"served / {label.replace('_', ' ')}",
                    group,
                    metric,
                    _f(entry["mean"]),
                    _f(entry["worst"]),
                    _f(entry["undefined"]),
                )
            summary_table.add_section()
    console.print(summary_table)
    console.print(
        f"served below logistic on AUC-PR: {summary['served_below_logistic_auc_pr']} of "
        f"{summary['worlds_measured']} worlds (mean served - logistic "
        f"{_signed(summary['served_minus_logistic_auc_pr_mean'])}); "
        f"failed: {summary['worlds_failed']}"
    )


def write_results(
    out: Path, records: list[dict], summary: dict, started: float, **run: Any
) -> None:
    from talentmap.training.tracking.provenance import git_state

    git = git_state()
    payload = {
        "suite": "model",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": {"commit": git.commit, "dirty": git.dirty},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "run": run,
        "total_seconds": round(time.perf_counter() - started, 1),
        "summary": summary,
        "worlds": records,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n")


# ------------------------------------------------------------------ command


@app.command()
def main(
    sizes: Annotated[
        str, typer.Option(help="Comma-separated world sizes, in organisations.")
    ] = ",".join(str(s) for s in SIZES),
    seeds_per_size: Annotated[
        int,
        typer.Option(
            min=1,
            max=100,
            help=f"Worlds per size; the i-th size uses seeds {FIRST_SEED} + 100*i + 0, 1, ...",
        ),
    ] = SEEDS_PER_SIZE,
    work: Annotated[
        Path,
        typer.Option(help="Cache folder: generated worlds go to WORK/worlds and are reused."),
    ] = DEFAULT_WORK,
    out: Annotated[Path, typer.Option(help="JSON file the results are written to.")] = DEFAULT_OUT,
    as_of: Annotated[
        str | None,
        typer.Option(
            help=(
                "Backtest date (YYYY-MM-DD) for every world; default: the one `train` uses, "
                "the snapshot date minus the label horizon."
            )
        ),
    ] = None,
    keep_going: Annotated[
        bool,
        typer.Option(
            "--keep-going/--stop-on-error",
            help="Record a failing world and go on with the next one, instead of stopping.",
        ),
    ] = False,
    threads: Annotated[
        int | None,
        typer.Option(
            min=1,
            help=(
                "LightGBM threads of the fit (default 1: stable on a shared machine; the "
                "fit is deterministic, so the thread count does not choose the model)."
            ),
        ),
    ] = 1,
) -> None:
    """Measure the served model against the logistic regression and the oracle."""
    started = time.perf_counter()
    specs = [
        WorldSpec(size, seed)
        for size, seed in world_seeds([int(s) for s in sizes.split(",")], seeds_per_size)
    ]
    when = date.fromisoformat(as_of) if as_of else None
    worlds_dir = work / "worlds"
    worlds_dir.mkdir(parents=True, exist_ok=True)
    records: list[dict] = []
    for index, spec in enumerate(specs, 1):
        console.print(
            f"[bold]{index}/{len(specs)}[/] {spec.orgs:,} organisations, seed {spec.seed}"
        )
        try:
            record = measure_world(spec, worlds_dir, when, threads)
        except Exception as error:  # recorded, or re-raised below
            if not keep_going:
                raise
            console.print(f"[red]failed:[/] {error!r}")
            record = {
                "orgs": spec.orgs,
                "seed": spec.seed,
                "error": repr(error),
                "traceback": traceback.format_exc()[-3000:],
            }
        else:
            c = record["comparison"]
            console.print(
                f"  as-of {record['as_of']}: {c['candidates']:,} candidates, coverage "
                f"{c['coverage']:.3f}, AUC-PR served {_f(c['metrics'][SERVED]['auc_pr'])} "
                f"logistic {_f(c['metrics'][LOGISTIC]['auc_pr'])} oracle "
                f"{_f(c['metrics'][ORACLE]['auc_pr'])} path oracle "
                f"{_f(c['metrics'].get(PATH_ORACLE, {}).get('auc_pr'))}; "
                f"backtest {record['backtest_seconds']} s"
                + (
                    ""
                    if record["generate_seconds"] is None
                    else f", generated in {record['generate_seconds']} s"
                )
            )
        records.append(record)
        # Written after every world: a long run that is stopped keeps what it measured.
        summary = summarise(records)
        write_results(
            out,
            records,
            summary,
            started,
            sizes=sizes,
            seeds_per_size=seeds_per_size,
            as_of=as_of,
            threads=threads,
        )
    summary = summarise(records)
    print_table(records, summary)
    console.print(f"Written to {out}")


if __name__ == "__main__":
    app()
