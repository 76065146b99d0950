"""``talentmap validate`` and ``talentmap ingest``: the contract's gate into the lake."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from talentmap.cli_options import PolicyOption
from talentmap.errors import reports_errors
from talentmap.policy import Policy
from talentmap.validate import StepHook

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
    policy: PolicyOption = None,
    examples: Annotated[
        int, typer.Option("--examples", min=1, help="Example problems shown per rule.")
    ] = 3,
) -> None:
    """Check a data directory against the contract, without modifying it.

    Prints a summary, then any problems and what the ingest policy would do about them
    (repair, drop, refuse). Exits 0 when `talentmap ingest` would accept the directory
    under that policy, 65 when it would refuse it (with --policy strict: any problem).
    """
    from talentmap.repair import InvalidSnapshotError, plan_repairs
    from talentmap.validate import validate_dataset

    chosen = _policy(policy)
    console = Console()
    with _progress(console, "validating") as hook:
        report = validate_dataset(data_dir, on_step=hook)
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    if report.tables:
        console.print(report.render_summary())
    if report.ok:
        console.print("[green]valid[/]")
        return
    plan = plan_repairs(report, chosen)
    # The plan lists every problem with what the policy does about it; strict has none.
    console.print(plan.render(examples) if plan.changed else report.render_problems(examples))
    if plan.refusal is not None:
        raise InvalidSnapshotError(
            report,
            f"{data_dir}: {len(report.problem_frame):,} problem(s); ingest would refuse it: "
            f"{plan.refusal}",
            plan,
        )
    console.print(
        f"[yellow]invalid as delivered, but ingest would accept it:[/] {plan.summary_line()}"
    )


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
    policy: PolicyOption = None,
    quarantine: Annotated[
        bool,
        typer.Option(
            "--quarantine",
            help="Same as --policy quarantine (kept for existing scripts).",
        ),
    ] = False,
    examples: Annotated[
        int, typer.Option("--examples", min=1, help="Example problems shown per rule.")
    ] = 3,
) -> None:
    """Validate a data directory, apply the ingest policy, store it immutably in the lake.

    Every repaired value and dropped row is printed (counts and examples) and recorded in
    the snapshot: its manifest counts them, repairs.csv lists each blanked value and
    quarantine/ keeps each dropped row as the source wrote it.
    """
    from talentmap.ingest import InvalidSnapshotError, ingest
    from talentmap.settings import get_settings

    if quarantine and policy not in (None, "quarantine"):
        raise typer.BadParameter(f"--quarantine contradicts --policy {policy}")
    chosen: Policy = "quarantine" if quarantine else _policy(policy)
    lake_dir = lake if lake is not None else get_settings().lake_dir
    console = Console()
    try:
        with _progress(console, "ingesting") as hook:
            result = ingest(data_dir, lake_dir, policy=chosen, on_step=hook)
    except InvalidSnapshotError as exc:
        report = exc.report
        if report.tables:
            console.print(report.render_summary())
        plan = exc.plan
        changed = plan is not None and plan.changed
        console.print(plan.render(examples) if changed else report.render_problems(examples))
        raise InvalidSnapshotError(
            report, f"refused: {exc}; the lake at {lake_dir} is unchanged", exc.plan
        ) from exc
    for warning in result.report.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    console.print(result.report.render_summary())
    if result.plan.changed:
        console.print(result.plan.render(examples=examples))
        where = [str(result.path / "repairs.csv")] if result.n_repaired else []
        where += [str(result.path / "quarantine")] if result.n_quarantined else []
        console.print(
            f"[yellow]{result.plan.summary_line()}[/]; each one is listed in " + " and ".join(where)
        )
    if result.created:
        console.print(f"[green]ingested[/] snapshot {result.snapshot_id} at {result.path}")
    else:
        console.print(
            f"already ingested: snapshot {result.snapshot_id} at {result.path} "
            "holds the same content; nothing written"
        )


def _policy(policy: Policy | None) -> Policy:
    """The option's policy, else the configured one (read only when needed)."""
    if policy is not None:
        return policy
    from talentmap.settings import get_settings

    return get_settings().lake.policy


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
