"""The shoppers' page in headless Chromium against the running local stack: several photos at once, each with
its preview, progress and result; verdict reasons in words; feedback and reports; errors in plain words;
focus; a 360 px wide window; and axe-core's accessibility check.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from PIL import Image
from playwright.sync_api import Browser, Locator, Page, Request, expect

from tests.integration import browser

# The page gives up polling after 120 s; waiting a little longer lets its own timeout message surface.
RESULT_TIMEOUT_MS = 150_000
UI_TIMEOUT_MS = 15_000
VERDICT_BADGES = {"allow": "Can be shown", "review": "Needs review", "block": "Blocked"}
UNTRAINED_WARNING = "Untrained model weights: these predictions are random, not real ImageNet results"
PERCENT = re.compile(r"^(\d{1,3}\.\d)%$")
SNEAKER, MUG = browser.SAMPLES / "sneaker.jpg", browser.SAMPLES / "mug.jpg"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.skipif(not browser.CHROMIUM.exists(), reason=f"Debian chromium not installed at {browser.CHROMIUM}"),
    pytest.mark.local_only("the page is served by the local stack (WebUrl); a deployed stack's page lives elsewhere"),
]


def open_page(
    chromium_browser: Browser, local_stack, uncaught_errors: list[str], viewport: dict, url: str | None = None
) -> Page:
    context = chromium_browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.on("pageerror", lambda error: uncaught_errors.append(str(error)))
    page.goto(url or local_stack.web_url)
    return page


@pytest.fixture
def web_page(chromium_browser: Browser, local_stack, uncaught_errors: list[str]) -> Iterator[Page]:
    page = open_page(chromium_browser, local_stack, uncaught_errors, browser.DESKTOP)
    yield page
    page.context.close()


@pytest.fixture
def phone_page(chromium_browser: Browser, local_stack, uncaught_errors: list[str]) -> Iterator[Page]:
    page = open_page(chromium_browser, local_stack, uncaught_errors, browser.PHONE)
    yield page
    page.context.close()


@pytest.fixture
def web_page_at_other_address(chromium_browser: Browser, local_stack, uncaught_errors: list[str]) -> Iterator[Page]:
    """The same page opened at the other loopback name (127.0.0.1 when it is configured as localhost)."""
    parts = urlsplit(local_stack.web_url)
    other = {"localhost": "127.0.0.1", "127.0.0.1": "localhost"}[parts.hostname or ""]
    url = parts._replace(netloc=f"{other}:{parts.port}").geturl()
    page = open_page(chromium_browser, local_stack, uncaught_errors, browser.DESKTOP, url)
    yield page
    page.context.close()


def photo_cards(page: Page) -> Locator:
    return page.locator("[data-testid=photo]")


def wait_until_settled(card: Locator) -> None:
    """Waits for the card's result or its error; a card that shows an error fails the test."""
    settled = card.locator("[data-testid=result]:not([hidden]), [data-testid=photo-error]:not([hidden])")
    expect(settled).to_have_count(1, timeout=RESULT_TIMEOUT_MS)
    error = card.locator("[data-testid=photo-error]")
    if error.is_visible():
        pytest.fail(f"the page showed an error instead of a result: {error.text_content()}")


