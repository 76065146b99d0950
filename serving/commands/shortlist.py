"""``talentmap shortlist``: call a running service; print a table, CSV or JSON.

The API key comes from ``TALENTMAP_API_KEY`` only: a key given as an option would end up
in shell history and process listings.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

API_KEY_ENV = "TALENTMAP_API_KEY"

FORMATS = ("table", "csv", "json")

#: Languages the served reasons are worded in (``reasons[].texts``); the API's own
#: ``text`` stays English for older clients.
LANGUAGES = ("en", "fr")

CSV_COLUMNS = (
    "rank",
    "org_id",
    "name",
    "region",
    "city",
    "sector",
    "score",
    "percentile",
    "founders",
    "reason_1",
    "reason_2",
    "reason_3",
)


def _api_key() -> str:
    key = os.environ.get(API_KEY_ENV, "").strip()
    if not key:
        raise typer.BadParameter(f"set the API key in the environment variable {API_KEY_ENV}")
    return key


def fetch_shortlist(url: str, key: str, body: dict[str, Any], timeout: float = 60.0) -> dict:
    """POST /shortlist; raises ``RuntimeError`` with the server's message on an error."""
    import httpx

    response = httpx.post(
        f"{url.rstrip('/')}/shortlist",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=timeout,
    )
    return answer_of(response)


def answer_of(response: Any) -> dict:
    """The JSON answer of a 200; else ``RuntimeError`` with the status and the server's
    message (shared with ``talentmap changes``)."""
    if response.status_code != 200:
        try:
            detail: Any = response.json()
        except ValueError:
            detail = response.text
        raise RuntimeError(f"{response.status_code}: {json.dumps(detail, ensure_ascii=False)}")
    return dict(response.json())


def _reason_texts(candidate: dict[str, Any], lang: str = "en") -> list[str]:
    # A server older than the French wording sends only ``text``: fall back to it.
    texts = [(r.get("texts") or {}).get(lang) or r["text"] for r in candidate.get("reasons") or []]
    return texts + [""] * (3 - len(texts))


def to_csv(candidates: list[dict[str, Any]], lang: str = "en") -> str:
    """The shortlist as CSV (formula-like cells are quoted with a leading apostrophe)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for c in candidates:
        founders = "; ".join(f"{f['name']} ({f['role']})" for f in c["founders"])
        row = [
            c["rank"],
            c["org_id"],
            c["name"],
            c["region"] or "",
            c["city"] or "",
            c["sector"] or "",
            f"{c['score']:.4f}",
            c["percentile"],
            founders,
            *_reason_texts(c, lang)[:3],
        ]
        writer.writerow([_safe_cell(v) for v in row])
    return out.getvalue()


def _safe_cell(value: object) -> object:
    # Spreadsheets run cells starting with = + - @ as formulas; names come from sources.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        value = "'" + value
    if isinstance(value, str) and "\r" in value:
        # Python 3.11's csv writer quotes only the line terminator's characters ("\n"):
        # a bare CR inside a cell would split the row in spreadsheets (issue 5, hostile input).
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value


def to_table(body: dict[str, Any], lang: str = "en") -> Table:
    lineage = body["lineage"]
    table = Table(
        "#",
        "company",
        "region",
        "sector",
        "score",
        "pct",
        "founders",
        "top reason",
        title=(
            f"{len(body['candidates'])} of {body['matching']:,} matching "
            f"({body['total_candidates']:,} candidates) — model v{lineage['model_version']}, "
            f"as of {lineage['as_of']}"
        ),
        caption=f"run {lineage['run_id']} · features {lineage['feature_snapshot_id']}",
    )
    for c in body["candidates"]:
        founders = ", ".join(f["name"] for f in c["founders"])
        table.add_row(
            str(c["rank"]),
            # Names come from the sources: escaped, so "[x]" in a name is printed, not
            # read as Rich markup.
            f"{escape(c['name'])}\n[dim]{escape(c['org_id'])} · {escape(c['city'] or '')}[/]",
            escape(c["region"] or ""),
            escape(c["sector"] or ""),
            f"{c['score']:.3f}",
            f"{c['percentile']:.1f}",
            escape(founders),
            escape(_reason_texts(c, lang)[0]),
        )
    return table


def shortlist_command(
    url: Annotated[
        str, typer.Option(help="Base URL of the running service.")
    ] = "http://127.0.0.1:3000",
    k: Annotated[int, typer.Option(min=1, max=1000, help="How many candidates (1-1000).")] = 50,
    region: Annotated[
        str | None,
        typer.Option(help="Official French region name, or 'International'."),
    ] = None,
    sector: Annotated[str | None, typer.Option(help="Exact sector label, e.g. fintech.")] = None,
    founded_after: Annotated[
        str | None, typer.Option(help="Only companies founded on or after YYYY-MM-DD.")
    ] = None,
    min_score: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Minimum calibrated score.")
    ] = None,
    output: Annotated[
        str, typer.Option("--format", help="Output format: table, csv or json.")
    ] = "table",
    lang: Annotated[
        str,
        typer.Option(help="Language of the reasons in table and CSV output: en or fr."),
    ] = "en",
) -> None:
    """Fetch a ranked, explained shortlist from a running service (key: $TALENTMAP_API_KEY)."""
    if output not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
    if lang not in LANGUAGES:
        raise typer.BadParameter(f"--lang must be one of {', '.join(LANGUAGES)}")
    body: dict[str, Any] = {"k": k, "include_explanations": True}
    for name, value in (
        ("region", region),
        ("sector", sector),
        ("founded_after", founded_after),
        ("min_score", min_score),
    ):
        if value is not None:
            body[name] = value
    key = _api_key()
    try:
        answer = fetch_shortlist(url, key, body)
    except RuntimeError as exc:
        Console(stderr=True).print(f"[red]shortlist failed:[/] {exc}")
        raise typer.Exit(code=1) from exc
    except Exception as exc:  # connection refused, timeout, ...
        Console(stderr=True).print(f"[red]cannot reach {url}:[/] {exc}")
        raise typer.Exit(code=1) from exc
    if output == "json":
        sys.stdout.write(json.dumps(answer, indent=2, ensure_ascii=False) + "\n")
    elif output == "csv":
        sys.stdout.write(to_csv(answer["candidates"], lang))
    else:
        Console().print(to_table(answer, lang))
