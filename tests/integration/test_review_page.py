"""The moderators' page (review.html) in headless Chromium against the running local stack.

Photos get into the queue the way they do in production with untrained weights: a shopper reports them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Browser, Locator, Page, Route, expect

from tests.integration import browser
from tests.integration.helpers import api_get, api_post, shows_photo, upload_photo, wait_for_final, wait_until

UI_TIMEOUT_MS = 15_000
# Short undo windows keep the test quick; the page's default is 5 s.
UNDO_SECONDS = 2
KEY_STORAGE = "photomod.moderatorApiKey"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.skipif(not browser.CHROMIUM.exists(), reason=f"Debian chromium not installed at {browser.CHROMIUM}"),
    pytest.mark.local_only("the page is served by the local stack (WebUrl); a deployed stack's page lives elsewhere"),
]


def open_review_page(
    chromium_browser: Browser, local_stack, uncaught_errors: list[str], viewport: dict, page_size: int = 24
) -> Page:
    context = chromium_browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.on("pageerror", lambda error: uncaught_errors.append(str(error)))
    config = {"apiUrl": local_stack.api_url, "undoSeconds": UNDO_SECONDS, "reviewPageSize": page_size}

    # config.js is the site's own settings file: the test serves it with a short undo window and page size.
    def serve_config(route: Route) -> None:
        route.fulfill(content_type="text/javascript", body=f"window.PHOTOMOD_CONFIG = {json.dumps(config)};")

    page.route("**/config.js", serve_config)
    page.goto(f"{local_stack.web_url}/review.html")
    return page


@pytest.fixture
def review_page(chromium_browser: Browser, local_stack, uncaught_errors: list[str]) -> Iterator[Page]:
    page = open_review_page(chromium_browser, local_stack, uncaught_errors, browser.DESKTOP)
    yield page
    page.context.close()


def moderator(stack) -> dict[str, str]:
    return {"X-Api-Key": stack.api_key}


def reported_photo(local_stack, name: str) -> str:
    """A sample photo, classified, then reported by a shopper: it is in the review queue.

    With random untrained weights the model itself now and then sends a photo to review (then the report is
    only counted) or blocks it (then the next sample photo is tried)."""
    names = [name] + sorted(path.name for path in browser.SAMPLES.glob("*.jpg") if path.name != name)
    for candidate in names:
        data = (browser.SAMPLES / candidate).read_bytes()
        image_id = upload_photo(local_stack, data, candidate)["image_id"]
        verdict = wait_for_final(local_stack, image_id)["verdict"]
        if verdict == "block":
            continue
        reply = api_post(local_stack, f"/predictions/{image_id}/feedback", json={"inappropriate": True})
        assert reply.status_code == 201, reply.text
        assert reply.json()["sent_to_review"] is (verdict == "allow"), (verdict, reply.text)
        return image_id
    pytest.fail("the model blocked every sample photo")


def sign_in(page: Page, key: str) -> None:
    page.locator("[data-testid=api-key]").fill(key)
    page.locator("[data-testid=key-form] button[type=submit]").click()


def card(page: Page, image_id: str) -> Locator:
    return page.locator(f"[data-testid=review-card][data-image-id='{image_id}']")


def show_card(page: Page, image_id: str) -> Locator:
    """The photo's card, paging with "Show more" until it is on the page."""
    wanted = card(page, image_id)
    expect(page.locator("[data-testid=queue]")).to_have_attribute("aria-busy", "false")
    while wanted.count() == 0 and page.locator("[data-testid=more]").is_visible():
        page.locator("[data-testid=more]").click()
        expect(page.locator("[data-testid=queue]")).to_have_attribute("aria-busy", "false")
    expect(wanted).to_have_count(1)
    return wanted


def verdict(local_stack, image_id: str) -> str:
    return api_get(local_stack, f"/predictions/{image_id}").json()["verdict"]


def test_a_wrong_key_is_refused_with_a_clear_message(review_page: Page, uncaught_errors: list[str]) -> None:
    page = review_page
    expect(page.locator("[data-testid=key-form]")).to_be_visible()
    expect(page.locator("[data-testid=api-key]")).to_be_focused()

    sign_in(page, "not-the-key")

    expect(page.locator("[data-testid=error]")).to_contain_text("API key was not accepted")
    expect(page.locator("[data-testid=key-form]")).to_be_visible()
    assert page.evaluate(f"sessionStorage.getItem('{KEY_STORAGE}')") is None
    assert uncaught_errors == []


