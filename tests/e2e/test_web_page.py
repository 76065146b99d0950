"""The web page at ``/`` in headless Chromium (Debian's, driven by Playwright).

The page loads from the real server, asks for the API key, shows every region on the
map, and filtering by a region updates the table (and the selected tile). A screenshot is
written to the test's temporary folder for a human look.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_serving_world import STAFF_KEY, Server, serving_server

from talentmap.serving.regions import MAP_REGIONS

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Server:
    return serving_server(request, tmp_path_factory)


@pytest.fixture()
def page(server: Server):
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        # Only the server itself may be contacted: anything else would be a CDN leak.
        outside: list[str] = []

        def guard(route, request) -> None:
            if request.url.startswith(server.url):
                route.continue_()
            else:
                outside.append(request.url)
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
        assert not outside, f"the page tried to reach {outside}"
        assert not errors, f"JavaScript errors: {errors}"
        browser.close()


def test_page_asks_for_key_then_filters_by_region(page, server: Server, tmp_path: Path) -> None:
    page.goto(server.url + "/")
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
    page.screenshot(path=str(tmp_path / "talentmap-all.png"), full_page=True)

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

    page.screenshot(path=str(tmp_path / "talentmap-region.png"), full_page=True)
