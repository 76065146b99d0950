"""The regional report as files: a standalone HTML page (charts and their library inlined,
no external URL) and a CSV of every figure, in French (default) or English.

Strings come from the page's own catalogue (the ``report.*`` keys of
``serving/i18n/<lang>/report.json``, merged by ``serving/translations.py``),
so the page, the file and the CSV headers say the same thing. The HTML's tables are
rendered here, so they read without JavaScript; the charts are drawn by the same script
the page uses (``static/report-charts.js``) and Chart.js from the vendor folder that
``make install`` fills. Without that file the report still has every value, in tables.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Mapping
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from talentmap.serving.report.aggregate import INDICATOR_KEYS, INDICATORS, report_rows
from talentmap.serving.translations import DEFAULT_LANGUAGE, load_catalogue

SERVING_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = SERVING_DIR / "static"
CHART_LIBRARY = STATIC_DIR / "vendor" / "chart.umd.min.js"
CHART_SCRIPT = STATIC_DIR / "report-charts.js"
LOCALES = {"fr": "fr-FR", "en": "en-GB"}
CSV_FIELDS: tuple[str, ...] = ("area", "area_kind", "indicator", "label", "year", "status", "value")
# Spreadsheets run cells that start with these as formulas (area labels are source text).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The page's whole catalogue for ``lang`` (the report's keys are ``report.*``)."""
    return load_catalogue(lang)


def t(lang: str, key: str, **params: Any) -> str:
    text = catalogue(lang).get(key, key)
    return re.sub(r"\{(\w+)\}", lambda m: str(params.get(m.group(1), m.group(0))), text)


def format_number(value: float | int, lang: str, decimals: int = 0) -> str:
    """fr-FR: 1 234 567,5 (narrow no-break space, decimal comma); en-GB: 1,234,567.5."""
    text = f"{value:,.{decimals}f}"
    if lang == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return text


def format_date(day: date, lang: str) -> str:
    return day.strftime("%d/%m/%Y")  # the same in fr-FR and en-GB


def format_cell(c: Mapping[str, Any], unit: str, lang: str) -> str:
    status = c["status"]
    if status != "ok":
        return t(lang, f"report.cell.{status}")
    value = c["value"]
    if unit == "eur":
        number = format_number(value, lang)
        return f"{number}\u00a0€" if lang == "fr" else f"€{number}"
    if unit == "percent":
        number = format_number(value, lang, 1)
        return f"{number}\u00a0%" if lang == "fr" else f"{number}%"
    return format_number(value, lang)


def indicator_label(key: str, lang: str, k: int) -> str:
    return t(lang, f"report.ind.{key}", k=k)


def _safe_csv(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def render_csv(report: Mapping[str, Any], lang: str = DEFAULT_LANGUAGE) -> str:
    """Every figure as one row; headers and labels translated, values machine-readable
    (a dot for decimals, empty when suppressed: the status column says why)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header_keys = {"area": "report.area", "area_kind": "report.area_kind"}
    header_keys |= {"indicator": "report.indicator", "label": "report.indicator"}
    writer.writerow(
        [
            t(lang, header_keys[f]) + (" (code)" if f == "indicator" else "")
            if f in header_keys
            else t(lang, f"report.{f}")
            for f in CSV_FIELDS
        ]
    )
    for row in report_rows(report):
        writer.writerow(
            [
                _safe_csv(row["area"]),
                t(lang, f"report.kind.{row['area_kind']}"),
                row["indicator"],
                indicator_label(row["indicator"], lang, report["top_k"]),
                row["year"],
                t(lang, f"report.status.{row['status']}"),
                "" if row["value"] is None else row["value"],
            ]
        )
    return out.getvalue()


def _table(report: Mapping[str, Any], key: str, unit: str, lang: str) -> str:
    esc = html.escape
    label = indicator_label(key, lang, report["top_k"])
    head = "".join(f'<th scope="col">{y}</th>' for y in report["years"])
    rows = []
    for area in report["areas"]:
        cells = "".join(f"<td>{esc(format_cell(c, unit, lang))}</td>" for c in area["values"][key])
        rows.append(f'<tr><th scope="row">{esc(area["label"])}</th>{cells}</tr>')
    caption = esc(t(lang, "report.table.caption", indicator=label))
    return (
        f'<table class="report-table" data-indicator="{key}"><caption>{caption}</caption>'
        f'<thead><tr><th scope="col">{esc(t(lang, "report.area"))}</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _top_k_table(report: Mapping[str, Any], lang: str) -> str:
    esc = html.escape
    k = report["top_k"]
    heads = "".join(
        f'<th scope="col">{esc(indicator_label(f"top_k_{s}", lang, k))}</th>'
        for s in ("national", "overall")
    )
    rows = []
    for area in report["areas"]:
        top = area["top_k"]
        cells = []
        for scope in ("national", "overall"):
            c = top.get(scope, {"status": top["status"]})
            if c["status"] == "ok" and "share_pct" in c:
                text = t(
                    lang,
                    "report.topk.share",
                    n=format_number(c["value"], lang),
                    share=format_number(c["share_pct"], lang, 1),
                )
            else:
                text = format_cell(c, "count", lang)
            cells.append(f"<td>{esc(text)}</td>")
        rows.append(f'<tr><th scope="row">{esc(area["label"])}</th>{"".join(cells)}</tr>')
    return (
        f'<table class="report-table" data-indicator="top_k"><caption>'
        f"{esc(t(lang, 'report.group.topk'))}</caption><thead><tr>"
        f'<th scope="col">{esc(t(lang, "report.area"))}</th>{heads}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def chart_labels(report: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """What the chart script needs to label its charts, in ``lang``."""
    return {
        "locale": LOCALES[lang],
        "indicators": {key: indicator_label(key, lang, report["top_k"]) for key in INDICATOR_KEYS},
        "alt": {
            key: t(lang, "report.chart.alt", indicator=indicator_label(key, lang, report["top_k"]))
            for key in INDICATOR_KEYS
        },
    }


def _script_text(text: str) -> str:
    # Inside <script>, only "</script" (any case) and "<!--" can end or confuse the element.
    return re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE).replace("<!--", "<\\!--")


STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#1a1a1a;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
.muted{color:#4a4a4a}.report-table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.9rem}
.report-table caption{text-align:left;font-weight:600;padding:.3rem 0}
.report-table th,.report-table td{border:1px solid #bbb;padding:.25rem .5rem;text-align:right}
.report-table th[scope=row]{text-align:left}.chart{max-width:46rem;height:16rem;margin-top:1rem}
"""

GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("funding", ("seed_rounds", "seed_amount_eur")),
    ("programmes", ("jei_companies", "program_companies")),
    ("hiring", ("job_postings", "headcount_growth_pct")),
    ("talent", ("founders_phd", "founders_engineer", "papers", "patents", "software")),
)


