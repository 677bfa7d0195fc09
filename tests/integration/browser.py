"""What the browser tests share: Debian's Chromium under Playwright, the accessibility check and the layout check.

Needs Debian's chromium at /usr/bin/chromium (Playwright's own browser download is not available here).
"""

from __future__ import annotations

import json
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, Playwright, expect

CHROMIUM = Path("/usr/bin/chromium")
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
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "photos"
DESKTOP = {"width": 1000, "height": 900}
PHONE = {"width": 360, "height": 740}
# expect()'s own default is 5 s: too short for a function's cold start on a shared, loaded machine.
EXPECT_TIMEOUT_MS = 20_000
expect.set_options(timeout=EXPECT_TIMEOUT_MS)
# What the check fails on: axe's two highest impacts.
BLOCKING_IMPACTS = frozenset({"serious", "critical"})


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def accessibility_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one readable line each."""
    results = Axe().run(page)
    lines = []
    for violation in results.response["violations"]:
        if violation.get("impact") in BLOCKING_IMPACTS:
            targets = [json.dumps(node.get("target")) for node in violation.get("nodes", [])][:5]
            lines.append(f"{violation['impact']} {violation['id']}: {violation['help']} at {', '.join(targets)}")
    return lines


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the window (0 when nothing needs sideways scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def assert_words_for(category: str, shown: str) -> None:
    """A reason reads as words ("Shows alcohol (beer bottle, 62%)"), not as its code ("alcohol", "off_topic")."""
    words = shown.split(" (")[0]
    assert words and words != category and "_" not in words, (category, shown)
