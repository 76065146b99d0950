"""Serving benchmark (issue 4 §4): ``/shortlist`` with k = 50 at concurrency 1, 8 and 32,
over 100,000 candidates, against a minimal Starlette app serving the same ranking.

How the 100,000 candidates are made: a generated world is trained on and a champion is
promoted through the real pipeline (``training.train.train`` + the promotion gate); then
its *current candidates* are replicated at the raw-data level (organisations with their
rounds, investors, programmes, headcount, postings, publications, founders and their
education, every id suffixed) until there are 100,000 of them, and that expanded world
goes through the real ingest, feature build, Feast apply and materialization. The
BentoML service then starts exactly as in production (``talentmap serve``): champion
from the registry, candidates from the lake, features from the Feast online store. The
time from launching it to ``/readyz`` answering 200 is reported.

The reference is a plain Starlette app under uvicorn, in its own process, that serves the
*same* ranking object (computed once here with the service's own code, handed over as a
pickle in the benchmark's private temporary folder) through the same
``answers.shortlist`` function, without authentication or audit. Both are measured in the
same run, by the same asyncio client, on loopback, with a fixed number of requests per
concurrency level. Results: ``benchmarks/results/serving.json``.

Run: ``python -m benchmarks.serving`` (``--candidates`` and ``--requests`` to shrink it).
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from talentmap.settings import Settings

RESULTS_DIR = Path(__file__).parent / "results"
BASE_ORGS, BASE_SEED = 2000, 5
CONCURRENCY = (1, 8, 32)
BENCH_KEY = "benchmark-key-0123456789abcdef0123456789"
READY_TIMEOUT_S = 900
console = Console()

# Tables keyed by org_id and how their other unique ids are suffixed for each copy.
_ORG_TABLES = ("organizations", "funding_rounds", "programs", "headcount", "job_postings", "exits")


def _suffix(values: pd.Series, tag: str) -> pd.Series:
    return values.astype(object).where(values.isna(), values.astype(str) + tag)


def expand_world(
    tables: dict[str, pd.DataFrame], org_ids: list[str], copies: int
) -> dict[str, pd.DataFrame]:
    """The world plus ``copies`` renamed copies of everything about ``org_ids``."""
    wanted = set(org_ids)
    roles = tables.get("roles")
    persons = (
        set(roles.loc[roles["org_id"].isin(wanted), "person_id"]) if roles is not None else set()
    )
    rounds = tables["funding_rounds"]
    round_ids = set(rounds.loc[rounds["org_id"].isin(wanted), "round_id"])
    out = {name: [frame] for name, frame in tables.items()}
    for j in range(1, copies + 1):
        tag = f"-x{j}"
        for name in _ORG_TABLES:
            frame = tables.get(name)
            if frame is None:
                continue
            part = frame.loc[frame["org_id"].isin(wanted)].copy()
            part["org_id"] = _suffix(part["org_id"], tag)
            if name == "funding_rounds":
                part["round_id"] = _suffix(part["round_id"], tag)
            out[name].append(part)
        if "investments" in tables:
            inv = tables["investments"]
            part = inv.loc[inv["round_id"].isin(round_ids)].copy()
            part["round_id"] = _suffix(part["round_id"], tag)
            out["investments"].append(part)
        for name in ("people", "education"):
            if name in tables:
                frame = tables[name]
                part = frame.loc[frame["person_id"].isin(persons)].copy()
                part["person_id"] = _suffix(part["person_id"], tag)
                out[name].append(part)
        if roles is not None:
            part = roles.loc[roles["org_id"].isin(wanted)].copy()
            part["org_id"] = _suffix(part["org_id"], tag)
            part["person_id"] = _suffix(part["person_id"], tag)
            out["roles"].append(part)
        if "publications" in tables:
            pubs = tables["publications"]
            mask = pubs["org_id"].isin(wanted) | pubs["person_id"].isin(persons)
            part = pubs.loc[mask].copy()
            part["pub_id"] = _suffix(part["pub_id"], tag)
            part["org_id"] = _suffix(part["org_id"].where(part["org_id"].isin(wanted)), tag)
            part["person_id"] = _suffix(
                part["person_id"].where(part["person_id"].isin(persons)), tag
            )
            out["publications"].append(part)
    return {name: pd.concat(parts, ignore_index=True) for name, parts in out.items()}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> float:
    import httpx

    started = time.perf_counter()
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} not ready after {READY_TIMEOUT_S}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _launch(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def _load(url: str, headers: dict[str, str], concurrency: int, n: int) -> dict[str, Any]:
    """``n`` POST /shortlist (k=50) with ``concurrency`` in flight; latencies and errors."""
    import httpx

    body = {"k": 50, "include_explanations": True}
    latencies: list[float] = []
    errors = 0
    counter = iter(range(n))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60) as c:

        async def worker() -> None:
            nonlocal errors
            checked = False
            for _ in counter:
                started = time.perf_counter()
                try:
                    response = await c.post("/shortlist", json=body)
                except httpx.HTTPError:  # a timeout is a failed request, not a crashed run
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors += 1
                elif not checked:  # parse one answer per worker: the client stays light
                    checked = True
                    errors += len(response.json()["candidates"]) != 50

        for _ in range(min(20, n)):  # warm-up, not counted
            await c.post("/shortlist", json=body)
        wall = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - wall
    ms = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    return {
        "concurrency": concurrency,
        "requests": n,
        "errors": errors,
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "throughput_rps": round(len(latencies) / wall, 1),  # answered requests only
    }


def _prepare(home: Path, candidates: int) -> tuple[Any, dict[str, str], int]:
    """Train and promote on a base world, then expand it to ``candidates`` and load it."""
    from talentmap.features.store import materialize
    from talentmap.generate.world import generate_world
    from talentmap.lake import Lake
    from talentmap.serving.auth import hash_key
    from talentmap.serving.inputs import load_inputs
    from talentmap.settings import Settings
    from talentmap.settings.model import ModelConfig
    from talentmap.settings.serving import ServingConfig
    from talentmap.settings.training import TrainingConfig
    from talentmap.training.pipeline.backtest import build_features, load_snapshot
    from talentmap.training.pipeline.train import train
    from talentmap.training.tracking.registry import promote
    from talentmap.training.tracking.target import resolve_target

    settings = Settings(home=home, training=TrainingConfig(model=ModelConfig(num_threads=2)))
    base = home / "base-world"
    with console.status("Generating and training on the base world"):
        generate_world(base, BASE_ORGS, BASE_SEED, fmt="parquet")
        train(settings, base, home / "train")
        decision = promote(resolve_target(settings), margin=0.0)
        if not decision.promoted:
            raise RuntimeError(decision.reason)
    lake = Lake(settings.lake_dir)
    base_inputs = load_inputs(settings, ServingConfig())
    copies = max(0, -(-candidates // max(1, len(base_inputs.candidate_ids))) - 1)
    expanded = home / "expanded-world"
    with console.status(f"Replicating {len(base_inputs.candidate_ids)} candidates x{copies + 1}"):
        tables = expand_world(
            lake.load(base_inputs.lake_snapshot_id), list(base_inputs.candidate_ids), copies
        )
        expanded.mkdir()
        for name, frame in tables.items():
            frame.to_parquet(expanded / f"{name}.parquet", index=False)
        (expanded / "dataset.json").write_text(
            json.dumps(
                {
                    "name": "serving-benchmark",
                    "snapshot_date": base_inputs.snapshot_date.isoformat(),
                }
            )
        )
    with console.status("Ingest, feature build, Feast apply and materialize (expanded world)"):
        snapshot = load_snapshot(settings, expanded)
        build_features(settings, snapshot)
        materialize(settings, snapshot.snapshot_date)
    keys = json.dumps([{"name": "bench", "role": "staff", "sha256": hash_key(BENCH_KEY)}])
    env = {
        "TALENTMAP_HOME": str(home),
        "TALENTMAP_SERVING__API_KEYS": keys,
        "TALENTMAP_SERVING__RELOAD_POLL_SECONDS": "0",
        "TALENTMAP_SERVING__RATE_LIMIT_PER_MINUTE": "0",  # measure the service, not the limit
        "BENTOML_HOME": str(home / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "True",
    }
    return settings, env, copies + 1


def _reference_ranking(settings: Settings, out: Path) -> int:
    """The same ranking as the service's, built by the service's code, pickled for the
    reference process (a private temporary file of this run)."""
    from talentmap.serving.champion import load_champion
    from talentmap.serving.state import ServingState
    from talentmap.settings.serving import ServingConfig

    config = ServingConfig(reload_poll_seconds=0)
    state = ServingState(settings, config)
    champion, model = load_champion(state.target, config.alias, settings.path(config.cache_dir))
    served = state.build(champion, model)
    with out.open("wb") as handle:
        pickle.dump(served.ranking, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return len(served.ranking)


def reference_app(ranking_path: Path) -> Any:
    """The minimal Starlette app over a pickled ranking (``run``)."""
    with ranking_path.open("rb") as handle:
        ranking = pickle.load(handle)
    return _bare_app(ranking)


def published_reference_app() -> Any:
    """The minimal Starlette app over the published ranking (``published``): the same
    file the service maps, read by the service's own ``ranking_from_published``.

    A factory named by import string (``uvicorn --factory``) so that every uvicorn worker
    builds it; the tables folder comes from ``TALENTMAP_BENCH_TABLES``.
    """
    from talentmap.serving.ranking import RankingLineage, ranking_from_published
    from talentmap.training.pipeline import ranking_file

    published = ranking_file.read_ranking(Path(os.environ[REFERENCE_TABLES_ENV]))
    if published is None:
        raise RuntimeError("no published ranking to serve")
    meta = published.meta
    lineage = RankingLineage(
        model_name="talent-promise",
        model_version=str(meta["model_version"]),
        run_id=meta.get("run_id"),
        feature_snapshot_id=meta.get("feature_snapshot_id"),
        lake_snapshot_id=meta.get("lake_snapshot_id"),
        as_of=pd.Timestamp(meta["as_of"]).date(),
        ranking_id=str(meta["ranking_id"]),
    )
    return _bare_app(ranking_from_published(published, None, lineage))  # type: ignore[arg-type]


def _bare_app(ranking: Any) -> Any:
    """Parse, validate, answer from ``ranking`` with the service's ``answers.shortlist``;
    no authentication, audit, rate limit or per-request file checks."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    from talentmap.serving.answers import shortlist
    from talentmap.serving.schemas import ShortlistRequest

    async def answer(request: Request) -> JSONResponse:
        query = ShortlistRequest.model_validate_json(await request.body())
        return JSONResponse(shortlist(ranking, query, 50))

    async def ready(_: Request) -> PlainTextResponse:
        return PlainTextResponse("\n")

    return Starlette(
        routes=[Route("/shortlist", answer, methods=["POST"]), Route("/readyz", ready)]
    )