def api_prediction(local_stack, image_id: str) -> dict:
    reply = requests.get(f"{local_stack.api_url}/predictions/{image_id}", timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def assert_card_matches_the_api(card: Locator, api: dict) -> None:
    assert api["status"] == "done", api
    assert card.locator("[data-testid=prediction]").get_attribute("data-label") == api["prediction"]
    rows = card.locator("[data-testid=labels] tbody tr")
    expect(rows).to_have_count(5)
    assert [rows.nth(i).get_attribute("data-label") for i in range(5)] == [item["label"] for item in api["labels"]]
    for i, item in enumerate(api["labels"]):
        shown = rows.nth(i).locator(".score-value").text_content() or ""
        match = PERCENT.match(shown.strip())
        assert match, f"row {i + 1} score {shown!r} is not a percentage"
        assert abs(float(match.group(1)) - item["score"] * 100) <= 0.051, (shown, item)
    verdict = card.locator("[data-testid=verdict]")
    assert verdict.get_attribute("data-verdict") == api["verdict"]
    expect(verdict).to_have_text(VERDICT_BADGES[api["verdict"]])
    # The reasons are words, one per reason the API gives, never the category code itself.
    reasons = card.locator("[data-testid=reasons] li")
    expect(reasons).to_have_count(len(api["verdict_reasons"]))
    for i, reason in enumerate(api["verdict_reasons"]):
        browser.assert_words_for(reason["category"], reasons.nth(i).text_content() or "")
    # The safety model's result in plain words: its top class first, with the API's percentage.
    safety = card.locator("[data-testid=safety]")
    if api["safety"] is None:
        expect(safety).to_contain_text("not checked")
    else:
        top = api["safety"]["top_class"]
        assert safety.get_attribute("data-top-class") == top
        assert (safety.text_content() or "").startswith(f"{top} {api['safety']['probabilities'][top] * 100:.1f}%")
    warning = card.locator("[data-testid=untrained-warning]")
    if api["model"]["weights"] == "untrained":
        expect(warning).to_have_text(UNTRAINED_WARNING)
    else:
        expect(warning).to_be_hidden()


def test_two_photos_each_get_a_preview_at_once_then_their_own_result(
    web_page: Page, local_stack, uncaught_errors: list[str]
) -> None:
    page = web_page
    assert SNEAKER.is_file() and MUG.is_file(), f"sample photos missing under {browser.SAMPLES}"

    # When the shopper chooses two photos at once
    page.set_input_files("[data-testid=file-input]", [str(SNEAKER), str(MUG)])

    # Then each gets a card with a preview from the local file before any result is in
    cards = photo_cards(page)
    expect(cards).to_have_count(2)
    for i, name in enumerate(["sneaker.jpg", "mug.jpg"]):
        preview = cards.nth(i).locator("[data-testid=preview]")
        expect(preview).to_be_visible()
        assert (preview.get_attribute("src") or "").startswith("blob:")
        expect(cards.nth(i).locator("h3")).to_have_text(name)

    # ... and each its own result, the same as the API's
    for i in range(2):
        wait_until_settled(cards.nth(i))
    image_ids = [cards.nth(i).get_attribute("data-image-id") for i in range(2)]
    assert all(image_ids) and image_ids[0] != image_ids[1]
    for i, image_id in enumerate(image_ids):
        assert_card_matches_the_api(cards.nth(i), api_prediction(local_stack, image_id))

    # ... and once both are in, focus moves to the first result
    expect(cards.nth(0).locator("h3")).to_be_focused()

    # When the shopper corrects the first prediction
    first = cards.nth(0)
    first.locator("[data-testid=correct-label]").fill("running shoe")
    first.locator("[data-testid=comment]").fill("browser test: it is a trainer")
    first.locator("[data-testid=feedback-submit]").click()

    # Then the API records it and the card says thanks
    expect(first.locator("[data-testid=feedback-status]")).to_have_text("Thanks \u2014 feedback recorded")
    assert browser.accessibility_violations(page) == []
    assert uncaught_errors == []


def first_allowed_photo(page: Page) -> Locator:
    """Checks sample photos one at a time until the model allows one: random untrained weights are sure enough
    of some class now and then to send a photo to review by themselves."""
    for number, photo in enumerate(sorted(browser.SAMPLES.glob("*.jpg"))):
        page.set_input_files("[data-testid=file-input]", str(photo))
        card = photo_cards(page).nth(number)
        wait_until_settled(card)
        if card.locator("[data-testid=verdict]").get_attribute("data-verdict") == "allow":
            return card
    pytest.fail("the model allowed none of the sample photos; a report needs an allowed photo")


def test_a_shoppers_report_hides_the_photo_until_a_moderator_decides(
    web_page: Page, local_stack, uncaught_errors: list[str]
) -> None:
    page = web_page
    card = first_allowed_photo(page)
    image_id = card.get_attribute("data-image-id")

    # When the shopper ticks "inappropriate" and sends the form without a label
    card.locator("[data-testid=inappropriate]").check()
    card.locator("[data-testid=feedback-submit]").click()

    # Then the page says the photo is hidden until a moderator looks, and shows it as in review
    expect(card.locator("[data-testid=feedback-status]")).to_contain_text("hidden until a moderator")
    expect(card.locator("[data-testid=verdict]")).to_have_text(VERDICT_BADGES["review"])
    # ... and the API agrees: in review for a shopper's report, the model's verdict kept, not shown
    api = api_prediction(local_stack, image_id)
    assert api["verdict"] == "review"
    assert api["verdict_reasons"][-1]["category"] == "reported_by_shopper"
    shown = requests.get(f"{local_stack.api_url}/images/{image_id}", allow_redirects=False, timeout=10)
    assert (shown.status_code, shown.json()["error"]["code"]) == (403, "image_in_review")
    assert uncaught_errors == []


def test_an_empty_correction_is_refused_in_the_page(web_page: Page, uncaught_errors: list[str]) -> None:
    page = web_page
    page.set_input_files("[data-testid=file-input]", str(MUG))
    card = photo_cards(page).first
    wait_until_settled(card)

    card.locator("[data-testid=feedback-submit]").click()

    expect(card.locator("[data-testid=feedback-status]")).to_contain_text("Say what the photo shows")
    expect(card.locator("[data-testid=correct-label]")).to_be_focused()
    assert card.locator("[data-testid=correct-label]").get_attribute("aria-invalid") == "true"
    assert uncaught_errors == []


def test_a_damaged_photo_gets_plain_words_not_an_error_code(
    web_page: Page, tmp_path: Path, uncaught_errors: list[str]
) -> None:
    page = web_page
    # A JPEG whose header is fine but whose data stops a few bytes in: the classifier rejects it.
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (10, 120, 200)).save(buffer, format="JPEG")
    damaged = tmp_path / "damaged.jpg"
    damaged.write_bytes(buffer.getvalue()[:200])

    page.set_input_files("[data-testid=file-input]", str(damaged))

    error = photo_cards(page).first.locator("[data-testid=photo-error]")
    expect(error).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    expect(error).to_contain_text("damaged and cannot be opened")
    assert "corrupt_image" not in (error.text_content() or "")
    assert uncaught_errors == []


