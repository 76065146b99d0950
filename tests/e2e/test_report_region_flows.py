"""The regional ecosystem report end to end (issue 11 §5).

- **CLI.** A world goes through the real retrain chain (so a ranking is published), then
  ``talentmap report region --region R --out FILE.html`` writes a standalone HTML file and
  a CSV beside it, in French and in English. The HTML refers to nothing outside itself
  (no ``src``/``href``, no URL outside the inlined Chart.js source), embeds the charts'
  data, library and script, and draws every chart when opened from disk in Chromium with
  every request refused; the CSV holds exactly the figures embedded in the HTML.
- **Page.** On the session's real server, in both languages: open the report for a
  region, see its charts and tables, no serious or critical axe-core violation in the
  report panel, every control reachable with Tab, and download the HTML and the CSV
  (screenshots in ``tests/artifacts/``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from browser import assert_accessible, browser_page, log_in, save_screenshot, tab_to
from test_serving_world import STAFF_KEY, WORLD_SEED, Server, serving_server

from talentmap.generate.world import generate_world
from talentmap.serving.report.aggregate import INDICATOR_KEYS, report_rows
from talentmap.serving.report.render import CHART_LIBRARY, CHART_SCRIPT
from talentmap.serving.translations import load_catalogue
from talentmap.settings import Settings
from talentmap.settings.model import ModelConfig
from talentmap.settings.training import TrainingConfig
from talentmap.training.pipeline.retrain import retrain

pytestmark = pytest.mark.e2e

TALENTMAP = Path(sys.executable).with_name("talentmap")
REGION = "Île-de-France"
URL_ATTRIBUTES = {"src", "href", "action", "srcset", "poster", "data", "formaction", "xlink:href"}


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in URL_ATTRIBUTES and value:
                self.urls.append((tag, name, value))


@pytest.fixture(scope="module")
def published_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("report-home")
    generate_world(home / "world", 700, WORLD_SEED)
    settings = Settings(home=home, training=TrainingConfig(model=ModelConfig(num_threads=1)))
    outcome = retrain(settings, home / "world")
    assert outcome.promoted, outcome.decision_reason
    return home


def run_report(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TALENTMAP_HOME": str(home),
        "TALENTMAP_LOG_FORMAT": "text",
        "TALENTMAP_TRAINING__MODEL__NUM_THREADS": "1",
    }
    return subprocess.run(
        [str(TALENTMAP), "report", "region", *args],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def embedded_report(text: str) -> dict:
    found = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>', text, re.S
    )
    assert found, "the report's data is not embedded"
    return json.loads(found.group(1).replace("<\\/", "</"))["report"]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_cli_writes_a_standalone_html_report_and_its_csv(
    published_home: Path, tmp_path: Path, lang: str
) -> None:
    out = tmp_path / "reports" / f"idf-{lang}.html"
    done = run_report(published_home, "--region", REGION, "--out", str(out), "--lang", lang)
    assert done.returncode == 0, done.stdout + done.stderr
    text = out.read_text(encoding="utf-8")
    library = CHART_LIBRARY.read_text(encoding="utf-8")

    # Standalone: no attribute points anywhere, and no URL outside the inlined library.
    parsed = _Collector()
    parsed.feed(text)
    assert parsed.urls == []
    assert "link" not in parsed.tags and "iframe" not in parsed.tags and "img" not in parsed.tags
    assert library in text and CHART_SCRIPT.read_text(encoding="utf-8") in text
    rest = text.replace(library, "")
    assert not re.search(r"https?:|//[a-z0-9.-]+\.[a-z]{2,}/|@import|url\(", rest, re.I), (
        re.findall(r".{40}(?:https?:|@import|url\().{40}", rest)[:3]
    )
    # The charts: one per indicator, their data embedded, drawn by the inlined script.
    assert sorted(re.findall(r'data-chart="(\w+)"', text)) == sorted(INDICATOR_KEYS)
    report = embedded_report(text)
    assert report["region"] == REGION and report["jei_in_data"] is True
    assert report["areas"][0]["top_k"]["status"] == "ok"  # the published ranking was read
    assert any(a["kind"] == "hub" for a in report["areas"])
    catalogue = load_catalogue(lang)
    assert f'<html lang="{lang}">' in text
    assert catalogue["report.title"].replace("{region}", REGION) in text

    # The CSV beside it holds exactly the embedded figures, headers translated.
    rows = list(csv.reader(io.StringIO(out.with_suffix(".csv").read_text(encoding="utf-8"))))
    assert rows[0][0] == catalogue["report.area"]
    expected = report_rows(report)
    assert len(rows) - 1 == len(expected)
    for got, want in zip(rows[1:], expected, strict=True):
        assert (got[0], got[2], int(got[4])) == (want["area"], want["indicator"], want["year"])
        assert got[5] == catalogue[f"report.status.{want['status']}"]
        assert got[6] == ("" if want["value"] is None else str(want["value"]))
    # Privacy: a suppressed figure is empty in the CSV and absent from the JSON.
    assert any(r["status"] == "suppressed" for r in expected)

    # Opened from disk with every request refused, Chromium draws all the charts.
    with browser_page("file://") as page:
        page.goto(out.as_uri())
        assert page.locator("canvas").count() == len(INDICATOR_KEYS)
        assert page.evaluate("() => Object.keys(Chart.instances).length") == len(INDICATOR_KEYS)
        assert_accessible(page)
        save_screenshot(page, f"regional-report-file-{lang}")


def test_the_cli_refuses_an_unknown_region_and_language(
    published_home: Path, tmp_path: Path
) -> None:
    done = run_report(published_home, "--region", "Occitania", "--out", str(tmp_path / "r.html"))
    said = re.sub(r"[\s│]+", " ", done.stderr)  # rich wraps the message in a box
    assert done.returncode == 2 and "not one of the 18 official region names" in said
    done = run_report(
        published_home, "--region", REGION, "--out", str(tmp_path / "r.html"), "--lang", "de"
    )
    assert done.returncode == 2 and not (tmp_path / "r.html").exists()


# ------------------------------------------------------------------------------ the page
@pytest.fixture(scope="session")
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Server:
    return serving_server(request, tmp_path_factory)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_page_opens_and_downloads_a_regional_report(
    server: Server, tmp_path: Path, lang: str
) -> None:
    catalogue = load_catalogue(lang)
    with browser_page(server.url) as page:
        log_in(page, server.url, STAFF_KEY, lang=lang)
        page.locator("#report-open:not([disabled])").wait_for()
        # Every shortlist row's link comes before the panel: allow for them all.
        tab_to(page, "#report-region", max_tabs=400)
        page.select_option("#report-region", REGION)
        tab_to(page, "#report-open", start_over=False)
        page.keyboard.press("Enter")
        page.locator("#report table[data-indicator=seed_rounds]").wait_for()
        title = catalogue["report.title"].replace("{region}", REGION)
        assert page.locator("#report h3").inner_text() == title
        assert page.locator("#report canvas").count() == len(INDICATOR_KEYS)
        # Suppressed cells say so in the page's language; none shows a number.
        suppressed = page.locator('#report td[data-status="suppressed"]')
        assert suppressed.count() > 0
        assert set(suppressed.all_inner_texts()) == {catalogue["report.cell.suppressed"]}
        assert_accessible(page, "#report-panel")
        tab_to(page, "#report-html", start_over=False)
        tab_to(page, "#report-csv", start_over=False)
        save_screenshot(page, f"regional-report-page-{lang}")

        with page.expect_download() as html_download:
            page.locator("#report-html").click()
        html_file = tmp_path / html_download.value.suggested_filename
        html_download.value.save_as(html_file)
        with page.expect_download() as csv_download:
            page.locator("#report-csv").click()
        csv_file = tmp_path / csv_download.value.suggested_filename
        csv_download.value.save_as(csv_file)

    assert (
        html_file.name.startswith("talentmap-report-le-de-france-") or html_file.suffix == ".html"
    )
    text = html_file.read_text(encoding="utf-8")
    assert f'<html lang="{lang}">' in text and title in text
    report = embedded_report(text)
    header = next(csv.reader(io.StringIO(csv_file.read_text(encoding="utf-8"))))
    assert header[0] == catalogue["report.area"]
    assert len(csv_file.read_text(encoding="utf-8").splitlines()) == 1 + len(report_rows(report))


def test_the_report_route_needs_a_key_and_a_known_region(server: Server) -> None:
    staff = {"Authorization": f"Bearer {STAFF_KEY}"}
    assert httpx.get(f"{server.url}/report/region", params={"region": REGION}).status_code == 401
    bad = httpx.get(f"{server.url}/report/region", params={"region": "Occitania"}, headers=staff)
    assert bad.status_code == 400 and "18 official" in bad.json()["error"]
    bad = httpx.get(
        f"{server.url}/report/region.csv", params={"region": REGION, "lang": "de"}, headers=staff
    )
    assert bad.status_code == 400
    good = httpx.get(
        f"{server.url}/report/region", params={"region": REGION}, headers=staff, timeout=120
    )
    assert good.status_code == 200
    body = good.json()
    # The served ranking's lineage, and the figures of the region then the hubs.
    assert body["lineage"]["ranking_id"] and body["lineage"]["lake_snapshot_id"]
    assert body["areas"][0]["kind"] == "region" and body["areas"][0]["label"] == REGION
    assert body["areas"][0]["top_k"]["status"] == "ok"
