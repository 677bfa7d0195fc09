"""web/messages.js has plain words for every error code the functions can answer and every policy category."""

import json
import re
from pathlib import Path

from photomod_shared.lifecycle import FAILURE_CODES

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = (ROOT / "web" / "messages.js").read_text()
# Where the functions name an error code: ApiError classes and calls, error bodies, rejections and headers.
CODE_PATTERNS = [
    re.compile(r"\bcode\s*=\s*\"([a-z_]+)\""),
    re.compile(r"ImageRejected\(\s*\"([a-z_]+)\""),
    re.compile(r"\"code\":\s*\"([a-z_]+)\""),
    re.compile(r"error_response\(\s*HTTPStatus\.\w+,\s*\"([a-z_]+)\""),
    re.compile(r"\"X-Error-Code\":\s*\"([a-z_]+)\""),
]


def table(name: str) -> set[str]:
    """The keys of `var NAME = { key: "text", ... };` in messages.js."""
    body = re.search(rf"var {name} = \{{(.*?)\n  \}};", MESSAGES, re.S)
    assert body, f"no {name} table in web/messages.js"
    return set(re.findall(r"^\s+([a-z_]+):", body.group(1), re.M))


def codes_in_functions() -> set[str]:
    found: set[str] = set(FAILURE_CODES)  # the lifecycle's codes are named constants, not literals
    for path in (ROOT / "functions").rglob("*.py"):
        text = path.read_text()
        for pattern in CODE_PATTERNS:
            found.update(pattern.findall(text))
    return found


def test_the_code_scan_finds_the_codes_it_should():
    # Guards the scan itself: if these vanish, the patterns no longer match the way the functions are written.
    assert {"image_not_found", "corrupt_image", "invalid_request", "not_in_review", "file_too_large"} <= (
        codes_in_functions()
    )


def test_every_error_code_the_functions_answer_has_friendly_words():
    missing = codes_in_functions() - table("ERRORS")
    assert not missing, f"add these codes to ERRORS in web/messages.js: {sorted(missing)}"


def test_every_policy_category_has_plain_words():
    policy = json.loads((ROOT / "functions" / "classify" / "classify" / "moderation_policy.json").read_text())
    missing = set(policy["categories"]) - table("REASONS")
    assert not missing, f"add these categories to REASONS in web/messages.js: {sorted(missing)}"
    assert "reported_by_shopper" in table("REASONS")
