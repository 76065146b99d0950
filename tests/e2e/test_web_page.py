"""The web page at ``/`` in headless Chromium (Debian's, driven by Playwright).

The page loads from the real server, asks for the API key, shows every region on the
map, and filtering by a region updates the table (and the selected tile); that flow runs
in English (``?lang=en``). The page is French by default, the English switch is
remembered by the browser, ``?lang=`` forces a language, and axe-core finds no serious or
critical violation in either language. The harness (``browser.py``) refuses any request
outside the server and any JavaScript error; screenshots go to ``tests/artifacts/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import (
    assert_accessible,
    browser_page,
    log_in,
    page_url,
    save_screenshot,
    tab_to,
)
from test_serving_world import STAFF_KEY, Server, serving_server

from talentmap.serving.regions import MAP_REGIONS
from talentmap.serving.translations import load_catalogue

pytestmark = pytest.mark.e2e


def shortlist_top(server: Server) -> dict[str, Any]:
    """The top candidate as the API gives it (reasons: English text, texts by language)."""
    answer = httpx.post(
        f"{server.url}/shortlist",
        json={"k": 1},
        headers={"Authorization": f"Bearer {STAFF_KEY}"},
        timeout=120,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["candidates"][0]


@pytest.fixture(scope="session")
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Server:
    return serving_server(request, tmp_path_factory)


@pytest.fixture()
def page(server: Server):
    with browser_page(server.url) as page:
        yield page


def test_page_asks_for_key_then_filters_by_region(page, server: Server, tmp_path: Path) -> None:
    page.goto(page_url(server.url, "/", "en"))
    key_input = page.locator("#api-key")
    key_input.wait_for(state="visible")
    assert page.locator("#app").is_hidden()

    key_input.fill("wrong-key")
    page.locator("#key-form button[type=submit]").click()
    page.locator("#key-error").filter(has_text="refused").wait_for()

    key_input.fill(STAFF_KEY)
    page.locator("#key-form button[type=submit]").click()
    page.locator("#shortlist tbody tr.row").first.wait_for()
    assert page.evaluate("sessionStorage.getItem('talentmap.apiKey')") == STAFF_KEY
    assert page.evaluate("localStorage.length") == 0

    tiles = page.locator(".tile")
    assert sorted(tiles.evaluate_all("ts => ts.map(t => t.dataset.region)")) == sorted(MAP_REGIONS)
    counts = page.locator(".tile .figures").all_inner_texts()
    assert sum(int(text.split(" ")[0]) for text in counts) > 0
    rows = page.locator("#shortlist tbody tr.row")
    assert rows.count() == 50
    save_screenshot(page, "talentmap-all-en")

    # Filter on the region holding the most top candidates, through the select.
    region = max(
        page.locator(".tile").all(),
        key=lambda t: int(t.locator(".figures").inner_text().split(" ")[0]),
    ).get_attribute("data-region")
    page.select_option("#f-region", region)
    page.locator("#table-title", has_text=f"in {region}").wait_for()
    shown = page.locator("#shortlist tbody tr.row td:nth-child(3)").all_inner_texts()
    assert shown and set(shown) == {region}
    assert page.locator(f'.tile.selected[data-region="{region}"]').count() == 1

    # Rows open to show their reasons.
    reasons = page.locator("#shortlist tbody tr.reasons").first
    assert reasons.is_hidden()
    rows.first.click()
    assert reasons.is_visible() and "score" in reasons.inner_text()

    # k and a tile click drive the same table.
    page.fill("#f-k", "3")
    page.locator("#filters button[type=submit]").click()
    page.locator("#table-title", has_text="top 3 of").wait_for()
    assert page.locator("#shortlist tbody tr.row").count() == 3

    # CSV export of what the table shows.
    with page.expect_download() as download:
        page.locator("#export-csv").click()
    csv_path = tmp_path / "shortlist.csv"
    download.value.save_as(csv_path)
    lines = csv_path.read_text(encoding="utf-8").strip().splitlines()
    assert lines[0].startswith("rank,org_id,name") and len(lines) == 4

    save_screenshot(page, "talentmap-region-en")


def test_french_by_default_english_remembered_and_lang_forced(page, server: Server) -> None:
    fr, en = load_catalogue("fr"), load_catalogue("en")
    log_in(page, server.url, STAFF_KEY)
    assert page.evaluate("document.documentElement.lang") == "fr"
    assert page.locator("#filters button[type=submit]").inner_text() == fr["page.filters.apply"]
    assert page.locator("#shortlist th").nth(1).inner_text() == fr["page.table.company"]
    # fr-FR numbers: a decimal comma in the score column.
    score = page.locator("#shortlist tbody tr.row td:nth-child(5)").first.inner_text()
    assert "," in score and "." not in score
    assert page.locator("#table-title").inner_text().startswith("Liste restreinte")
    # The model's reasons are French too, worded from the structured reasons (the API's
    # `text` stays English), and not marked as English.
    top = shortlist_top(server)
    assert top["reasons"] and all(r["texts"]["fr"] != r["text"] for r in top["reasons"])
    page.locator("#shortlist tbody tr.row").first.click()
    reasons = page.locator("#shortlist tbody tr.reasons").first.locator("li")
    assert reasons.all_text_contents() == [r["texts"]["fr"] for r in top["reasons"]]
    assert reasons.evaluate_all("lis => lis.map(li => li.lang)") == [""] * len(top["reasons"])
    assert any(
        t.endswith("(fait monter le score)") or t.endswith("(fait baisser le score)")
        for t in reasons.all_text_contents()
    )
    assert_accessible(page)
    # Every key control is reachable with the keyboard alone.
    for selector in (
        "[data-lang-switch=en]",
        "#f-region",
        "#f-k",
        "#export-csv",
        ".tile",
        "#shortlist a.company-link",
    ):
        tab_to(page, selector, max_tabs=120)
    save_screenshot(page, "talentmap-main-fr")

    # The switch: English now, and after a reload (remembered in localStorage)...
    page.locator("[data-lang-switch=en]").click()
    page.locator("#filters button[type=submit]", has_text=en["page.filters.apply"]).wait_for()
    assert page.evaluate("localStorage.getItem('talentmap.lang')") == "en"
    assert page.evaluate("sessionStorage.getItem('talentmap.apiKey')") == STAFF_KEY
    page.reload()
    page.locator("#shortlist tbody tr.row").first.wait_for()
    assert page.evaluate("document.documentElement.lang") == "en"
    score = page.locator("#shortlist tbody tr.row td:nth-child(5)").first.inner_text()
    assert "." in score and "," not in score
    page.locator("#shortlist tbody tr.row").first.click()
    reasons = page.locator("#shortlist tbody tr.reasons").first.locator("li")
    assert reasons.all_text_contents() == [r["text"] for r in top["reasons"]]
    assert page.locator("[data-lang-switch=en]").get_attribute("aria-pressed") == "true"
    assert_accessible(page)
    save_screenshot(page, "talentmap-main-en")

    # ...unless the address forces a language.
    page.goto(page_url(server.url, "/", "fr"))
    page.locator("#shortlist tbody tr.row").first.wait_for()
    assert page.locator("#filters button[type=submit]").inner_text() == fr["page.filters.apply"]
    assert page.evaluate("localStorage.getItem('talentmap.lang')") == "en"  # not overwritten
    # Error messages are translated: a refused key, in French.
    page.locator("#forget-key").click()
    page.locator("#api-key").fill("wrong-key")
    page.locator("#key-form button[type=submit]").click()
    page.locator("#key-error", has_text=fr["error.key_refused"]).wait_for()


def test_catalogue_route_is_public_and_rejects_unknown_languages(server: Server) -> None:
    for lang in ("fr", "en"):
        answer = httpx.get(f"{server.url}/i18n/{lang}.json", timeout=30)
        assert answer.status_code == 200
        assert answer.json() == load_catalogue(lang)
    assert httpx.get(f"{server.url}/i18n/de.json", timeout=30).status_code == 404


def test_company_page_of_a_computed_ranking_without_history(page, server: Server) -> None:
    # This world was trained and promoted without the retrain chain: nothing published,
    # no ranking logged, so the page has the current score but no earlier ranking, and
    # "what changed" has nothing to compare with. Both say so, in French.
    fr = load_catalogue("fr")
    log_in(page, server.url, STAFF_KEY)
    page.locator("#changes-caption", has_text=fr["changes.none"]).wait_for()
    name = page.locator("#shortlist a.company-link").first.inner_text()
    page.locator("#shortlist a.company-link").first.click()
    page.locator("#company").wait_for(state="visible")
    assert page.locator("#company-title").inner_text() == name
    assert page.locator("#history tbody").inner_text().strip() == fr["company.history_empty"]
    assert page.locator("#timeline tbody tr.event").count() >= 1
    assert_accessible(page)
    page.goto(page_url(server.url, "/company/no-such-org", "fr"))
    page.locator("#company-status", has_text=fr["company.not_found"]).wait_for()
