"""The web page in headless Chromium against the running local stack: upload, classify, show, feedback.

Needs Debian's chromium at /usr/bin/chromium (Playwright's own browser download is not available here).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Browser, Page, Request, expect, sync_playwright

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
# shared/ sits beside the repository checkout.
DOG_PHOTO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "dog.jpeg"

# The page gives up polling after 120 s; waiting a little longer lets its own timeout message surface.
RESULT_TIMEOUT_MS = 150_000
UI_TIMEOUT_MS = 15_000
VERDICT_BADGES = {"allow": "Can be shown", "review": "Needs review", "block": "Blocked"}
UNTRAINED_WARNING = "Untrained model weights: these predictions are random, not real ImageNet results"
PERCENT = re.compile(r"^(\d{1,3}\.\d)%$")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian chromium not installed at {CHROMIUM}"),
    pytest.mark.local_only("the page is served by the local stack (WebUrl); a deployed stack's page lives elsewhere"),
]


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def uncaught_errors() -> list[str]:
    """JavaScript exceptions the page did not catch; every test ends expecting none."""
    return []


def _open(browser: Browser, url: str, uncaught_errors: list[str]) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.on("pageerror", lambda error: uncaught_errors.append(str(error)))
    page.goto(url)
    yield page
    context.close()


@pytest.fixture
def web_page(chromium_browser: Browser, local_stack, uncaught_errors: list[str]) -> Iterator[Page]:
    yield from _open(chromium_browser, local_stack.web_url, uncaught_errors)


@pytest.fixture
def web_page_at_other_address(chromium_browser: Browser, local_stack, uncaught_errors: list[str]) -> Iterator[Page]:
    """The same page opened at the other loopback name (127.0.0.1 when it is configured as localhost)."""
    parts = urlsplit(local_stack.web_url)
    other = {"localhost": "127.0.0.1", "127.0.0.1": "localhost"}[parts.hostname or ""]
    yield from _open(chromium_browser, parts._replace(netloc=f"{other}:{parts.port}").geturl(), uncaught_errors)


def wait_for_result_or_error(page: Page) -> None:
    page.wait_for_selector("#result:not([hidden]), #error:not([hidden])", timeout=RESULT_TIMEOUT_MS)
    if page.locator("#error").is_visible():
        pytest.fail(f"the page showed an error instead of a result: {page.locator('#error').text_content()}")


def test_uploaded_photo_shows_the_api_prediction_and_accepts_feedback(
    web_page: Page, local_stack, uncaught_errors: list[str]
) -> None:
    page = web_page
    assert DOG_PHOTO.is_file(), f"test photo missing: {DOG_PHOTO}"
    expect(page.locator("#error")).to_be_hidden()

    # When the shopper chooses a photo
    page.set_input_files("#file-input", str(DOG_PHOTO))

    # Then the page uploads it, waits for the classifier and shows the result
    wait_for_result_or_error(page)
    image_id = page.locator("#result").get_attribute("data-image-id")
    assert image_id, "the result section does not carry the image id"

    reply = requests.get(f"{local_stack.api_url}/predictions/{image_id}", timeout=10)
    assert reply.status_code == 200, reply.text
    api = reply.json()
    assert api["status"] == "done", api

    # ... the same top label as the API
    assert page.locator("#prediction").get_attribute("data-label") == api["prediction"]
    expect(page.locator("#prediction")).to_be_visible()

    # ... five rows, in the API's order, each score as a percentage close to the API's
    rows = page.locator("#labels tbody tr")
    expect(rows).to_have_count(5)
    assert [rows.nth(i).get_attribute("data-label") for i in range(5)] == [item["label"] for item in api["labels"]]
    for i, item in enumerate(api["labels"]):
        shown = rows.nth(i).locator(".score-value").text_content() or ""
        match = PERCENT.match(shown.strip())
        assert match, f"row {i + 1} score {shown!r} is not a percentage"
        assert abs(float(match.group(1)) - item["score"] * 100) <= 0.051, (shown, item)

    # ... the verdict as a badge
    verdict = page.locator("#verdict")
    expect(verdict).to_be_visible()
    assert verdict.get_attribute("data-verdict") == api["verdict"]
    expect(verdict).to_have_text(VERDICT_BADGES[api["verdict"]])

    # ... the untrained-weights warning exactly when the API says the weights are untrained
    warning = page.locator("#untrained-warning")
    if api["model"]["weights"] == "untrained":
        expect(warning).to_be_visible()
        expect(warning).to_have_text(UNTRAINED_WARNING)
    else:
        expect(warning).to_be_hidden()

    # ... and the preview comes from the local file, not from S3
    assert (page.locator("#preview").get_attribute("src") or "").startswith("blob:")

    # When the shopper reports a wrong prediction
    page.fill("#correct-label", "Siberian husky")
    page.fill("#comment", "browser test: the dog is a husky")
    page.click("#feedback-form button[type=submit]")

    # Then the API records it and the page says thanks
    expect(page.locator("#feedback-status")).to_have_text("Thanks \u2014 feedback recorded")
    assert uncaught_errors == []


def test_text_file_is_rejected_in_the_browser_without_any_upload(
    web_page: Page, tmp_path: Path, uncaught_errors: list[str]
) -> None:
    page = web_page
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo\n")
    requests_after_load: list[Request] = []
    page.on("request", lambda request: requests_after_load.append(request))

    # When the shopper chooses a text file
    page.set_input_files("#file-input", str(notes))

    # Then the page explains why, and nothing leaves the browser
    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("notes.txt")
    expect(error).to_contain_text("not a supported image")
    expect(page.locator("#result")).to_be_hidden()
    expect(page.locator("#file-input")).to_be_enabled()
    assert [f"{r.method} {r.url}" for r in requests_after_load] == []
    assert uncaught_errors == []


def test_page_opened_at_the_other_loopback_address_uploads_and_shows_the_result(
    web_page_at_other_address: Page, local_stack, uncaught_errors: list[str]
) -> None:
    page = web_page_at_other_address
    assert urlsplit(page.url).netloc != urlsplit(local_stack.web_origin).netloc

    # When the shopper chooses a photo on the page opened at 127.0.0.1 (its configured origin is localhost)
    page.set_input_files("#file-input", str(DOG_PHOTO))

    # Then the browser's CORS checks pass (API preflight, S3 POST, result polling) and the result is shown
    wait_for_result_or_error(page)
    image_id = page.locator("#result").get_attribute("data-image-id")
    assert image_id, "the result section does not carry the image id"
    reply = requests.get(f"{local_stack.api_url}/predictions/{image_id}", timeout=10)
    assert reply.json()["status"] == "done", reply.text
    assert uncaught_errors == []
