"""The feature build by organisation chunks and the online load, per family (issue 10 §2).

    python -m benchmarks.feature_chunks --home HOME [--chunk-orgs 25000] [--materialize]

HOME holds an ingested lake (``TALENTMAP_HOME=HOME talentmap ingest WORLD``). Loads the
latest snapshot, then streams the build as ``talentmap features build`` does
(``chunked.iter_chunks`` into ``store.write_feature_chunks``), and records per family its
summed build time, its largest peak RSS and its rows. The process's high-water mark
(``VmHWM``) is reset through ``/proc/self/clear_refs`` after each chunk, so a family's
peak is the peak while its chunks were built. With ``--materialize``, applies the
repository and times ``store.materialize`` at the snapshot day. Writes
``benchmarks/results/feature_chunks.json``. Linux only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

app = typer.Typer(add_completion=False)
RESULTS = Path(__file__).resolve().parent / "results" / "feature_chunks.json"


def _mb(key: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")


@app.command()
def main(
    home: Annotated[Path, typer.Option(help="A home with an ingested lake.")],
    chunk_orgs: Annotated[int, typer.Option(help="Organisations per chunk.")] = 25_000,
    materialize: Annotated[bool, typer.Option(help="Also apply and materialize.")] = False,
    out: Annotated[Path, typer.Option(help="Results JSON.")] = RESULTS,
) -> None:
    """Per-family time, peak and rows of the chunked build on HOME's latest snapshot."""
    from talentmap.features import store
    from talentmap.features.chunked import iter_chunks
    from talentmap.features.lineage import load_snapshot
    from talentmap.optouts import apply_settings_opt_outs, drop_opted_out_features
    from talentmap.settings import Settings

    settings = Settings(home=home)
    began = time.perf_counter()
    snapshot_id, snapshot_date, tables = load_snapshot(settings.lake_dir, None)
    tables = apply_settings_opt_outs(tables, settings)
    record: dict = {
        "home": str(home),
        "chunk_orgs": chunk_orgs,
        "organizations": len(tables["organizations"]),
        "load": {
            "seconds": round(time.perf_counter() - began, 1),
            "peak_rss_mb": round(_mb("VmHWM")),
        },
        "families": {},
    }
    print(json.dumps({"step": "load", **record["load"]}), flush=True)
    families: dict[str, dict] = record["families"]
    opt_outs = tables.get("opt_outs")

    def measured() -> Iterator[tuple[str, pd.DataFrame]]:
        _reset_peak()
        started = time.perf_counter()
        for family, frame in iter_chunks(
            tables, snapshot_date, settings.training.rules, chunk_orgs
        ):
            entry = families.setdefault(
                family, {"seconds": 0.0, "peak_rss_mb": 0, "rows": 0, "chunks": 0}
            )
            entry["seconds"] = round(entry["seconds"] + time.perf_counter() - started, 1)
            entry["peak_rss_mb"] = max(entry["peak_rss_mb"], round(_mb("VmHWM")))
            entry["rows"] += len(frame)
            entry["chunks"] += 1
            yield family, drop_opted_out_features({family: frame}, opt_outs)[family]
            _reset_peak()
            started = time.perf_counter()

    started = time.perf_counter()
    store.write_feature_chunks(measured(), settings.feature_tables_dir, snapshot_id, snapshot_date)
    record["build_seconds"] = round(time.perf_counter() - started, 1)
    for family, entry in families.items():
        print(json.dumps({"family": family, **entry}), flush=True)
    print(json.dumps({"step": "build and write", "seconds": record["build_seconds"]}), flush=True)
    if materialize:
        store.apply(settings)
        _reset_peak()
        started = time.perf_counter()
        store.materialize(settings, snapshot_date)
        record["materialize"] = {
            "seconds": round(time.perf_counter() - started, 1),
            "peak_rss_mb": round(_mb("VmHWM")),
        }
        print(json.dumps({"step": "materialize", **record["materialize"]}), flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2), encoding="utf-8")


if __name__ == "__main__":
    app()
