"""Validate a data directory, apply the ingest policy, store the result as a snapshot.

The policy (``talentmap.policy``: strict, repair, quarantine) decides what happens to data
that breaks the contract; ``talentmap.repair`` holds its rules. Rows that are dropped
are written with their original values and reasons to quarantine files beside the
snapshot, and repaired values to ``repairs.csv``, so a repaired snapshot keeps a full
record of what the source said. Problems that concern a whole file (a missing table or
column, an unreadable file) are always refused: no row-by-row handling can fix them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from talentmap.contract import CONTRACT_VERSION, DATE_COLUMNS, TABLES
from talentmap.contract_io import read_raw, row_numbers
from talentmap.lake import (
    MANIFEST,
    MANIFEST_FORMAT,
    QUARANTINE_DIR,
    REPAIRS_FILE,
    TABLES_DIR,
    Lake,
    content_hash,
    file_sha256,
    snapshot_id_for,
    write_csv,
    write_json,
    write_parquet,
)
from talentmap.memory import release_unused_memory
from talentmap.policy import Policy, resolve_policy
from talentmap.repair import InvalidSnapshotError, RepairPlan, plan_repairs
from talentmap.validate import StepHook, ValidationReport, date_span, validate_dataset

__all__ = ["IngestResult", "InvalidSnapshotError", "ingest"]

# The columns of repairs.csv: where the value was, what it was, and why it was blanked.
REPAIR_LOG_COLUMNS = ("table", "file", "row", "row_kind", "column", "value", "rule", "message")


@dataclass(frozen=True)
class IngestResult:
    snapshot_id: str
    created: bool  # False: the same content was already in the lake (nothing written)
    path: Path
    manifest: dict[str, Any]
    n_quarantined: int  # rows dropped (directly or by cascade), kept under quarantine/
    report: ValidationReport
    plan: RepairPlan

    @property
    def policy(self) -> Policy:
        return self.plan.policy

    @property
    def n_repaired(self) -> int:
        """Values blanked by the repair policy (listed in repairs.csv)."""
        return self.plan.n_repaired_cells()


def ingest(
    data_dir: Path,
    lake_dir: Path,
    quarantine: bool = False,
    *,
    policy: Policy | None = None,
    on_step: StepHook | None = None,
    clock: Callable[[], datetime] | None = None,
) -> IngestResult:
    """Validate ``data_dir``, apply ``policy`` (default: repair) and store it in the lake.

    ``quarantine=True`` is the older spelling of ``policy="quarantine"``. Raises
    ``InvalidSnapshotError`` (with the report and the plan) when the policy refuses the
    directory; the lake is then untouched.
    """
    chosen = resolve_policy(policy, quarantine)
    report = validate_dataset(Path(data_dir), on_step=_sub_steps(on_step, 0.6))
    plan = plan_repairs(report, chosen)
    if plan.refusal is not None:
        raise InvalidSnapshotError(report, plan.refusal, plan)
    step = _sub_steps(on_step, 0.4, start=0.6)
    step(0, 1, "hashing content")

    # The stored tables are built one at a time, here to hash them and below to write
    # them, and let go at once: never a second copy of every table beside the report's.
    kept = plan.table_names()
    quarantined = _quarantine_frames(report, plan.dropped)
    repairs = _repair_log(plan)
    now = clock or (lambda: datetime.now(UTC))
    manifest = _manifest(report, plan, quarantined, repairs, now)
    snapshot_id = snapshot_id_for(manifest)
    manifest = {"snapshot_id": snapshot_id, **manifest}
    lake = Lake(Path(lake_dir))
    n_quarantined = sum(len(q) for q in quarantined.values())
    if lake.has(snapshot_id):
        step(1, 1, "already ingested")
        return IngestResult(
            snapshot_id,
            False,
            lake.snapshots_dir / snapshot_id,
            lake.manifest(snapshot_id),
            n_quarantined,
            report,
            plan,
        )

    with lake.staging() as stage:
        (stage / TABLES_DIR).mkdir()
        total = len(kept) + len(quarantined) + 2
        for i, table in enumerate(kept):
            step(i, total, f"writing {table}")
            entry = manifest["tables"][table]
            write_parquet(plan.table(table), table, stage / entry["file"])
            release_unused_memory()
            entry["sha256"] = file_sha256(stage / entry["file"])
        if quarantined:
            (stage / QUARANTINE_DIR).mkdir()
        for i, (table, frame) in enumerate(quarantined.items(), start=len(kept)):
            step(i, total, f"writing quarantine of {table}")
            entry = manifest["quarantine"][table]
            write_csv(frame, stage / entry["file"])
            entry["sha256"] = file_sha256(stage / entry["file"])
        if repairs is not None:
            step(total - 2, total, "writing the repair log")
            entry = manifest["repairs"]
            write_csv(repairs, stage / entry["file"])
            entry["sha256"] = file_sha256(stage / entry["file"])
        step(total - 1, total, "publishing snapshot")
        write_json(manifest, stage / MANIFEST)
        created = lake.publish(stage, snapshot_id)
    step(1, 1, "done")
    final = lake.snapshots_dir / snapshot_id
    return IngestResult(
        snapshot_id, created, final, lake.manifest(snapshot_id), n_quarantined, report, plan
    )


def _repair_log(plan: RepairPlan) -> pd.DataFrame | None:
    """One row per repaired value, with its original text; None when nothing was repaired."""
    repairs = plan.repairs()
    if repairs.empty:
        return None
    out = repairs[list(REPAIR_LOG_COLUMNS)].copy()
    out["row"] = pd.array(out["row"], dtype="Int64")
    return out.astype({c: object for c in REPAIR_LOG_COLUMNS if c != "row"}).reset_index(drop=True)


def _quarantine_frames(
    report: ValidationReport, rejected: dict[str, pd.Series]
) -> dict[str, pd.DataFrame]:
    """Rejected rows with their *original* values, re-read from the source file.

    Typed frames have already lost unreadable values (they became missing), and a
    quarantine file must show what the source actually said.
    """
    out = {}
    for table in TABLES:
        reasons = rejected.get(table)
        if reasons is None or not len(reasons):
            continue
        tf = report.files[table]
        positions = reasons.index.to_numpy(dtype=np.int64)
        raw = read_raw(tf).take(positions).to_pandas()
        raw.insert(0, "_row", row_numbers(tf, positions, len(report.tables[table])))
        raw["_reasons"] = reasons.to_numpy()
        out[table] = raw.reset_index(drop=True)
        release_unused_memory()  # the whole file was read for these few rows
    return out


def _manifest(
    report: ValidationReport,
    plan: RepairPlan,
    quarantined: dict[str, pd.DataFrame],
    repairs: pd.DataFrame | None,
    clock: Callable[[], datetime],
) -> dict[str, Any]:
    summary = report.summary()
    tables = {}
    spans = []
    for table in plan.table_names():
        frame = plan.table(table)
        first, last = (d.isoformat() if d else None for d in date_span(frame, DATE_COLUMNS[table]))
        spans.extend(d for d in (first, last) if d)
        tf = report.files[table]
        tables[table] = {
            "file": f"{TABLES_DIR}/{table}.parquet",
            "rows": len(frame),
            "columns": [str(c) for c in frame.columns],
            "content_hash": content_hash(frame),
            "sha256": None,  # filled in once the file is written
            "time_span": {"start": first, "end": last},
            "source_file": tf.path.name,
            "source_sha256": file_sha256(tf.path),
        }
        del frame
        release_unused_memory()
    quarantine = {}
    for table, frame in quarantined.items():
        tf = report.files[table]
        quarantine[table] = {
            "file": f"{QUARANTINE_DIR}/{table}.csv",
            "rows": len(frame),
            "content_hash": content_hash(frame),
            "sha256": None,
            "row_numbers": (
                "_row is the CSV line (header = line 1)"
                if tf.format == "csv"
                else "_row is the 0-based Parquet row index"
            ),
        }
    dataset = report.dataset
    repair_entry = (
        {
            "file": REPAIRS_FILE,
            "rows": len(repairs),
            "content_hash": content_hash(repairs),
            "sha256": None,
        }
        if repairs is not None
        else None
    )
    return {
        "manifest_format": MANIFEST_FORMAT,
        "contract_version": CONTRACT_VERSION,
        "dataset": {
            "name": dataset.name,
            "source": dataset.source,
            "licence": dataset.licence,
        },
        "snapshot_date": report.snapshot_date.isoformat() if report.snapshot_date else None,
        "snapshot_date_source": report.snapshot_date_source,
        "ingested_at": clock().astimezone(UTC).isoformat(timespec="seconds"),
        "source_dir": str(report.data_dir.resolve()),
        "time_span": {"start": min(spans) if spans else None, "end": max(spans) if spans else None},
        "rows": sum(t["rows"] for t in tables.values()),
        "tables": tables,
        "quarantine": quarantine,
        **({"repairs": repair_entry} if repair_entry is not None else {}),
        "policy": plan.policy,
        "actions": plan.counts(),
        "problems_by_rule": report.counts_by_rule(),
        "validated_rows": summary.rows,
        "warnings": list(report.warnings),
    }


def _sub_steps(on_step: StepHook | None, share: float, start: float = 0.0) -> StepHook:
    """Map a sub-task's (done, total) onto a slice of one 0..1000 progress scale."""

    def hook(done: int, total: int, description: str) -> None:
        if on_step is not None:
            fraction = start + share * (done / total if total else 1.0)
            on_step(round(fraction * 1000), 1000, description)

    return hook
