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
from tests.integration.helpers import (
    api_get,
    api_post,
    prediction_item,
    shows_photo,
    upload_photo,
    wait_for_final,
    wait_until,
)

UI_TIMEOUT_MS = 15_000
# Short undo windows keep the test quick; the page's default is 5 s.
UNDO_SECONDS = 2

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
    config = {
        "apiUrl": local_stack.api_url,
        "cognitoEndpoint": local_stack.output("StaffCognitoEndpoint"),
        "clientId": local_stack.output("StaffUserPoolClientId"),
        "undoSeconds": UNDO_SECONDS,
        "reviewPageSize": page_size,
    }

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
    return stack.staff("moderators").headers


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


def sign_in(page: Page, username: str, password: str) -> None:
    page.locator("[data-testid=username]").fill(username)
    page.locator("[data-testid=password]").fill(password)
    page.locator("[data-testid=sign-in-button]").click()


def sign_in_as(page: Page, login) -> None:
    sign_in(page, login.username, login.password)


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


def test_a_wrong_password_is_refused_with_a_clear_message(
    review_page: Page, local_stack, uncaught_errors: list[str]
) -> None:
    page = review_page
    expect(page.locator("[data-testid=sign-in-form]")).to_be_visible()
    expect(page.locator("[data-testid=username]")).to_be_focused()

    sign_in(page, local_stack.staff("moderators").username, "not-the-password-1A")

    expect(page.locator("[data-testid=error]")).to_contain_text("user name or password is not right")
    expect(page.locator("[data-testid=sign-in-form]")).to_be_visible()
    expect(page.locator("[data-testid=queue-section]")).to_be_hidden()
    assert uncaught_errors == []


def test_an_analyst_is_told_the_page_is_for_moderators_and_sees_no_queue(
    review_page: Page, local_stack, uncaught_errors: list[str]
) -> None:
    page = review_page

    sign_in_as(page, local_stack.staff("analysts"))

    expect(page.locator("[data-testid=error]")).to_contain_text("for the moderators group")
    expect(page.locator("[data-testid=sign-in-form]")).to_be_visible()
    expect(page.locator("[data-testid=queue-section]")).to_be_hidden()
    assert uncaught_errors == []


def test_the_token_is_kept_in_memory_only_and_sign_out_forgets_it(
    review_page: Page, local_stack, uncaught_errors: list[str]
) -> None:
    page = review_page
    requests_seen: list[dict[str, str]] = []
    page.on("request", lambda request: requests_seen.append(request.headers) if "/reviews" in request.url else None)

    sign_in_as(page, local_stack.staff("moderators"))
    expect(page.locator("[data-testid=signed-in-as]")).to_contain_text(local_stack.staff("moderators").username)
    expect(page.locator("[data-testid=queue]")).to_have_attribute("aria-busy", "false")

    stored = page.evaluate("JSON.stringify([Object.assign({}, localStorage), Object.assign({}, sessionStorage)])")
    assert local_stack.staff("moderators").username not in stored and "eyJ" not in stored
    assert page.evaluate("document.cookie") == ""
    assert any(headers.get("authorization", "").startswith("eyJ") for headers in requests_seen)
    page.locator("[data-testid=sign-out]").click()
    expect(page.locator("[data-testid=sign-in-form]")).to_be_visible()
    page.reload()
    expect(page.locator("[data-testid=sign-in-form]")).to_be_visible()
    expect(page.locator("[data-testid=queue-section]")).to_be_hidden()
    assert uncaught_errors == []


def test_a_reported_photo_is_allowed_from_the_page_and_the_api_then_shows_it(
    review_page: Page, local_stack, uncaught_errors: list[str]
) -> None:
    page = review_page
    first, second = reported_photo(local_stack, "backpack.jpg"), reported_photo(local_stack, "lamp.jpg")

    # Given a moderator signed in with their own account
    alice = local_stack.staff("moderators")
    sign_in_as(page, alice)
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
    # and the faces check's count (these photos have none)
    if api_get(local_stack, f"/predictions/{first}").json()["faces"] is not None:
        expect(photo.locator(".faces")).to_have_text("Faces: none found")
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

    # ... and the decision names the moderator who made it, and when
    moderation = api_get(local_stack, f"/predictions/{first}").json().get("moderation") or {}
    reviewed = prediction_item(local_stack, first)["moderation"]
    assert (reviewed["decided_by"]["sub"], reviewed["decided_by"]["username"]) == (alice.sub, alice.username)
    assert reviewed["decision"] == "allow" and reviewed["decided_at"]
    assert "decided_by" not in moderation, "shoppers never see who moderated a photo"

    # ... while the other photo is still waiting; a reload asks to sign in again (nothing is kept)
    page.reload()
    expect(page.locator("[data-testid=sign-in-form]")).to_be_visible()
    sign_in_as(page, alice)
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
        sign_in_as(page, local_stack.staff("moderators"))
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
        sign_in_as(page, local_stack.staff("moderators"))

        expect(page.locator("[data-testid=empty]")).to_be_visible()
        expect(page.locator("[data-testid=queue-count]")).to_have_text("The queue is empty.")
        expect(page.locator("[data-testid=more]")).to_be_hidden()
        assert browser.horizontal_overflow(page) == 0
        assert browser.accessibility_violations(page) == []
    finally:
        page.context.close()
    assert uncaught_errors == []


