"""The photo bank end to end, through a local stack of its own (banking and reuse on, a deployed stack's defaults):
a photo a moderator blocked is banked, and its re-encoded, resized and mirrored copy uploaded later is blocked as
`matches_blocked_photo` naming it; a moderator removes it from the bank and the next copy is not; the same photo
under five uploads goes to review as `reused_photo` with the count; ordinary sample photos are not flagged.

Its own stack: the session's stack does not count reuse (its suite uploads the same sample photos dozens of
times, conftest.py), and a banked sample photo would block other modules' uploads of it.
"""

import io
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image, ImageOps

from tests.integration.conftest import BACKEND, StackUnderTest, launch_stack, stop_stack
from tests.integration.helpers import HTTP_TIMEOUT_S, SAMPLES_DIR, api_get, unique, upload_photo, wait_for_final
from tests.integration.test_reviews_and_display import force_verdict, moderator, settle
from tests.support.ports import free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.local_only("starts a local stack of its own, which counts reuse"),
    pytest.mark.skipif(BACKEND != "moto", reason="runs once, in the moto pass: it starts a moto stack of its own"),
]

BANJO = SAMPLES_DIR / "n02787622_banjo.JPEG"
TEAPOT = SAMPLES_DIR / "n04398044_teapot.JPEG"
RESULT_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def bank_stack(served_model) -> Iterator[StackUnderTest]:
    run_dir = Path(tempfile.mkdtemp(prefix="photomod-bank-"))
    parameters = {"CountPhotoReuse": "true", "BankModeratorBlocks": "true"}
    process, stack = launch_stack(run_dir, (free_port(), free_port(), free_port()), parameters)
    try:
        yield stack
    finally:
        stop_stack(process)


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def judged(stack: StackUnderTest, data: bytes, name: str = "photo") -> dict[str, Any]:
    created = upload_photo(stack, data, f"{unique(name)}.jpg")
    return wait_for_final(stack, created["image_id"], timeout_s=RESULT_TIMEOUT_S)


def bank_reasons(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [reason for reason in result["verdict_reasons"] if reason["category"] == "photo_bank"]


def copy_of(path: Path) -> bytes:
    """Re-encoded at JPEG quality 60, resized to 60 %, mirrored."""
    with Image.open(path) as image:
        photo = ImageOps.mirror(image.convert("RGB"))
        return jpeg(photo.resize((photo.width * 3 // 5, photo.height * 3 // 5)), quality=60)


def test_a_copy_of_a_photo_a_moderator_blocked_is_blocked_naming_it_until_the_hash_is_removed(bank_stack):
    original = judged(bank_stack, BANJO.read_bytes(), "banjo")
    assert original["photo_bank"]["algorithm"] == "pdq" and len(original["photo_bank"]["pdq"]) == 64
    assert bank_reasons(original) == []
    force_verdict(bank_stack, original["image_id"], "review")  # whatever the models said, a moderator looks
    decided = settle(bank_stack, original["image_id"], "block", note="a photo from the maker's site")
    assert decided.status_code == 200 and decided.json()["banked"] is True, decided.text

    copy = judged(bank_stack, copy_of(BANJO), "banjo-copy")

    assert copy["verdict"] == "block"
    (reason,) = [reason for reason in bank_reasons(copy) if reason["rule"] == "matches_blocked_photo"]
    assert reason["action"] == "block" and reason["label"] == original["image_id"]
    assert copy["photo_bank"]["matched"]["image_id"] == original["image_id"]
    assert copy["photo_bank"]["matched"]["distance"] <= 31

    entry = api_get(bank_stack, f"/bank/{original['image_id']}", headers=moderator(bank_stack))
    assert entry.status_code == 200 and entry.json()["note"] == "a photo from the maker's site"
    removed = requests.delete(
        f"{bank_stack.api_url}/bank/{original['image_id']}", headers=moderator(bank_stack), timeout=HTTP_TIMEOUT_S
    )
    assert removed.status_code == 200 and removed.json()["removed_at"], removed.text
    unsigned = requests.delete(f"{bank_stack.api_url}/bank/{original['image_id']}", timeout=HTTP_TIMEOUT_S)
    assert unsigned.status_code == 401

    after = judged(bank_stack, copy_of(BANJO), "banjo-copy-after")
    assert [reason["rule"] for reason in bank_reasons(after)] == []


def test_the_same_photo_under_five_uploads_goes_to_review_as_reused_with_the_count(bank_stack):
    with Image.open(TEAPOT) as image:
        photo = image.convert("RGB")
    # Five uploads of the photo, each re-encoded a little differently (what a spammer's tools do).
    results = [judged(bank_stack, jpeg(photo, quality=95 - 5 * upload), "teapot") for upload in range(5)]

    assert [result["photo_bank"]["reuse_count"] for result in results] == [1, 2, 3, 4, 5]
    assert all(bank_reasons(result) == [] for result in results[:4])
    fifth = results[4]
    assert fifth["verdict"] in ("review", "block")
    assert [(r["rule"], r["action"], r["score"]) for r in bank_reasons(fifth)] == [("reused_photo", "review", 5)]


def test_ordinary_sample_photos_are_not_flagged(bank_stack):
    samples = sorted(path for path in SAMPLES_DIR.glob("*.JPEG") if path not in (BANJO, TEAPOT))[::6]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda path: judged(bank_stack, path.read_bytes(), path.stem), samples))

    assert len(results) >= 15
    assert {result["image_id"]: bank_reasons(result) for result in results} == {
        result["image_id"]: [] for result in results
    }
    assert all(result["photo_bank"]["reuse_count"] == 1 for result in results)
