"""Training benchmark (issue 3 §6): the promise model against scikit-learn's
HistGradientBoostingClassifier on the same rows, and against the generator's oracle.

For each world size, four steps, each in its own Python process so that its peak resident
memory (``ru_maxrss``) is its own:

1. ``prepare`` — generate a world, then the backtest's own chain at ``--as-of``
   (default 2023-06-30): ingest, build and apply the features, training as-of dates every
   quarter from ``as_of - H`` back to the data's start, training rows whose label windows
   close on or before ``as_of``, point-in-time features through Feast, and the candidates
   at ``as_of`` labelled by the later data (the snapshot covers their whole window). Both
   frames go to Parquet in the benchmark's temporary folder, the held-out one with the
   oracle's ``p_true`` of each candidate at ``as_of`` (``truth/oracle.parquet``).
2. ``fit --scorer model`` — ``PromiseModel.fit`` on the training rows (the backtest's
   ``fit_model``: early stopping on the time-based validation slice, refit, calibration
   on the later slice, all as configured), timed; then the held-out rows are scored.
3. ``fit --scorer hgb`` — ``HistGradientBoostingClassifier`` on the SAME training rows
   with the SAME time split (``time_split`` with the model's configured fractions): trees
   fitted on the model's train slice with early stopping on the model's validation slice
   (passed as ``X_val``; watching the validation log-loss, scikit-learn's incremental
   path: its scorer path re-predicts all trees at every iteration, a quadratic cost that
   would time the plumbing rather than the boosting), the number of iterations cut at the
   best validation score, then refitted with that many iterations
   on the rows the model's final trees learn from (``ModelConfig.refit``). Learning rate,
   leaves, leaf size, L2 and feature sampling are the model's. Categorical features are
   native (pandas categories, the training rows' vocabulary). No class weighting and no
   separate calibration: unweighted log-loss boosting is already close to calibrated,
   and the ranking metrics do not depend on calibration. Timed the same way (both fits
   include their early-stopping pass and their refit), with the same number of threads:
   one by default. On a shared machine OpenMP's busy-waiting makes multi-threaded
   timings swing tenfold (a 10,000-row LightGBM fit took 22 s on two busy cores and 2 s
   on one), and one thread each is the like-for-like comparison anyway.
4. The parent compares: the same metrics for both scorers on the identical held-out rows,
   and precision@100 of the model against the oracle's, on the held-out candidates the
   oracle knows at ``as_of`` (its own candidate rule differs at the edges; the coverage
   is reported).

Run alone: ``python -m benchmarks.training --sizes 10000`` writes
``benchmarks/results/training.json``; ``training_suite(sizes)`` returns the records for
``benchmarks.run``.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

RESULTS_DIR = Path(__file__).parent / "results"
AS_OF = date(2023, 6, 30)
SEED = 7
TRAIN_FILE, HELDOUT_FILE = "train_rows.parquet", "heldout_rows.parquet"
MODEL, HGB, ORACLE = "promise model (LightGBM)", "HistGradientBoosting", "oracle (p_true)"
SCORERS = {"model": MODEL, "hgb": HGB}
# The metrics printed side by side; every one comes from training.metrics.ranking_report.
SHOWN = (
    "auc_roc",
    "auc_pr",
    "precision@50",
    "precision@100",
    "precision@500",
    "lift@100",
    "ndcg@100",
    "brier",
    "ece",
)
HGB_MAX_CATEGORIES = 255  # scikit-learn's limit per categorical feature (max_bins)

app = typer.Typer(add_completion=False, help="Training benchmark: promise model vs HGB vs oracle.")
console = Console()


# ------------------------------------------------------------- child-process steps


def _rss_mb() -> float:
    """Current resident memory (Linux); the peak is ``ru_maxrss``."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _emit(record: dict[str, Any]) -> None:
    print(json.dumps({**record, "peak_rss_mb": round(_peak_mb(), 1)}))


