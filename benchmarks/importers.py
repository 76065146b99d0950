"""SIRENE importer benchmark: ``python -m benchmarks.importers --rows N``.

Writes a synthetic N-row StockUniteLegale (official columns) and one head office per
unit in StockEtablissement into a temporary folder, runs ``talentmap import sirene`` in
a child process, and records wall time and peak memory (the largest resident set of the
whole process tree, sampled by psutil) in benchmarks/results/importers.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.csv as pacsv
import typer

RESULTS = Path(__file__).parent / "results" / "importers.json"
CHUNK = 500_000
UNIT_COLUMNS = [
    "siren",
    "statutDiffusionUniteLegale",
    "unitePurgeeUniteLegale",
    "dateCreationUniteLegale",
    "sigleUniteLegale",
    "sexeUniteLegale",
    "prenom1UniteLegale",
    "prenom2UniteLegale",
    "prenom3UniteLegale",
    "prenom4UniteLegale",
    "prenomUsuelUniteLegale",
    "pseudonymeUniteLegale",
    "identifiantAssociationUniteLegale",
    "trancheEffectifsUniteLegale",
    "anneeEffectifsUniteLegale",
    "dateDernierTraitementUniteLegale",
    "nombrePeriodesUniteLegale",
    "categorieEntreprise",
    "anneeCategorieEntreprise",
    "dateDebut",
    "etatAdministratifUniteLegale",
    "nomUniteLegale",
    "nomUsageUniteLegale",
    "denominationUniteLegale",
    "denominationUsuelle1UniteLegale",
    "denominationUsuelle2UniteLegale",
    "denominationUsuelle3UniteLegale",
    "categorieJuridiqueUniteLegale",
    "activitePrincipaleUniteLegale",
    "nomenclatureActivitePrincipaleUniteLegale",
    "nicSiegeUniteLegale",
    "economieSocialeSolidaireUniteLegale",
    "societeMissionUniteLegale",
    "caractereEmployeurUniteLegale",
]
SITE_COLUMNS = [
    "siren",
    "nic",
    "siret",
    "statutDiffusionEtablissement",
    "dateCreationEtablissement",
    "trancheEffectifsEtablissement",
    "anneeEffectifsEtablissement",
    "dateDernierTraitementEtablissement",
    "etablissementSiege",
    "codePostalEtablissement",
    "libelleCommuneEtablissement",
    "codeCommuneEtablissement",
    "codePaysEtrangerEtablissement",
    "dateDebut",
    "etatAdministratifEtablissement",
    "activitePrincipaleEtablissement",
]
NAF = np.array(
    [
        "62.01Z",
        "62.02A",
        "58.29C",
        "63.11Z",
        "72.19Z",
        "47.11F",
        "56.10A",
        "68.20A",
        "43.21A",
        "70.22Z",
        "86.21Z",
        "96.02A",
    ]
)
NAF_P = np.array([4, 3, 1, 1, 1, 15, 15, 15, 15, 15, 10, 5], dtype=float)
COMMUNES = np.array(
    [
        "75108",
        "69123",
        "13055",
        "31555",
        "33063",
        "35238",
        "2A004",
        "97101",
        "97411",
        "97502",
        "59350",
        "44109",
    ]
)
BANDS = np.array(["", "NN", "00", "01", "02", "03", "11", "12", "21", "22"])


def _units(rng: np.random.Generator, start: int, n: int) -> pa.Table:
    siren = np.char.zfill((np.arange(start, start + n) + 100_000_000).astype(str), 9)
    days = rng.integers(0, 365 * 45, n)
    created = (np.datetime64("1980-01-01") + days).astype(str)
    legal = np.where(rng.random(n) < 0.35, "1000", "5710")
    statut = np.where(rng.random(n) < 0.03, "P", "O")
    cols = {c: pa.nulls(n, pa.string()) for c in UNIT_COLUMNS}
    cols.update(
        siren=pa.array(siren),
        statutDiffusionUniteLegale=pa.array(statut),
        dateCreationUniteLegale=pa.array(created),
        trancheEffectifsUniteLegale=pa.array(rng.choice(BANDS, n)),
        anneeEffectifsUniteLegale=pa.array(rng.choice(["", "2021", "2022"], n)),
        dateDernierTraitementUniteLegale=pa.array(np.full(n, "2025-05-20T03:12:45.000")),
        dateDebut=pa.array(created),
        etatAdministratifUniteLegale=pa.array(np.where(rng.random(n) < 0.2, "C", "A")),
        denominationUniteLegale=pa.array(np.char.add("SOCIETE ", siren)),
        categorieJuridiqueUniteLegale=pa.array(legal),
        activitePrincipaleUniteLegale=pa.array(rng.choice(NAF, n, p=NAF_P / NAF_P.sum())),
        nomenclatureActivitePrincipaleUniteLegale=pa.array(np.full(n, "NAFRev2")),
        nicSiegeUniteLegale=pa.array(np.full(n, "00011")),
        caractereEmployeurUniteLegale=pa.array(np.full(n, "N")),
    )
    return pa.table({c: cols[c].cast(pa.string()) for c in UNIT_COLUMNS})


def _sites(rng: np.random.Generator, start: int, n: int) -> pa.Table:
    siren = np.char.zfill((np.arange(start, start + n) + 100_000_000).astype(str), 9)
    cols = {c: pa.nulls(n, pa.string()) for c in SITE_COLUMNS}
    commune = rng.choice(COMMUNES, n)
    cols.update(
        siren=pa.array(siren),
        nic=pa.array(np.full(n, "00011")),
        siret=pa.array(np.char.add(siren, "00011")),
        statutDiffusionEtablissement=pa.array(np.full(n, "O")),
        dateDernierTraitementEtablissement=pa.array(np.full(n, "2025-05-21T01:00:00.000")),
        etablissementSiege=pa.array(np.full(n, "true")),
        codeCommuneEtablissement=pa.array(commune),
        libelleCommuneEtablissement=pa.array(np.char.add("COMMUNE ", commune)),
    )
    return pa.table({c: cols[c].cast(pa.string()) for c in SITE_COLUMNS})


def write_source(folder: Path, rows: int, seed: int = 7) -> dict[str, int]:
    """Write StockUniteLegale_utf8.csv and StockEtablissement_utf8.csv of ``rows`` units."""
    rng = np.random.default_rng(seed)
    sizes = {}
    for name, make in (
        ("StockUniteLegale_utf8.csv", _units),
        ("StockEtablissement_utf8.csv", _sites),
    ):
        path = folder / name
        with path.open("wb") as handle:
            writer = None
            for start in range(0, rows, CHUNK):
                table = make(rng, start, min(CHUNK, rows - start))
                if writer is None:
                    writer = pacsv.CSVWriter(handle, table.schema)
                writer.write_table(table)
            if writer is not None:
                writer.close()
        sizes[name] = path.stat().st_size
    return sizes


def _run_measured(command: list[str]) -> tuple[float, float, int]:
    """(seconds, peak MB of the process tree, exit code)."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.1)
    return time.perf_counter() - started, peak / 2**20, proc.returncode