REFERENCE_TABLES_ENV = "TALENTMAP_BENCH_TABLES"


app = typer.Typer(add_completion=False)


@app.command()
def reference(
    port: Annotated[int, typer.Option(help="Loopback port.")],
    ranking: Annotated[
        Path | None, typer.Option(help="Pickled ranking written by the benchmark.")
    ] = None,
    published_tables: Annotated[
        Path | None, typer.Option(help="Feature tables folder holding a published ranking.")
    ] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
) -> None:
    """Serve the reference app under uvicorn (started by the benchmark itself)."""
    import uvicorn

    if published_tables is not None:
        os.environ[REFERENCE_TABLES_ENV] = str(published_tables)
        uvicorn.run(
            "benchmarks.serving:published_reference_app",
            factory=True,
            host="127.0.0.1",
            port=port,
            workers=workers,
            log_level="warning",
        )
        return
    if ranking is None:
        raise typer.BadParameter("--ranking or --published-tables")
    uvicorn.run(reference_app(ranking), host="127.0.0.1", port=port, log_level="warning")


@app.command()
def run(
    candidates: Annotated[int, typer.Option(help="Candidates to rank.")] = 100_000,
    requests: Annotated[int, typer.Option(help="Requests per concurrency level.")] = 1000,
) -> None:
    """Measure BentoML vs Starlette and write benchmarks/results/serving.json."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="talentmap-bench-serving-") as tmp:
        home = Path(tmp)
        settings, env, factor = _prepare(home, candidates)
        with console.status("Ranking for the reference app"):
            started = time.perf_counter()
            n = _reference_ranking(settings, home / "ranking.pkl")
            results["reference_ranking_build_seconds"] = round(time.perf_counter() - started, 2)
        console.print(f"{n:,} candidates ranked (base candidates replicated x{factor}).")
        servers = {}
        port = _free_port()
        bento = _launch(
            [
                sys.executable,
                "-m",
                "talentmap.serving.commands.serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env,
            home / "bentoml.log",
        )
        servers["bentoml"] = (
            f"http://127.0.0.1:{port}",
            bento,
            {"Authorization": f"Bearer {BENCH_KEY}"},
        )
        try:
            with console.status("Starting the BentoML service (start to ready)"):
                results["bentoml_start_to_ready_seconds"] = round(
                    _wait_ready(servers["bentoml"][0], bento, home / "bentoml.log"), 2
                )
            port = _free_port()
            ref = _launch(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.serving",
                    "reference",
                    "--ranking",
                    str(home / "ranking.pkl"),
                    "--port",
                    str(port),
                ],
                {},
                home / "reference.log",
            )
            servers["starlette"] = (f"http://127.0.0.1:{port}", ref, {})
            # It only unpickles the ranking: not comparable with the service's start-up.
            results["starlette_start_to_ready_seconds_from_pickle"] = round(
                _wait_ready(servers["starlette"][0], ref, home / "reference.log"), 2
            )
            levels = []
            for concurrency in CONCURRENCY:
                row: dict[str, Any] = {"concurrency": concurrency}
                for name, (url, _, headers) in servers.items():
                    console.print(f"[dim]{name}: concurrency {concurrency}…[/]")
                    row[name] = asyncio.run(_load(url, headers, concurrency, requests))
                row["throughput_ratio_starlette_over_bentoml"] = round(
                    row["starlette"]["throughput_rps"] / row["bentoml"]["throughput_rps"], 2
                )
                row["p50_ratio_bentoml_over_starlette"] = round(
                    row["bentoml"]["p50_ms"] / row["starlette"]["p50_ms"], 2
                )
                levels.append(row)
            results["levels"] = levels
        finally:
            for _, process, _ in servers.values():
                _stop(process)
    results.update(candidates=n, k=50, requests_per_level=requests)
    _report(results)


MILLION = 1_000_000  # the national size: behind --million (minutes, ~3 GB of files)


def synthetic_ranking(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """A ranking of ``n`` made-up candidates in the published format (ranking, founders,
    known ids), with reasons for the top 1000: what the retrain chain's publish writes."""
    from talentmap.training.pipeline import ranking_file

    rng = np.random.default_rng(seed)
    ids = np.array([f"org-{i:07d}" for i in range(n)], dtype=object)
    scores = np.sort(rng.random(n))[::-1]
    regions = np.array(["Occitanie", "Bretagne", "Île-de-France", "Grand Est"], dtype=object)
    sectors = np.array(["fintech", "saas", "biotech", "energy", "mobility"], dtype=object)
    reason = json.dumps({"feature": "n_rounds", "value": 2.0, "contribution": 0.4, "text": "x"})
    frame = pd.DataFrame(
        {
            "org_id": ids,
            "name": [f"Company {i}" for i in range(n)],
            "country": "FR",
            "region": regions[rng.integers(0, len(regions), n)],
            "city": "Somewhere",
            "sector": sectors[rng.integers(0, len(sectors), n)],
            "founded_on": pd.to_datetime("2018-01-01")
            + pd.to_timedelta(rng.integers(0, 2500, n), unit="D"),
            "score": scores,
            "rank": np.arange(1, n + 1, dtype=np.int64),
            "percentile": ranking_file.percentiles(scores),
        }
    )
    for column in ranking_file.REASON_COLUMNS:
        frame[column] = pd.Series([reason] * min(n, 1000) + [None] * max(0, n - 1000))
    founders = pd.DataFrame(
        {
            "org_id": np.repeat(ids, 2),
            "person_id": [f"p{i}" for i in range(2 * n)],
            "name": [f"Person {i}" for i in range(2 * n)],
            "role": "founder",
        }
    )
    return frame, founders, list(ids)