@app.command()
def prepare(
    world: Annotated[Path, typer.Option(help="Folder the world is generated into.")],
    work: Annotated[Path, typer.Option(help="Working home (lake, feature store, rows).")],
    orgs: Annotated[int, typer.Option(help="Number of organisations to generate.")],
    as_of: Annotated[str, typer.Option(help="Held-out as-of date (ISO).")] = AS_OF.isoformat(),
    seed: Annotated[int, typer.Option(help="Generator seed.")] = SEED,
) -> None:
    """Generate, ingest, build, assemble and retrieve the rows both scorers share."""
    import numpy as np
    import pandas as pd

    from talentmap.generate.world import generate_world
    from talentmap.settings import Settings
    from talentmap.training.pipeline.backtest import (
        build_features,
        load_snapshot,
        retrieve_features,
    )
    from talentmap.training.pipeline.candidates import CANDIDATE, candidate_status
    from talentmap.training.pipeline.labels import label, label_window_end
    from talentmap.training.pipeline.rows import select_training_rows

    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 3)
        clock = now

    settings = Settings(home=work)
    rules = settings.training.rules
    when = pd.Timestamp(as_of)
    generate_world(world, orgs, seed, fmt="parquet")
    lap("generate")
    snapshot = load_snapshot(settings, world)
    lap("ingest")
    if label_window_end(when, rules.horizon_months) > pd.Timestamp(snapshot.snapshot_date):
        raise SystemExit(f"the snapshot ({snapshot.snapshot_date}) does not cover {when.date()}")
    store = build_features(settings, snapshot)
    lap("build features")
    training = select_training_rows(snapshot.tables, when, rules, settings.training)
    status = candidate_status(snapshot.tables, [when], rules)
    heldout = status.loc[status["status"] == CANDIDATE, ["org_id", "as_of"]]
    heldout = heldout.reset_index(drop=True)
    y_heldout = label(snapshot.tables, heldout, rules, data_end=snapshot.snapshot_date)["label"]
    lap("assemble rows")
    train_frame = retrieve_features(settings, store, training.rows)
    heldout_frame = retrieve_features(settings, store, heldout)
    lap("retrieve (Feast)")

    oracle = pd.read_parquet(world / "truth" / "oracle.parquet")
    oracle = oracle.loc[pd.to_datetime(oracle["as_of"]) == when, ["org_id", "p_true"]]
    p_true = heldout["org_id"].map(oracle.drop_duplicates("org_id").set_index("org_id")["p_true"])
    work.mkdir(parents=True, exist_ok=True)
    train_frame.drop(columns="org_id").assign(
        org_id=training.rows["org_id"].to_numpy(),
        as_of=training.rows["as_of"].to_numpy(),
        label=training.rows["label"].to_numpy(dtype=np.int64),
    ).to_parquet(work / TRAIN_FILE, index=False)
    heldout_frame.drop(columns="org_id").assign(
        org_id=heldout["org_id"].to_numpy(),
        as_of=when,
        label=y_heldout.to_numpy(dtype=np.int64),
        p_true=p_true.to_numpy(dtype=np.float64),
    ).to_parquet(work / HELDOUT_FILE, index=False)
    _emit(
        {
            "step": "prepare rows",
            "seconds": round(sum(seconds.values()), 3),
            "phases": seconds,
            "training_rows": len(training.rows),
            "training_positives": int(training.rows["label"].sum()),
            "training_as_of_dates": len(training.dates),
            "heldout_as_of": when.date().isoformat(),
            "heldout_rows": len(heldout),
            "heldout_positives": int(y_heldout.sum()),
            "oracle_coverage": round(float(p_true.notna().mean()), 4) if len(p_true) else None,
        }
    )


def _fit_model(train: Any, features: list[str], config: Any) -> tuple[Any, dict[str, Any]]:
    from talentmap.training.pipeline.backtest import fit_model

    model = fit_model(train, train["label"], train["as_of"], config, features)
    return model, {"best_iteration": model.best_iteration_, "rows_per_slice": model.rows_}


def _categories(train: Any, categorical: list[str]) -> dict[str, list[str]]:
    vocab = {}
    for name in categorical:
        counts = train[name].dropna().astype(str).value_counts()
        vocab[name] = sorted(counts.index[:HGB_MAX_CATEGORIES].tolist())
    return vocab