def test_the_page_refreshes_its_token_before_it_expires_and_keeps_working(
    chromium_browser: Browser, local_stack, uncaught_errors: list[str]
) -> None:
    context = chromium_browser.new_context(viewport=browser.DESKTOP)
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.on("pageerror", lambda error: uncaught_errors.append(str(error)))
    refreshes: list[str] = []
    page.on(
        "request",
        lambda request: (
            refreshes.append(request.post_data or "") if "REFRESH_TOKEN_AUTH" in (request.post_data or "") else None
        ),
    )
    config = {
        "apiUrl": local_stack.api_url,
        "cognitoEndpoint": local_stack.output("StaffCognitoEndpoint"),
        "clientId": local_stack.output("StaffUserPoolClientId"),
    }
    page.route(
        "**/config.js",
        lambda route: route.fulfill(
            content_type="text/javascript", body=f"window.PHOTOMOD_CONFIG = {json.dumps(config)};"
        ),
    )
    try:
        page.clock.install()
        page.goto(f"{local_stack.web_url}/review.html")
        sign_in_as(page, local_stack.staff("moderators"))
        expect(page.locator("[data-testid=queue]")).to_have_attribute("aria-busy", "false")
        assert refreshes == []

        # When the hour-long ID token is about to expire (the page's clock moves on 59 minutes)
        with page.expect_request(lambda request: "REFRESH_TOKEN_AUTH" in (request.post_data or "")):
            page.clock.fast_forward("59:00")

        # Then the page has refreshed it with its refresh token, and the queue still loads
        assert len(refreshes) >= 1
        page.locator("[data-testid=refresh]").click()
        expect(page.locator("[data-testid=queue]")).to_have_attribute("aria-busy", "false")
        expect(page.locator("[data-testid=error]")).to_be_hidden()
        expect(page.locator("[data-testid=sign-in-form]")).to_be_hidden()
    finally:
        context.close()
    assert uncaught_errors == []


@pytest.mark.parametrize("path", ["/", "/review.html"])
def test_both_pages_send_a_content_security_policy_that_allows_no_inline_script_and_break_none_of_it(
    chromium_browser: Browser, local_stack, uncaught_errors: list[str], path: str
) -> None:
    served = requests.get(f"{local_stack.web_url}{path}", timeout=10)
    policy = served.headers["Content-Security-Policy"]
    directives = dict(part.split(" ", 1) for part in policy.split("; "))
    assert directives["script-src"] == "'self'" and directives["frame-ancestors"] == "'none'"
    assert local_stack.api_url in directives["connect-src"]
    assert 'http-equiv="Content-Security-Policy"' in served.text  # for hosts that send no header

    context = chromium_browser.new_context(viewport=browser.DESKTOP)
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.on("pageerror", lambda error: uncaught_errors.append(str(error)))
    try:
        page.goto(f"{local_stack.web_url}{path}")
        page.wait_for_load_state("networkidle")
        # An injected inline script does not run under the policy.
        page.evaluate(
            "() => { const s = document.createElement('script'); s.textContent = 'window.injected = 1';"
            " document.body.appendChild(s); }"
        )
        assert page.evaluate("() => window.injected === undefined")
        if path == "/review.html":
            sign_in_as(page, local_stack.staff("moderators"))
            expect(page.locator("[data-testid=queue]")).to_have_attribute("aria-busy", "false")
            expect(page.locator("[data-testid=error]")).to_be_hidden()
    finally:
        context.close()
    assert [text for text in violations if "window.injected" not in text and "inline" not in text] == []
    assert uncaught_errors == []
