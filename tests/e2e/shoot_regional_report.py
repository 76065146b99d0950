"""Take the documentation screenshot of the regional report on the page (not a test).

Run against a running service (``talentmap serve``) with a staff key in
``TALENTMAP_API_KEY``::

    python tests/e2e/shoot_regional_report.py --url http://127.0.0.1:3000 \\
        --region Île-de-France --lang fr --out docs/screenshots/regional-report-fr.png

It drives Debian's Chromium through the test harness (``browser.py``: nothing outside the
server is reachable), opens the report panel for the region and captures that panel.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser import browser_page, log_in


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="The running service's base URL.")
    parser.add_argument("--region", default="Île-de-France", help="The region to report on.")
    parser.add_argument("--lang", default="fr", choices=("fr", "en"), help="Page language.")
    parser.add_argument("--out", type=Path, required=True, help="The PNG file to write.")
    args = parser.parse_args(argv)
    key = os.environ["TALENTMAP_API_KEY"]
    with browser_page(args.url) as page:
        log_in(page, args.url, key, lang=args.lang)
        page.locator("#report-open:not([disabled])").wait_for()
        page.select_option("#report-region", args.region)
        page.locator("#report-open").click()
        page.locator("#report table[data-indicator=top_k]").wait_for()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.locator("#report-panel").screenshot(path=str(args.out))
    print(f"screenshot: {args.out}")


if __name__ == "__main__":
    main()