def test_a_text_file_is_refused_in_the_browser_without_any_upload(
    web_page: Page, tmp_path: Path, uncaught_errors: list[str]
) -> None:
    page = web_page
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo\n")
    requests_after_load: list[Request] = []
    page.on("request", lambda request: requests_after_load.append(request))

    # When the shopper chooses a text file
    page.set_input_files("[data-testid=file-input]", str(notes))

    # Then its card explains why, and nothing leaves the browser
    card = photo_cards(page).first
    error = card.locator("[data-testid=photo-error]")
    expect(error).to_be_visible()
    expect(error).to_contain_text("notes.txt")
    expect(error).to_contain_text("not a supported image")
    expect(card.locator("[data-testid=result]")).to_be_hidden()
    expect(page.locator("[data-testid=file-input]")).to_be_enabled()
    assert [f"{r.method} {r.url}" for r in requests_after_load] == []
    assert uncaught_errors == []


def test_the_page_works_360_px_wide_and_passes_the_accessibility_check(
    phone_page: Page, uncaught_errors: list[str]
) -> None:
    page = phone_page
    assert browser.accessibility_violations(page) == []

    page.set_input_files("[data-testid=file-input]", str(SNEAKER))
    card = photo_cards(page).first
    wait_until_settled(card)

    # Nothing sticks out sideways, and the form's controls are within the window
    assert browser.horizontal_overflow(page) == 0
    for testid in ("inappropriate", "correct-label", "feedback-submit"):
        box = card.locator(f"[data-testid={testid}]").bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= browser.PHONE["width"], (testid, box)
    assert browser.accessibility_violations(page) == []
    assert uncaught_errors == []


def test_page_opened_at_the_other_loopback_address_uploads_and_shows_the_result(
    web_page_at_other_address: Page, local_stack, uncaught_errors: list[str]
) -> None:
    page = web_page_at_other_address
    assert urlsplit(page.url).netloc != urlsplit(local_stack.web_origin).netloc

    # When the shopper chooses a photo on the page opened at 127.0.0.1 (its configured origin is localhost)
    page.set_input_files("[data-testid=file-input]", str(SNEAKER))

    # Then the browser's CORS checks pass (API preflight, S3 POST, result polling) and the result is shown
    card = photo_cards(page).nth(0)
    wait_until_settled(card)
    image_id = card.get_attribute("data-image-id")
    assert image_id, "the card does not carry the image id"
    assert_card_matches_the_api(card, api_prediction(local_stack, image_id))
    assert uncaught_errors == []
