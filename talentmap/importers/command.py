"""``talentmap import KIND SRC --out DIR``: a real source in, a contract directory out."""

from __future__ import annotations

import time
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class SourceKind(StrEnum):
    crunchbase2013 = "crunchbase2013"
    crunchbase_csv = "crunchbase-csv"
    sirene = "sirene"
    mapping = "mapping"


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a YYYY-MM-DD date", param_hint=option) from None


def _parse_rates(values: list[str] | None) -> dict[str, float]:
    from talentmap.importers.value_maps import DEFAULT_EUR_RATES

    rates = dict(DEFAULT_EUR_RATES)
    for item in values or []:
        code, _, rate = item.partition("=")
        try:
            value = float(rate)
        except ValueError:
            value = -1.0
        if len(code.strip()) != 3 or value <= 0:
            raise typer.BadParameter(
                f"{item!r}: expected CUR=RATE, euros per unit (e.g. USD=0.85)",
                param_hint="--fx-rate",
            )
        rates[code.strip().upper()] = value
    return rates


def import_source(
    kind: Annotated[
        SourceKind,
        typer.Argument(
            help="Kind of source: crunchbase2013, crunchbase-csv, sirene or mapping "
            "(see data/importers/<kind>.md)."
        ),
    ],
    src: Annotated[
        Path,
        typer.Argument(
            help="Folder holding the source files (CSV or Parquet).",
            exists=True,
            file_okay=False,
            dir_okay=True,
            readable=True,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Contract directory to write (the layout `talentmap validate` reads)."
        ),
    ],
    snapshot_date: Annotated[
        str | None,
        typer.Option(
            "--snapshot-date",
            help="Date the source was exported (YYYY-MM-DD). Default: the latest dated "
            "value observed in the source, as each kind's mapping document says.",
        ),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Replace the contract tables, dataset.json and report already in --out.",
        ),
    ] = False,
    report_path: Annotated[
        Path | None,
        typer.Option(
            "--report", help="Where to write the JSON report (default: DIR/import_report.json)."
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check/--no-check",
            help="Validate the written directory and record in the report what the "
            "validator would still reject.",
        ),
    ] = True,
    fx_rate: Annotated[
        list[str] | None,
        typer.Option(
            "--fx-rate",
            help="Fixed conversion rate CUR=RATE in euros per unit, overriding the default "
            "table (repeatable). Crunchbase kinds.",
        ),
    ] = None,
    mapping_file: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            help="YAML mapping of the source files to the contract (mapping kind; default "
            "SRC/mapping.yaml).",
            dir_okay=False,
        ),
    ] = None,
    naf_sectors: Annotated[
        Path | None,
        typer.Option(
            "--naf-sectors",
            help="CSV (naf_prefix,sector) of the NAF codes to keep and their sector labels "
            "(sirene; default data/importers/sirene_naf_sectors.csv).",
            dir_okay=False,
        ),
    ] = None,
    all_sectors: Annotated[
        bool,
        typer.Option(
            "--all-sectors",
            help="Keep units of every NAF code; unlisted codes get an unknown sector (sirene).",
        ),
    ] = False,
    founded_from: Annotated[
        str | None,
        typer.Option(
            "--founded-from",
            help="Keep units created on or after this date (sirene; default: 15 years "
            "before the snapshot date).",
        ),
    ] = None,
    keep_undated: Annotated[
        bool,
        typer.Option(
            "--keep-undated",
            help="Keep units whose creation date is unknown, with a blank founded_on (sirene).",
        ),
    ] = False,
    include_natural_persons: Annotated[
        bool,
        typer.Option(
            "--include-natural-persons",
            help="Also import natural-person businesses (legal category 1000), which are "
            "people under the GDPR (sirene). Restricted units are never imported.",
        ),
    ] = False,
) -> None:
    """Turn a real source into a contract directory, with a report of every row.

    Writes one CSV per contract table, dataset.json (source, licence, snapshot date) and
    import_report.json (rows read, mapped, repaired and dropped per source table, with
    reasons, and what the validator still rejects).
    """
    from talentmap.importers.common import ImportOptions
    from talentmap.importers.run import ImportFailedError, run_import

    console = Console()
    options = ImportOptions(
        src=src,
        out=out,
        snapshot_date=_parse_date(snapshot_date, "--snapshot-date"),
        fx_rates=_parse_rates(fx_rate),
        report_path=report_path,
        check=check,
        overwrite=overwrite,
        extra={
            "mapping": mapping_file,
            "naf_sectors": naf_sectors,
            "all_sectors": all_sectors,
            "founded_from": _parse_date(founded_from, "--founded-from"),
            "keep_undated": keep_undated,
            "include_natural_persons": include_natural_persons,
        },
    )
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]importing[/] {task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:

        def progress(label: str, total: int):
            task = bar.add_task(label, total=max(total, 1))

            def tick(done: int, total: int) -> None:
                bar.update(task, completed=done, total=max(total, 1))

            return tick

        options.progress = progress
        try:
            report, path = run_import(kind.value, options)
        except ImportFailedError as exc:
            console.print(f"[red]import failed:[/] {exc}")
            raise typer.Exit(code=1) from None
    console.print(report.render())
    console.print(f"report written to {path} ({time.perf_counter() - started:.1f}s)")
    problems = report.check()
    if problems:
        for problem in problems:
            console.print(f"[red]counts do not add up:[/] {problem}")
        raise typer.Exit(code=2)
    verdict = report.validation
    if verdict is None:
        return
    if verdict["valid"]:
        console.print(f"[green]valid[/]: {out} passes talentmap validate")
    else:
        rules = ", ".join(f"{rule}: {n:,}" for rule, n in verdict["problems_by_rule"].items())
        console.print(
            f"[yellow]the validator still rejects some rows[/] ({rules}); see "
            f"'validation' in {path}"
        )
