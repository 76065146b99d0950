"""``talentmap generate``: write a synthetic French start-up ecosystem to a directory."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from talentmap.settings import get_settings


class FileFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


def generate(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the data files into.")],
    orgs: Annotated[
        int | None,
        typer.Option("--orgs", min=1, help="Organisations to simulate (default from settings)."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Random seed; same seed, same world.")
    ] = None,
    fmt: Annotated[
        FileFormat,
        typer.Option("--format", help="File format of the tables: csv or parquet."),
    ] = FileFormat.csv,
    oracle_every_months: Annotated[
        int | None,
        typer.Option(
            "--oracle-every-months",
            min=1,
            max=12,
            help="Spacing of the oracle's as-of dates in truth/oracle.parquet, in months.",
        ),
    ] = None,
    chunk_size: Annotated[
        int,
        typer.Option("--chunk-size", min=1000, help="Organisations per chunk (bounds memory)."),
    ] = 50_000,
    write_hidden: Annotated[
        bool,
        typer.Option(
            "--write-hidden/--no-write-hidden",
            help="Also write truth/hidden.parquet (hidden quality, for generator audits).",
        ),
    ] = False,
) -> None:
    """Generate a synthetic French start-up ecosystem that follows the data contract.

    Writes one file per contract table, dataset.json and, outside the contract,
    truth/oracle.parquet (the true probability of the promise label, for evaluation only).
    """
    from talentmap.generate.world import generate_world  # heavy imports only when used

    cfg = get_settings().generator
    n = orgs if orgs is not None else cfg.orgs
    console = Console()
    with Progress(
        TextColumn("[bold]generating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("organisations"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("generate", total=n)
        summary = generate_world(
            out,
            n,
            seed if seed is not None else cfg.seed,
            fmt="parquet" if fmt is FileFormat.parquet else "csv",
            start=cfg.start,
            end=cfg.end,
            oracle_every_months=(
                oracle_every_months if oracle_every_months is not None else cfg.oracle_every_months
            ),
            chunk_size=chunk_size,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            write_hidden=write_hidden,
        )
    table = Table(title=f"World written to {summary.out_dir}", show_header=True)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in summary.rows.items():
        table.add_row(name, f"{rows:,}")
    table.add_row("truth/oracle", f"{summary.oracle_rows:,}")
    console.print(table)
    console.print(
        f"organisations: {summary.n_orgs_written:,} recorded of {summary.n_orgs_simulated:,} "
        f"simulated (the rest were never seen by the snapshot date)\n"
        f"label base rate among candidates (24 months): {summary.base_rate:.1%} "
        f"(oracle mean {summary.mean_p_true:.1%}, {summary.candidate_rows:,} candidate rows)\n"
        f"elapsed: {summary.elapsed_seconds:.1f} s"
    )
