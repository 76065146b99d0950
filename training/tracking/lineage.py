"""The lake snapshot a training run read, as MLflow records it for auditors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SnapshotLineage:
    """The lake snapshot a run was trained on, from its manifest (hashes, rows, dates)."""

    snapshot_id: str
    snapshot_date: str | None
    tables: Mapping[str, Mapping[str, Any]]  # table -> {"rows": int, "content_hash": str}
    time_span: Mapping[str, str | None] | None = None
    dataset: str | None = None

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> SnapshotLineage:
        """Keep identity fields only (no source paths: they can hold user names)."""
        return cls(
            snapshot_id=str(manifest["snapshot_id"]),
            snapshot_date=manifest.get("snapshot_date"),
            tables={
                name: {"rows": int(entry["rows"]), "content_hash": str(entry["content_hash"])}
                for name, entry in sorted(manifest.get("tables", {}).items())
            },
            time_span=manifest.get("time_span"),
            dataset=(manifest.get("dataset") or {}).get("name"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "snapshot_id": self.snapshot_id,
            "snapshot_date": self.snapshot_date,
            "dataset": self.dataset,
            "time_span": dict(self.time_span) if self.time_span else None,
            "tables": {k: dict(v) for k, v in self.tables.items()},
        }