def _hgb_frame(frame: Any, features: list[str], vocab: dict[str, list[str]]) -> Any:
    import pandas as pd

    out = frame[features].copy()
    for name, categories in vocab.items():
        # Unseen (or beyond the 255 most frequent) categories become missing.
        out[name] = pd.Categorical(out[name].astype("string"), categories=categories)
    return out


class HgbScorer:
    """HistGradientBoostingClassifier wired to the promise model's rows, split and knobs."""

    def __init__(self, config: Any, features: list[str], categorical: list[str]) -> None:
        self.config, self.features, self.categorical = config, features, categorical

    def _classifier(self, max_iter: int, early_stopping: bool) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier

        c = self.config
        return HistGradientBoostingClassifier(
            learning_rate=c.learning_rate,
            max_iter=max_iter,
            max_leaf_nodes=c.num_leaves,
            min_samples_leaf=c.min_child_samples,
            l2_regularization=c.lambda_l2,
            max_features=c.feature_fraction,
            categorical_features="from_dtype",
            early_stopping=early_stopping,
            # Log-loss, not average precision: scikit-learn re-predicts every tree at each
            # iteration for a scorer (quadratic in the iterations), which would time its
            # scorer plumbing instead of its boosting. The loss path is incremental.
            scoring="loss",
            n_iter_no_change=c.early_stopping_rounds,
            random_state=c.seed,
        )

    def fit(self, train: Any) -> tuple[Any, dict[str, Any]]:
        import numpy as np

        from talentmap.training.model.time_split import CALIB, TRAIN, VALID, as_of_days, time_split

        c = self.config
        split = time_split(train["as_of"], c.valid_fraction, c.calib_fraction, c.purge_dates)
        slices = split.assign(train["as_of"])
        self.vocab_ = _categories(train.loc[slices == TRAIN], self.categorical)
        x = _hgb_frame(train, self.features, self.vocab_)
        y = train["label"].to_numpy(dtype=np.int64)
        fit_rows, valid_rows = slices == TRAIN, slices == VALID
        first = self._classifier(c.n_estimators, early_stopping=True)
        first.fit(x[fit_rows], y[fit_rows], X_val=x[valid_rows], y_val=y[valid_rows])
        # validation_score_[i] is the score after i iterations (index 0: before any).
        best = max(1, int(np.argmax(first.validation_score_)))
        if c.refit == "none":
            final = self._classifier(best, early_stopping=False).fit(x[fit_rows], y[fit_rows])
        else:
            if c.refit == "all":
                rows = np.ones(len(y), dtype=bool)
            else:  # before_calib: everything up to the end of the valid slice
                rows = as_of_days(train["as_of"]).to_numpy() <= np.datetime64(max(split.valid))
            final = self._classifier(best, early_stopping=False).fit(x[rows], y[rows])
            fit_rows = rows
        self.classifier_ = final
        info = {
            "best_iteration": best,
            "iterations_before_stop": int(first.n_iter_),
            "rows_per_slice": {n: int((slices == n).sum()) for n in (TRAIN, VALID, CALIB)},
            "final_trees_rows": int(fit_rows.sum()),
        }
        return self, info

    def predict_proba(self, frame: Any) -> Any:
        return self.classifier_.predict_proba(_hgb_frame(frame, self.features, self.vocab_))