def render_html(
    report: Mapping[str, Any],
    lang: str = DEFAULT_LANGUAGE,
    *,
    chart_library: str | None = None,
    produced_on: date | None = None,
) -> str:
    """A standalone HTML report: every figure in tables, charts drawn by inlined scripts.

    ``chart_library`` is Chart.js's UMD source (None: no charts, a note says so).
    """
    esc = html.escape
    units = dict(INDICATORS)
    as_of = date.fromisoformat(report["as_of"])
    when = format_date(as_of, lang)
    dates_note = (
        t(lang, "report.dates", date=when, year=report["partial_year"])
        if report["partial_year"]
        else t(lang, "report.dates_full", date=when)
    )
    notes = [
        t(lang, "report.privacy", n=report["min_group_size"]),
        dates_note,
    ]
    if not report["jei_in_data"]:
        notes.append(t(lang, "report.jei_missing"))
    snapshot = report.get("lineage", {}).get("lake_snapshot_id")
    if snapshot:
        notes.append(t(lang, "report.source", snapshot=snapshot))
    areas = "".join(
        f"<li>{esc(a['label'])} — {esc(t(lang, 'report.kind.' + a['kind']))} · "
        f"{esc(t(lang, 'report.organisations', n=format_cell(a['organisations'], 'count', lang)))}</li>"
        for a in report["areas"]
    )
    sections = []
    for group, keys in GROUPS:
        parts = [f"<h2>{esc(t(lang, 'report.group.' + group))}</h2>"]
        for key in keys:
            parts.append(f'<div class="chart" data-chart="{key}"></div>' if chart_library else "")
            parts.append(_table(report, key, units[key], lang))
        sections.append("<section>" + "".join(parts) + "</section>")
    sections.append(
        f"<section><h2>{esc(t(lang, 'report.group.topk'))}</h2>{_top_k_table(report, lang)}</section>"
    )
    scripts = ""
    if chart_library:
        data = json.dumps({"report": report, "labels": chart_labels(report, lang)})
        scripts = (
            f'<script type="application/json" id="report-data">{_script_text(data)}</script>'
            f"<script>{_script_text(chart_library)}</script>"
            f"<script>{_script_text(CHART_SCRIPT.read_text(encoding='utf-8'))}</script>"
            "<script>(function(){var d=JSON.parse(document.getElementById('report-data')"
            ".textContent);TalentMapReportCharts.drawAll(document,d.report,d.labels);})();"
            "</script>"
        )
    else:
        notes.append(t(lang, "report.no_charts"))
    title = t(lang, "report.title", region=report["region"])
    produced = t(lang, "report.generated", date=format_date(produced_on or date.today(), lang))
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{esc(title)}</h1>"
        f'<p class="muted">{esc(t(lang, "report.subtitle", date=when))}</p></header>'
        f"<main><ul>{areas}</ul>"
        + "".join(f'<p class="muted">{esc(n)}</p>' for n in notes)
        + "".join(sections)
        + f'</main><footer><p class="muted">{esc(produced)}</p></footer>{scripts}</body></html>'
    )


def read_chart_library() -> str | None:
    """Chart.js from the vendor folder, or None when ``make install`` did not copy it."""
    try:
        return CHART_LIBRARY.read_text(encoding="utf-8")
    except OSError:
        return None
