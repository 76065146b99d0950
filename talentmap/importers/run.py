"""Run one importer end to end: read, map, apply the contract rules, write, report."""

from __future__ import annotations

import importlib
from pathlib import Path

from talentmap.importers.common import ImportOptions, finish
from talentmap.importers.reading import SourceError
from talentmap.importers.report import ImportReport
from talentmap.importers.writing import OutputError, check_output_dir

# Kind -> module; imported only when used, so the CLI stays light.
MODULES: dict[str, str] = {
    "crunchbase2013": "talentmap.importers.crunchbase2013",
    "crunchbase-csv": "talentmap.importers.crunchbase_csv",
    "sirene": "talentmap.importers.sirene",
    "mapping": "talentmap.importers.mapping",
}


class ImportFailedError(Exception):
    """The import could not run (bad source, bad mapping, output in the way)."""


def run_import(kind: str, options: ImportOptions) -> tuple[ImportReport, Path]:
    """Import ``options.src`` as ``kind`` into ``options.out``; returns the report and its path."""
    if kind not in MODULES:
        raise ImportFailedError(f"unknown kind {kind!r}; known: {', '.join(MODULES)}")
    module = importlib.import_module(MODULES[kind])
    report = ImportReport(
        kind=kind,
        source_dir=str(options.src),
        out_dir=str(options.out),
        licence=getattr(module, "LICENCE", ""),
        source=getattr(module, "SOURCE", ""),
    )
    try:
        check_output_dir(options.out, options.overwrite)
        imported = module.run(options, report)
        path = finish(imported, options, report)
    except (SourceError, OutputError) as exc:
        raise ImportFailedError(str(exc)) from exc
    return report, path