@app.command()
def fit(
    work: Annotated[Path, typer.Option(help="Working home holding the prepared rows.")],
    scorer: Annotated[str, typer.Option(help="'model' (PromiseModel) or 'hgb'.")],
    threads: Annotated[int, typer.Option(help="CPU threads the fit may use.")] = 1,
) -> None:
    """Fit one scorer on the prepared training rows, time it, score the held-out rows."""
    import numpy as np
    import pandas as pd

    from talentmap.settings import Settings
    from talentmap.training.evaluation.metrics import ranking_report, to_jsonable
    from talentmap.training.pipeline.backtest import categorical_names, feature_names

    if scorer not in SCORERS:
        raise typer.BadParameter(f"scorer must be one of {sorted(SCORERS)}")
    from threadpoolctl import threadpool_limits

    config = Settings(home=work).training.model.model_copy(update={"num_threads": threads})
    features = feature_names()
    train = pd.read_parquet(work / TRAIN_FILE)
    heldout = pd.read_parquet(work / HELDOUT_FILE)
    rss_before = _rss_mb()
    load_at_start = os.getloadavg()[0]
    # threadpool_limits caps scikit-learn's OpenMP pool; LightGBM reads num_threads.
    with threadpool_limits(limits=threads):
        started = time.perf_counter()
        if scorer == "model":
            fitted, info = _fit_model(train, features, config)
        else:
            fitted, info = HgbScorer(config, features, categorical_names(features)).fit(train)
        seconds = time.perf_counter() - started
        peak_after_fit = _peak_mb()
        score = np.asarray(fitted.predict_proba(heldout)[:, 1], dtype=np.float64)
    pd.DataFrame({"score": score}).to_parquet(work / f"scores-{scorer}.parquet", index=False)
    y = heldout["label"].to_numpy(dtype=np.int64)
    _emit(
        {
            "step": f"fit {SCORERS[scorer]}",
            "scorer": SCORERS[scorer],
            "seconds": round(seconds, 3),
            "rows": len(train),
            "rows_per_second": round(len(train) / seconds, 1) if seconds > 0 else None,
            "rss_before_fit_mb": round(rss_before, 1),
            "peak_rss_at_fit_end_mb": round(peak_after_fit, 1),
            "threads": threads,
            # The knobs both scorers share (the model helper may retune the defaults).
            "model_config": config.model_dump(mode="json"),
            # Other work on the machine slows both fits; the 1-minute load says how much.
            "load_average_1m_at_start": round(load_at_start, 2),
            "fit": info,
            "heldout_metrics": to_jsonable(ranking_report(y, score)),
        }
    )


# ------------------------------------------------------------------ the suite