def main(
    rows: Annotated[int, typer.Option("--rows", min=1000, help="Units to generate.")] = 1_000_000,
    keep: Annotated[
        Path | None, typer.Option("--keep", help="Write the source here and keep it.")
    ] = None,
) -> None:
    """Generate a synthetic SIRENE stock, import it, print and record time and memory."""
    with tempfile.TemporaryDirectory(prefix="talentmap-bench-sirene-") as tmp:
        folder = keep or Path(tmp) / "sirene"
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        sizes = write_source(folder, rows)
        generated = time.perf_counter() - t0
        out = Path(tmp) / "out"
        talentmap = str(Path(sys.executable).parent / "talentmap")
        seconds, peak_mb, code = _run_measured(
            [talentmap, "import", "sirene", str(folder), "--out", str(out), "--no-check"]
        )
        report = json.loads((out / "import_report.json").read_text()) if code == 0 else {}
    record = {
        "suite": "importers",
        "step": "talentmap import sirene (CSV)",
        "rows": rows,
        "source_mb": round(sum(sizes.values()) / 2**20, 1),
        "generate_seconds": round(generated, 1),
        "seconds": round(seconds, 1),
        "rows_per_second": round(rows / seconds) if seconds else None,
        "peak_rss_mb": round(peak_mb),
        "exit_code": code,
        "written": report.get("written"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    typer.run(main)
