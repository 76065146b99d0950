"""The import report: every source row is accounted for, with the reason for each change.

Per source table the report holds the rows read, mapped (they produced a row of the
contract) and dropped, plus counts of repairs made on kept rows and of facts observed but
left as they are. ``read == mapped + dropped`` must hold for every table; ``check()`` says
where it does not, and the command refuses to call such an import a success.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table

REPORT_FILE = "import_report.json"


@dataclass
class SourceCount:
    """What happened to the rows of one source table."""

    name: str
    file: str | None = None
    read: int = 0
    mapped: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    repaired: Counter[str] = field(default_factory=Counter)
    kept_as_is: Counter[str] = field(default_factory=Counter)

    def drop(self, reason: str, n: int = 1) -> None:
        if n:
            self.dropped[reason] += int(n)

    def repair(self, reason: str, n: int = 1) -> None:
        if n:
            self.repaired[reason] += int(n)

    def observe(self, reason: str, n: int = 1) -> None:
        """A fact worth knowing that the importer deliberately did not change."""
        if n:
            self.kept_as_is[reason] += int(n)

    @property
    def n_dropped(self) -> int:
        return sum(self.dropped.values())

    @property
    def n_repaired(self) -> int:
        return sum(self.repaired.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "read": self.read,
            "mapped": self.mapped,
            "dropped": self.n_dropped,
            "repaired": self.n_repaired,
            "drop_reasons": dict(self.dropped.most_common()),
            "repair_reasons": dict(self.repaired.most_common()),
            "kept_as_is": dict(self.kept_as_is.most_common()),
        }


@dataclass
class ImportReport:
    """The whole import: source tables, written contract tables and the validator's verdict."""

    kind: str
    source_dir: str
    out_dir: str
    licence: str
    source: str
    snapshot_date: date | None = None
    snapshot_date_source: str = ""
    sources: dict[str, SourceCount] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    validation: dict[str, Any] | None = None
    elapsed_seconds: float | None = None

    def table(self, name: str, file: str | None = None) -> SourceCount:
        if name not in self.sources:
            self.sources[name] = SourceCount(name, file)
        elif file is not None:
            self.sources[name].file = file
        return self.sources[name]

    def note(self, text: str) -> None:
        self.notes.append(text)

    def check(self) -> list[str]:
        """Tables whose counts do not add up (an importer bug, never a data problem)."""
        return [
            f"{s.name}: read {s.read:,} != mapped {s.mapped:,} + dropped {s.n_dropped:,}"
            for s in self.sources.values()
            if s.read != s.mapped + s.n_dropped
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source_dir": self.source_dir,
            "out_dir": self.out_dir,
            "source": self.source,
            "licence": self.licence,
            "snapshot_date": self.snapshot_date.isoformat() if self.snapshot_date else None,
            "snapshot_date_source": self.snapshot_date_source,
            "tables": {name: s.to_dict() for name, s in self.sources.items()},
            "written": dict(self.written),
            "notes": list(self.notes),
            "validation": self.validation,
            "consistent": not self.check(),
            "elapsed_seconds": self.elapsed_seconds,
        }

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")

    def render(self) -> Group:
        counts = Table(title=f"Import {self.kind}: {self.source_dir}", title_justify="left")
        for column in ("source table", "read", "mapped", "repaired", "dropped"):
            counts.add_column(column, justify="left" if column == "source table" else "right")
        counts.add_column("reasons (dropped / repaired / kept as is)")
        for s in self.sources.values():
            lines = [f"[red]-[/] {n:,} {r}" for r, n in s.dropped.most_common()]
            lines += [f"[yellow]~[/] {n:,} {r}" for r, n in s.repaired.most_common()]
            lines += [f"[dim]= {n:,} {r}[/]" for r, n in s.kept_as_is.most_common()]
            counts.add_row(
                s.file or s.name,
                f"{s.read:,}",
                f"{s.mapped:,}",
                f"{s.n_repaired:,}",
                f"{s.n_dropped:,}",
                "\n".join(lines),
            )
        snapshot = self.snapshot_date.isoformat() if self.snapshot_date else "-"
        counts.caption = f"snapshot date {snapshot} ({self.snapshot_date_source})"
        written = Table(title=f"Written to {self.out_dir}", title_justify="left")
        written.add_column("contract table")
        written.add_column("rows", justify="right")
        for name, n in self.written.items():
            written.add_row(name, f"{n:,}")
        parts: list[Any] = [counts, written]
        parts.extend(f"[cyan]note:[/] {n}" for n in self.notes)
        return Group(*parts)