def _run_step(*args: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.training", *args]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        console.print(f"[red]{args[0]} failed[/]\n{completed.stderr[-3000:]}")
        return {"step": args[0], "error": completed.stderr[-3000:]}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _oracle_record(n: int, work: Path) -> dict[str, Any]:
    """precision@100 (and the rest) of model, HGB and oracle on the oracle-covered rows."""
    import numpy as np
    import pandas as pd

    from talentmap.training.evaluation.metrics import precision_at_k, ranking_report, to_jsonable

    heldout = pd.read_parquet(work / HELDOUT_FILE, columns=["label", "p_true"])
    scores = {
        SCORERS[s]: pd.read_parquet(work / f"scores-{s}.parquet")["score"].to_numpy()
        for s in SCORERS
        if (work / f"scores-{s}.parquet").is_file()
    }
    known = heldout["p_true"].notna().to_numpy()
    y = heldout["label"].to_numpy(dtype=np.int64)[known]
    scores = {name: s[known] for name, s in scores.items()}
    scores[ORACLE] = heldout["p_true"].to_numpy(dtype=np.float64)[known]
    return {
        "orgs": n,
        "step": "precision@100 against the oracle",
        "rows": int(known.sum()),
        "coverage": round(float(known.mean()), 4) if len(known) else None,
        "base_rate": float(y.mean()) if len(y) else None,
        "precision@100": {name: precision_at_k(y, s, 100) for name, s in scores.items()},
        "metrics": {name: to_jsonable(ranking_report(y, s)) for name, s in scores.items()},
    }


def training_suite(sizes: list[int], as_of: date = AS_OF, threads: int = 1) -> list[dict]:
    """Prepare, fit the promise model, fit HGB, compare with the oracle; per world size."""
    records: list[dict] = []
    steps = ("prepare", "model", "hgb", "oracle")
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("training benchmark", total=len(sizes) * len(steps))
        for n in sizes:
            with tempfile.TemporaryDirectory(prefix=f"talentmap-bench-train-{n}-") as tmp:
                world, work = Path(tmp) / "world", Path(tmp) / "home"
                progress.update(task, description=f"{n:,} organisations: prepare rows")
                args = ("--world", str(world), "--work", str(work), "--orgs", str(n))
                prepared = {"orgs": n, **_run_step("prepare", *args, "--as-of", str(as_of))}
                records.append(prepared)
                progress.advance(task)
                if "error" in prepared:
                    progress.advance(task, len(steps) - 1)
                    continue
                for scorer in SCORERS:
                    progress.update(task, description=f"{n:,} organisations: fit {scorer}")
                    fitted = _run_step(
                        "fit", "--work", str(work), "--scorer", scorer, "--threads", str(threads)
                    )
                    records.append({"orgs": n, **fitted})
                    progress.advance(task)
                progress.update(task, description=f"{n:,} organisations: oracle")
                records.append(_oracle_record(n, work))
                progress.advance(task)
    return records


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _print(records: list[dict]) -> None:
    cost = Table(title="Training benchmark: time and memory")
    for column in ("orgs", "step", "seconds", "rows", "peak MB", "RSS before fit MB"):
        cost.add_column(column, justify="left" if column == "step" else "right")
    for r in records:
        if "seconds" not in r and "error" not in r:
            continue
        rows = r.get("rows", r.get("training_rows"))
        cost.add_row(
            f"{r['orgs']:,}",
            r.get("step", ""),
            _fmt(r.get("seconds", "error")),
            _fmt(rows),
            _fmt(r.get("peak_rss_mb"), 1),
            _fmt(r.get("rss_before_fit_mb"), 1),
        )
    console.print(cost)
    for r in records:
        if r.get("step") != "precision@100 against the oracle":
            continue
        fits = [f for f in records if f["orgs"] == r["orgs"] and "heldout_metrics" in f]
        prepared = next(p for p in records if p["orgs"] == r["orgs"] and "heldout_rows" in p)
        table = Table(
            title=(
                f"{r['orgs']:,} organisations: held-out candidates at "
                f"{prepared['heldout_as_of']} ({prepared['heldout_rows']:,} rows, "
                f"{prepared['heldout_positives']:,} positives)"
            )
        )
        table.add_column("metric")
        for f in fits:
            table.add_column(f["scorer"], justify="right")
        for key in SHOWN:
            table.add_row(key, *[_fmt(f["heldout_metrics"].get(key)) for f in fits])
        console.print(table)
        oracle = Table(
            title=(
                f"{r['orgs']:,} organisations: precision@100 on the {r['rows']:,} candidates "
                f"the oracle covers ({_fmt(r['coverage'])} of them)"
            )
        )
        oracle.add_column("scorer")
        oracle.add_column("precision@100", justify="right")
        oracle.add_column("AUC-PR", justify="right")
        for name, value in r["precision@100"].items():
            oracle.add_row(name, _fmt(value), _fmt(r["metrics"][name]["auc_pr"]))
        console.print(oracle)


def write_results(records: list[dict], started: float) -> Path:
    """``benchmarks/results/training.json``, with the machine and the total runtime."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / "training.json"
    from talentmap.training.tracking.provenance import git_state

    git = git_state()
    payload = {
        "suite": "training",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": {"commit": git.commit, "dirty": git.dirty},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "total_seconds": round(time.perf_counter() - started, 1),
        "results": records,
    }
    out.write_text(json.dumps(payload, indent=2))
    return out


@app.callback(invoke_without_command=True)
def main(
    context: typer.Context,
    sizes: Annotated[
        str, typer.Option(help="Comma-separated world sizes, in organisations.")
    ] = "10000,100000",
    as_of: Annotated[
        str, typer.Option(help="Held-out as-of date (ISO); its label window must be covered.")
    ] = AS_OF.isoformat(),
    threads: Annotated[
        int, typer.Option(help="CPU threads of each fit (1: fair and stable on a shared machine).")
    ] = 1,
) -> None:
    """Run the training suite and write benchmarks/results/training.json."""
    if context.invoked_subcommand is not None:
        return
    started = time.perf_counter()
    records = training_suite([int(s) for s in sizes.split(",")], date.fromisoformat(as_of), threads)
    _print(records)
    console.print(f"Written to {write_results(records, started)}")


if __name__ == "__main__":
    app()
