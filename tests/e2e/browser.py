"""The browser-test harness every UI flow uses: Debian's Chromium driven by Playwright,
axe-core run inside the page, screenshots kept as test artefacts, keyboard reachability.

No test lives here. A flow test does::

    from browser import assert_accessible, browser_page, log_in, save_screenshot, tab_to

    def test_flow(server):
        with browser_page(server.url) as page:
            log_in(page, server.url, STAFF_KEY, lang="fr")
            assert_accessible(page)               # no serious or critical axe violation
            tab_to(page, "#export-csv")           # reachable with the Tab key alone
            save_screenshot(page, "flow-fr")      # tests/artifacts/flow-fr.png (printed)

- **Browser**: Playwright's own browser download cannot work here, so it drives
  ``/usr/bin/chromium`` (``apt-get install chromium``; ``make browser``), headless, with
  the networking flags that stop Chromium calling home. The test is skipped only when
  Playwright or Chromium is missing.
- **Nothing outside the server**: a route guard aborts every request to any other origin
  and the session fails at exit if there was one (a CDN, a font, an analytics call would
  be a leak); JavaScript errors (``pageerror``) fail the session too.
- **axe-core** comes from npm (``package.json`` / ``package-lock.json``, installed by
  ``npm ci`` from ``make install``): its script is evaluated in the page through the
  DevTools protocol, which the page's Content-Security-Policy does not block, so the page
  is checked with its real CSP. A missing ``node_modules/axe-core`` fails the check
  (it is part of the install), rather than skipping it.
- **Screenshots** go to ``tests/artifacts/`` (git-ignored; ``TALENTMAP_TEST_ARTIFACTS``
  overrides) and their paths are printed (``pytest -s`` or the captured output shows them).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
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
AXE_SCRIPT = REPO / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")
VIEWPORT = {"width": 1400, "height": 1000}


def artifacts_dir() -> Path:
    """Where screenshots and downloads are kept (created on first use)."""
    folder = Path(os.environ.get("TALENTMAP_TEST_ARTIFACTS") or REPO / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def browser_page(
    server_url: str, viewport: dict[str, int] | None = None, locale: str = "fr-FR"
) -> Iterator[Any]:
    """A fresh Chromium page (new profile: empty localStorage and sessionStorage) that may
    reach ``server_url`` only; fails at exit on any outside request or JavaScript error."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=viewport or VIEWPORT, locale=locale)
            outside: list[str] = []

            def guard(route: Any, request: Any) -> None:
                if request.url.startswith(server_url):
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
        finally:
            browser.close()


def page_url(server_url: str, path: str = "/", lang: str | None = None) -> str:
    if lang is None:
        return server_url + path
    return f"{server_url}{path}{'&' if '?' in path else '?'}lang={lang}"


def log_in(page: Any, server_url: str, key: str, lang: str | None = None) -> None:
    """Open the main page (``?lang=`` when given), give the key, wait for the shortlist."""
    page.goto(page_url(server_url, "/", lang))
    page.locator("#api-key").wait_for(state="visible")
    page.locator("#api-key").fill(key)
    page.locator("#key-form button[type=submit]").click()
    page.locator("#shortlist tbody tr.row").first.wait_for()


def axe_violations(page: Any, selector: str | None = None) -> list[dict[str, Any]]:
    """axe-core's violations on the page (or inside ``selector``), as axe reports them."""
    if not AXE_SCRIPT.is_file():
        raise AssertionError(
            f"axe-core is not installed ({AXE_SCRIPT} missing): run `make install` (npm ci)"
        )
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8"))
    return page.evaluate(
        """async (selector) => {
            const context = selector ? document.querySelector(selector) : document;
            const result = await window.axe.run(context, { resultTypes: ["violations"] });
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
            }));
        }""",
        selector,
    )


def assert_accessible(page: Any, selector: str | None = None) -> list[dict[str, Any]]:
    """No serious or critical axe-core violation; returns the minor ones (for a report)."""
    found = axe_violations(page, selector)
    blocking = [v for v in found if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, "axe-core found serious or critical violations:\n" + "\n".join(
        f"- {v['impact']} {v['id']}: {v['help']} at {v['targets']}" for v in blocking
    )
    return [v for v in found if v["impact"] not in BLOCKING_IMPACTS]


def save_screenshot(page: Any, name: str, full_page: bool = True) -> Path:
    """``<artifacts>/<name>.png``; the path is printed so a run's log says where it is."""
    path = artifacts_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    print(f"screenshot: {path}")
    return path


def focused_matches(page: Any, selector: str) -> bool:
    return bool(
        page.evaluate(
            "(s) => !!document.activeElement && document.activeElement.matches(s)", selector
        )
    )


def tab_to(page: Any, selector: str, max_tabs: int = 80, start_over: bool = True) -> int:
    """Press Tab until the focused element matches ``selector``; returns how many presses.

    Fails when it is not reached in ``max_tabs`` presses: the control is not reachable
    with the keyboard. ``start_over`` first moves the focus to the top of the document.
    """
    if start_over:
        # Focus a throwaway element at the very top, then remove it: the browser's
        # sequential-focus starting point stays there, so the next Tab is the page's first.
        page.evaluate(
            """() => {
                const start = document.createElement("span");
                start.tabIndex = -1;
                document.body.prepend(start);
                start.focus();
                start.remove();
            }"""
        )
    for presses in range(1, max_tabs + 1):
        page.keyboard.press("Tab")
        if focused_matches(page, selector):
            return presses
    seen = page.evaluate(
        "() => document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : null"
    )
    raise AssertionError(
        f"{selector} is not reachable with Tab in {max_tabs} presses (focus ended on {seen})"
    )