def test_a_reported_photo_is_allowed_from_the_page_and_the_api_then_shows_it(
    review_page: Page, local_stack, uncaught_errors: list[str]
) -> None:
    page = review_page
    first, second = reported_photo(local_stack, "backpack.jpg"), reported_photo(local_stack, "lamp.jpg")

    # Given the moderator signed in with the stack's key
    sign_in(page, local_stack.api_key)
    photo = show_card(page, first)
    show_card(page, second)

    # Then the card shows the photo, the model's prediction and why it is in review, in words
    categories = [
        reason["category"] for reason in api_get(local_stack, f"/predictions/{first}").json()["verdict_reasons"]
    ]
    reasons = photo.locator(".reasons li")
    expect(reasons).to_have_count(len(categories))
    for index, category in enumerate(categories):
        browser.assert_words_for(category, reasons.nth(index).text_content() or "")
    if "reported_by_shopper" in categories:
        expect(photo.locator("li[data-category=reported_by_shopper]")).to_have_text(
            "Reported as inappropriate by a shopper"
        )
    expect(photo.locator(".top-labels")).to_contain_text("Model's top labels:")
    # and both explicit-content models' scores, as the API stores them
    safety = api_get(local_stack, f"/predictions/{first}").json()["safety"]
    if safety is not None:
        scores = photo.locator(".explicit-scores")
        expect(scores).to_contain_text(f"porn {safety['probabilities']['porn'] * 100:.1f}%")
        opinion = safety["second_opinion"]
        expect(scores).to_contain_text(f"Open-NSFW {opinion['nsfw'] * 100:.1f}%" if opinion else "Open-NSFW not run")
    image = photo.locator("img")
    expect(image).to_have_attribute("src", re.compile(r"^https?://"))
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())

    # When the moderator blocks it with the keyboard and then undoes
    photo.focus()
    page.keyboard.press("b")
    expect(photo).to_have_count(0)
    expect(page.locator("[data-testid=toast]")).to_contain_text("Blocked")
    page.locator("[data-testid=undo]").click()

    # Then the card is back, focused, and nothing was sent
    expect(card(page, first)).to_be_focused()
    assert verdict(local_stack, first) == "review"

    # When the moderator moves with the arrow keys (the newer photo comes first) and allows with A
    page.keyboard.press("ArrowLeft")
    expect(card(page, first)).not_to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(card(page, first)).to_be_focused()
    page.keyboard.press("a")
    expect(card(page, first)).to_have_count(0)

    # Then once the undo window has passed the decision reaches the API, and the photo is served
    expect(page.locator("[data-testid=toast]")).to_be_hidden(timeout=(UNDO_SECONDS + 10) * 1000)
    wait_until(lambda: verdict(local_stack, first) == "allow", timeout_s=15, what="the decision to be stored")
    shown = requests.get(f"{local_stack.api_url}/images/{first}", allow_redirects=False, timeout=10)
    assert shown.status_code == 302, shown.text
    photo_bytes = requests.get(shown.headers["Location"], timeout=10)
    assert photo_bytes.status_code == 200
    assert shows_photo(photo_bytes.content, (browser.SAMPLES / "backpack.jpg").read_bytes())  # its rendition

    # ... while the other photo is still waiting, and a reload does not ask for the key again
    page.reload()
    expect(page.locator("[data-testid=key-form]")).to_be_hidden()
    show_card(page, second)
    expect(card(page, first)).to_have_count(0)
    assert browser.accessibility_violations(page) == []
    assert uncaught_errors == []


def test_the_queue_pages_through_next_cursor(
    chromium_browser: Browser, local_stack, uncaught_errors: list[str]
) -> None:
    for name in ("watch.jpg", "headphones.jpg"):
        reported_photo(local_stack, name)
    page = open_review_page(chromium_browser, local_stack, uncaught_errors, browser.DESKTOP, page_size=1)
    try:
        sign_in(page, local_stack.api_key)
        cards = page.locator("[data-testid=review-card]")
        expect(cards).to_have_count(1)
        expect(page.locator("[data-testid=more]")).to_be_visible()

        page.locator("[data-testid=more]").click()

        expect(cards).to_have_count(2)
        ids = [cards.nth(i).get_attribute("data-image-id") for i in range(2)]
        assert ids[0] != ids[1]
        expect(page.locator("[data-testid=queue-count]")).to_contain_text("2 photos shown, more waiting")
    finally:
        page.context.close()
    assert uncaught_errors == []


def test_an_empty_queue_says_so_360_px_wide(chromium_browser: Browser, local_stack, uncaught_errors: list[str]) -> None:
    # Given every photo in the queue was decided (through the API)
    while True:
        items = api_get(local_stack, "/reviews", params={"limit": 100}, headers=moderator(local_stack)).json()["items"]
        if not items:
            break
        for item in items:
            api_post(
                local_stack,
                f"/reviews/{item['image_id']}",
                json={"decision": "block", "object_version": item["object_version"]},
                headers=moderator(local_stack),
            )

    page = open_review_page(chromium_browser, local_stack, uncaught_errors, browser.PHONE)
    try:
        assert browser.accessibility_violations(page) == []
        sign_in(page, local_stack.api_key)

        expect(page.locator("[data-testid=empty]")).to_be_visible()
        expect(page.locator("[data-testid=queue-count]")).to_have_text("The queue is empty.")
        expect(page.locator("[data-testid=more]")).to_be_hidden()
        assert browser.horizontal_overflow(page) == 0
        assert browser.accessibility_violations(page) == []
    finally:
        page.context.close()
    assert uncaught_errors == []
