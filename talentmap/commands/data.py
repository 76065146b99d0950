"""``talentmap validate`` and ``talentmap ingest``: the contract's gate into the lake."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from talentmap.errors import UserDataError, reports_errors
from talentmap.validate import StepHook


def register(app: typer.Typer) -> None:
    """Add ``validate`` and ``ingest`` to the application."""
    app.command("validate")(validate_command)
    app.command("ingest")(ingest_command)


DataDir = Annotated[
    Path,
    typer.Argument(
        help="Data directory: one <table>.csv or <table>.parquet per table, "
        "plus an optional dataset.json (see data/CONTRACT.md).",
        exists=True,
        file_okay=False,
        dir_okay=True,
        readable=True,
    ),
]


@reports_errors
def validate_command(
    data_dir: DataDir,
    examples: Annotated[
        int, typer.Option("--examples", min=1, help="Example problems shown per rule.")
    ] = 3,
) -> None:
    """Check a data directory against the contract, without modifying it.

    Exits 0 and prints a summary when the data is valid; exits 65 with a report (a count
    and examples per rule) otherwise.
    """
    from talentmap.validate import validate_dataset

    console = Console()
    with _progress(console, "validating") as hook:
        report = validate_dataset(data_dir, on_step=hook)
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    if report.tables:
        console.print(report.render_summary())
    if not report.ok:
        console.print(report.render_problems(examples=examples))
        raise UserDataError(
            f"{data_dir}: invalid, {len(report.problem_frame):,} problem(s) (see the report above)"
        )
    console.print("[green]valid[/]")


@reports_errors
def ingest_command(
    data_dir: DataDir,
    lake: Annotated[
        Path | None,
        typer.Option(
            "--lake",
            help="Data lake folder (default: the configured lake, data/lake/).",
            file_okay=False,
        ),
    ] = None,
    quarantine: Annotated[
        bool,
        typer.Option(
            "--quarantine",
            help="Keep the valid rows and write every rejected row, with its reasons, "
            "to a quarantine file next to the snapshot, instead of refusing the whole "
            "snapshot.",
        ),
    ] = False,
    examples: Annotated[
        int, typer.Option("--examples", min=1, help="Example problems shown per rule.")
    ] = 3,
) -> None:
    """Validate a data directory, then store it immutably in the data lake."""
    from talentmap.ingest import InvalidSnapshotError, ingest
    from talentmap.settings import get_settings

    lake_dir = lake if lake is not None else get_settings().lake_dir
    console = Console()
    try:
        with _progress(console, "ingesting") as hook:
            result = ingest(data_dir, lake_dir, quarantine=quarantine, on_step=hook)
    except InvalidSnapshotError as exc:
        report = exc.report
        if report.tables:
            console.print(report.render_summary())
        console.print(report.render_problems(examples=examples))
        raise InvalidSnapshotError(
            report, f"refused: {exc}; the lake at {lake_dir} is unchanged"
        ) from exc
    for warning in result.report.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    console.print(result.report.render_summary())
    if result.n_quarantined:
        console.print(result.report.render_problems(examples=examples))
        console.print(
            f"[yellow]quarantined:[/] {result.n_quarantined:,} row(s), written with their "
            f"reasons under {result.path / 'quarantine'}"
        )
    if result.created:
        console.print(f"[green]ingested[/] snapshot {result.snapshot_id} at {result.path}")
    else:
        console.print(
            f"already ingested: snapshot {result.snapshot_id} at {result.path} "
            "holds the same content; nothing written"
        )


@contextmanager
def _progress(console: Console, label: str) -> Iterator[StepHook]:
    """A rich progress bar fed by validation/ingest step callbacks."""
    with Progress(
        TextColumn(f"[bold]{label}[/]"),
        BarColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("starting", total=1)

        def hook(done: int, total: int, description: str) -> None:
            progress.update(task, completed=done, total=total, description=description)

        yield hook