def _load_in_process(tables_dir: Path) -> float:
    """Seconds to map the published files and build the served ranking (no model call)."""
    from talentmap.serving.ranking import RankingLineage, ranking_from_published
    from talentmap.training.pipeline import ranking_file

    started = time.perf_counter()
    published = ranking_file.read_ranking(tables_dir)
    assert published is not None
    meta = published.meta
    lineage = RankingLineage("m", "1", None, None, None, pd.Timestamp(meta["as_of"]).date(), "r")
    ranking_from_published(published, None, lineage)  # type: ignore[arg-type]
    return time.perf_counter() - started


# What a worker logs when it serves the published file before the registry answers (the
# fast start), and when its champion is confirmed by the registry.
SERVING_LINE = "mapped from the published ranking"
CONFIRMED_LINE = "loaded from the published ranking"


def _loaded_workers(log: Path, needle: str = CONFIRMED_LINE) -> int:
    """Workers that logged ``needle`` so far."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return text.count(needle)


def _wait_all_loaded(
    log: Path, workers: int, process: subprocess.Popen[bytes], needle: str = CONFIRMED_LINE
) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while _loaded_workers(log, needle) < workers:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                f"not every worker loaded:\n{log.read_text(errors='replace')[-3000:]}"
            )
        time.sleep(0.1)


def _serve_published(
    home: Path, env: dict[str, str], size: int, workers: int, requests: int, tables: Path
) -> dict[str, Any]:
    """One (size, workers) point: start-to-ready of ``talentmap serve``, then /shortlist
    against the bare Starlette app over the same file with as many uvicorn workers."""
    import httpx

    out: dict[str, Any] = {"candidates": size, "workers": workers}
    log = home / f"bentoml-{size}x{workers}.log"
    port = _free_port()
    argv = [sys.executable, "-m", "talentmap.serving.commands.serve"]
    argv += ["--host", "127.0.0.1", "--port", str(port)]
    server = _launch(argv, {**env, "TALENTMAP_SERVING__WORKERS": str(workers)}, log)
    servers: dict[str, tuple[str, subprocess.Popen[bytes], dict[str, str]]] = {}
    started = time.perf_counter()
    try:
        url = f"http://127.0.0.1:{port}"
        servers["bentoml"] = (url, server, {"Authorization": f"Bearer {BENCH_KEY}"})
        out["start_to_ready_seconds"] = round(_wait_ready(url, server, log), 2)
        while True:  # the first answer (from whichever worker the request reaches)
            answer = httpx.post(
                f"{url}/shortlist",
                json={"k": 50, "include_explanations": True},
                headers=servers["bentoml"][2],
                timeout=60,
            )
            if answer.status_code == 200 or time.perf_counter() - started > READY_TIMEOUT_S:
                break
            time.sleep(0.05)
        out["start_to_first_shortlist_seconds"] = round(time.perf_counter() - started, 2)
        _wait_all_loaded(log, workers, server, SERVING_LINE)
        out["start_to_all_workers_serving_seconds"] = round(time.perf_counter() - started, 2)
        _wait_all_loaded(log, workers, server)
        # every worker's champion confirmed by the registry (MLflow's import and client,
        # the model's load: in the background, after ready)
        out["start_to_all_workers_loaded_seconds"] = round(time.perf_counter() - started, 2)
        model = httpx.get(f"{url}/model", headers=servers["bentoml"][2], timeout=30).json()
        out["source"] = model["ranking"]["source"]
        out["served_candidates"] = model["ranking"]["candidates"]
        out["build_seconds_in_worker"] = model["ranking"]["build_seconds"]
        ref_port = _free_port()
        ref_log = home / f"reference-{size}x{workers}.log"
        ref = _launch(
            [
                *(sys.executable, "-m", "benchmarks.serving", "reference"),
                *("--published-tables", str(tables), "--port", str(ref_port)),
                *("--workers", str(workers)),
            ],
            {},
            ref_log,
        )
        ref_url = f"http://127.0.0.1:{ref_port}"
        servers["starlette"] = (ref_url, ref, {})
        out["starlette_start_to_ready_seconds"] = round(_wait_ready(ref_url, ref, ref_log), 2)
        for where, _, _ in servers.values():  # every worker up, not only the first
            in_a_row = 0
            while in_a_row < 20:
                ok = httpx.get(f"{where}/readyz", timeout=5).status_code == 200
                in_a_row = in_a_row + 1 if ok else 0
                time.sleep(0.05 if ok else 0.5)
        levels = []
        for concurrency in CONCURRENCY:
            row: dict[str, Any] = {"concurrency": concurrency}
            for name, (where, _, headers) in servers.items():
                console.print(f"[dim]{size:,} x{workers} {name}: concurrency {concurrency}…[/]")
                row[name] = asyncio.run(_load(where, headers, concurrency, requests))
            row["throughput_ratio_starlette_over_bentoml"] = round(
                row["starlette"]["throughput_rps"] / row["bentoml"]["throughput_rps"], 2
            )
            row["p99_ratio_bentoml_over_starlette"] = round(
                row["bentoml"]["p99_ms"] / row["starlette"]["p99_ms"], 2
            )
            levels.append(row)
        out["levels"] = levels
    finally:
        for _, process, _ in servers.values():
            _stop(process)
        _stop(server)
    return out


@app.command()
def published(
    candidates: Annotated[int, typer.Option(help="Candidates in the synthetic ranking.")] = 100_000,
    workers: Annotated[
        list[int] | None, typer.Option(help="Service workers; repeat for several (1 and 2).")
    ] = None,
    million: Annotated[
        bool, typer.Option("--million", help="Also measure at 1,000,000 candidates.")
    ] = False,
    requests: Annotated[int, typer.Option(help="Requests per concurrency level.")] = 1000,
) -> None:
    """Issue 10 on the published path; writes benchmarks/results/serving_published.json.

    A small world goes through ``talentmap retrain`` (a real champion, a real publish);
    its published ranking is then replaced by a synthetic one of N candidates naming that
    champion. For each size and worker count: ``talentmap serve`` timed from launch to
    ``/readyz`` (and to every worker's load), then ``/shortlist`` (k=50, with reasons)
    p50/p99 and throughput at concurrency 1, 8, 32, against the bare Starlette app over
    the same file with as many uvicorn workers, in the same run, by the same client.
    """
    from talentmap.generate.world import generate_world
    from talentmap.serving.auth import hash_key
    from talentmap.settings import Settings
    from talentmap.settings.model import ModelConfig
    from talentmap.settings.training import TrainingConfig
    from talentmap.training.pipeline import ranking_file
    from talentmap.training.pipeline.retrain import retrain

    counts = workers or [1, 2]
    sizes = [candidates] + ([MILLION] if million and candidates != MILLION else [])
    points: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="talentmap-bench-published-") as tmp:
        home = Path(tmp)
        settings = Settings(home=home, training=TrainingConfig(model=ModelConfig(num_threads=1)))
        with console.status("A small world through talentmap retrain"):
            generate_world(home / "world", 600, BASE_SEED)
            retrain(settings, home / "world")
        real = ranking_file.read_ranking(settings.feature_tables_dir)
        assert real is not None
        meta = {k: v for k, v in real.meta.items() if k not in ("format", "rows")}
        env = {
            "TALENTMAP_HOME": str(home),
            "TALENTMAP_SERVING__API_KEYS": json.dumps(
                [{"name": "bench", "role": "staff", "sha256": hash_key(BENCH_KEY)}]
            ),
            "TALENTMAP_SERVING__RATE_LIMIT_PER_MINUTE": "0",
            "TALENTMAP_SERVING__RELOAD_POLL_SECONDS": "0",
            "BENTOML_HOME": str(home / "bentoml"),
            "BENTOML_DO_NOT_TRACK": "True",
        }
        for size in sizes:
            with console.status(f"A synthetic published ranking of {size:,} candidates"):
                frame, founders, known = synthetic_ranking(size)
                started = time.perf_counter()
                ranking_file.write_ranking(real.folder.parent, frame, founders, known, meta)
                write_seconds = round(time.perf_counter() - started, 2)
                del frame, founders, known
            sizes_on_disk = {p.name: p.stat().st_size for p in real.folder.iterdir()}
            in_process = round(_load_in_process(settings.feature_tables_dir), 3)
            for count in counts:
                point = _serve_published(
                    home, env, size, count, requests, settings.feature_tables_dir
                )
                point.update(
                    load_average_1m=round(os.getloadavg()[0], 1),  # a shared machine
                    write_seconds=write_seconds,
                    file_bytes=sizes_on_disk,
                    load_in_process_seconds=in_process,
                    measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
                )
                points.append(point)
                _write_published(points, requests)  # each point as soon as it is measured
    _report_published(points, requests)


def _report_published(points: list[dict[str, Any]], requests: int) -> None:
    table = Table(title="Published path: /shortlist k=50 with reasons, BentoML vs bare Starlette")
    heads = ("candidates", "workers", "ready s", "1st answer s", "all serving s", "confirmed s")
    for column in (*heads, "c", "server"):
        table.add_column(column, justify="right")
    for column in ("p50 ms", "p99 ms", "req/s", "errors"):
        table.add_column(column, justify="right")
    for point in points:
        for level in point["levels"]:
            for name in ("bentoml", "starlette"):
                r = level[name]
                table.add_row(
                    f"{point['candidates']:,}",
                    str(point["workers"]),
                    *(
                        f"{point.get(key, float('nan')):.1f}" if name == "bentoml" else ""
                        for key in (
                            "start_to_ready_seconds",
                            "start_to_first_shortlist_seconds",
                            "start_to_all_workers_serving_seconds",
                            "start_to_all_workers_loaded_seconds",
                        )
                    ),
                    str(level["concurrency"]),
                    name,
                    f"{r['p50_ms']:.1f}",
                    f"{r['p99_ms']:.1f}",
                    f"{r['throughput_rps']:.0f}",
                    str(r["errors"]),
                )
    console.print(table)
    console.print(f"Written to {_write_published(points, requests)}")


def _write_published(points: list[dict[str, Any]], requests: int) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / "serving_published.json"
    try:  # one entry per (candidates, workers); entries of other shapes are kept
        runs = json.loads(out.read_text())["runs"]
    except (OSError, ValueError, KeyError):
        runs = {}
    for point in points:
        runs[f"{point['candidates']}x{point['workers']}"] = point
    payload = {
        "suite": "serving_published",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "k": 50,
        "requests_per_level": requests,
        "runs": runs,
    }
    out.write_text(json.dumps(payload, indent=2))
    return out


def _report(results: dict[str, Any]) -> None:
    table = Table(title=f"/shortlist k=50 over {results['candidates']:,} candidates")
    for column in ("server", "concurrency", "p50 ms", "p99 ms", "req/s", "errors"):
        table.add_column(column, justify="right" if column != "server" else "left")
    for level in results["levels"]:
        for name in ("bentoml", "starlette"):
            r = level[name]
            table.add_row(
                name,
                str(r["concurrency"]),
                f"{r['p50_ms']:.1f}",
                f"{r['p99_ms']:.1f}",
                f"{r['throughput_rps']:.0f}",
                str(r["errors"]),
            )
    console.print(table)
    for level in results["levels"]:
        console.print(
            f"concurrency {level['concurrency']}: Starlette/BentoML throughput "
            f"x{level['throughput_ratio_starlette_over_bentoml']}"
        )
    console.print(f"BentoML start to ready: {results['bentoml_start_to_ready_seconds']} s")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / "serving.json"
    payload = {
        "suite": "serving",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "results": results,
    }
    out.write_text(json.dumps(payload, indent=2))
    console.print(f"Written to {out}")


if __name__ == "__main__":
    app()
