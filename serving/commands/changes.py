"""``talentmap changes``: what changed between the served ranking and the previous one.

Calls ``GET /api/changes`` of a running service (key from ``TALENTMAP_API_KEY``, as
``talentmap shortlist``), so the answer is exactly what the page shows: the same previous
ranking, the same opt-outs and forgets honoured. Prints a table per region, CSV (one row
per change) or the JSON answer.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from talentmap.serving.commands.shortlist import FORMATS, _api_key, _safe_cell, answer_of

CSV_COLUMNS = (
    "scope",
    "change",
    "org_id",
    "name",
    "region",
    "sector",
    "rank_before",
    "rank_after",
    "places",
    "score_before",
    "score_after",
)
GROUPS = ("entrants", "leavers", "up", "down")
OVERALL = "all regions"


def fetch_changes(url: str, key: str, params: dict[str, Any], timeout: float = 60.0) -> dict:
    """GET /api/changes; raises ``RuntimeError`` with the server's message on an error."""
    import httpx

    response = httpx.get(
        f"{url.rstrip('/')}/api/changes",
        params={k: v for k, v in params.items() if v is not None},
        headers={"Authorization": f"Bearer {key}"},
        timeout=timeout,
    )
    return answer_of(response)


def _scopes(answer: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    if answer.get("overall") and not (answer.get("filters") or {}).get("region"):
        out.append((OVERALL, answer["overall"]))
    out.extend(sorted(answer.get("regions", {}).items()))
    return out


def to_csv(answer: dict[str, Any]) -> str:
    """One row per change (formula-like cells neutralised, as the shortlist's CSV)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for name, scope in _scopes(answer):
        for group in GROUPS:
            for c in scope[group]:
                row = [name, group, *(c.get(col) for col in CSV_COLUMNS[2:])]
                writer.writerow(["" if v is None else _safe_cell(v) for v in row])
    return out.getvalue()


def _rank(value: Any) -> str:
    return "—" if value is None else str(value)


def to_tables(answer: dict[str, Any]) -> list[Table]:
    tables = []
    for name, scope in _scopes(answer):
        table = Table(
            "change",
            "company",
            "before",
            "after",
            "places",
            title=escape(f"{name} (top {answer['k']})"),
        )
        for group in GROUPS:
            for c in scope[group]:
                table.add_row(
                    group,
                    escape(f"{c['name'] or c['org_id']} ({c['org_id']})"),
                    _rank(c["rank_before"]),
                    _rank(c["rank_after"]),
                    "" if c["places"] is None else f"{c['places']:+d}",
                )
        if not any(scope[g] for g in GROUPS):
            table.add_row("no change", "", "", "", "")
        tables.append(table)
    return tables


def changes_command(
    url: Annotated[
        str, typer.Option(help="Base URL of the running service.")
    ] = "http://127.0.0.1:3000",
    k: Annotated[
        int | None,
        typer.Option(
            min=1, max=1000, help="Top k compared in each region (default: serving.changes_k)."
        ),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(help="Only this official French region name (or 'International')."),
    ] = None,
    sector: Annotated[str | None, typer.Option(help="Only this exact sector label.")] = None,
    founded_after: Annotated[
        str | None, typer.Option(help="Only companies founded on or after YYYY-MM-DD.")
    ] = None,
    moves: Annotated[
        int, typer.Option(min=0, max=50, help="Largest moves up and down listed per region.")
    ] = 5,
    output: Annotated[
        str, typer.Option("--format", help="Output format: table, csv or json.")
    ] = "table",
) -> None:
    """What changed between the ranking now served and the previous one, per region:
    entrants to and leavers of the top k, largest moves (key: $TALENTMAP_API_KEY)."""
    if output not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
    params = {
        "k": k,
        "region": region,
        "sector": sector,
        "founded_after": founded_after,
        "moves": moves,
    }
    key = _api_key()
    try:
        answer = fetch_changes(url, key, params)
    except RuntimeError as exc:
        Console(stderr=True).print(f"changes failed: {exc}", markup=False)
        raise typer.Exit(code=1) from exc
    except Exception as exc:  # connection refused, timeout, ...
        Console(stderr=True).print(f"cannot reach {url}: {exc}", markup=False)
        raise typer.Exit(code=1) from exc
    if output == "json":
        sys.stdout.write(json.dumps(answer, indent=2, ensure_ascii=False) + "\n")
    elif output == "csv":
        sys.stdout.write(to_csv(answer))
    else:
        console = Console()
        if answer.get("previous") is None:
            console.print("No previous ranking to compare with yet.", markup=False)
            return
        prev, cur = answer["previous"], answer["current"]
        console.print(
            f"served: model v{cur['model_version']} as of {cur['as_of']} · previous: "
            f"model v{prev['model_version']} as of {prev['as_of']} ({prev['source']})",
            markup=False,
        )
        for table in to_tables(answer):
            console.print(table)
