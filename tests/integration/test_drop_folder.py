"""The drop folder: objects put under `incoming/` (any key a person or a sync tool may choose) are classified
and found by key; objects anywhere else are never classified."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from boto3.dynamodb.conditions import Attr
from PIL import Image

from tests.integration.helpers import (
    DOG_PHOTO,
    RESULT_TIMEOUT_S,
    expected_model,
    find_prediction,
    get_prediction,
    scan_predictions,
    unique,
    wait_for_key_final,
    wait_for_queue_drained,
    wait_until,
)

pytestmark = pytest.mark.integration


def _timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _drop(stack, key: str, data: bytes, content_type: str = "image/jpeg") -> None:
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=data, ContentType=content_type)


def _tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1), (1, 2, 3)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "name",
    [
        "Sommer Urlaub (2024)/Käse & café – 📷 #1 + 50%.jpeg",
        "a/b/c/d/e/deeply nested (copy) (2).JPG",
        "写真/スクリーンショット 2024-01-01 12.00.00.jpg",
    ],
    ids=["spaces-parentheses-unicode-reserved", "deeply-nested", "cjk"],
)
def test_photo_dropped_under_an_awkward_nested_key_is_classified_and_found_by_key(local_stack, name: str) -> None:
    key = f"incoming/{unique('drop')}/{name}"

    # When a photo is dropped in the folder
    _drop(local_stack, key, DOG_PHOTO.read_bytes())

    # Then it can be found by its key (URL-encoded by requests) once classified
    result = wait_for_key_final(local_stack, key)
    assert result["status"] == "done", result
    assert result["source"] == "drop-folder"
    assert result["s3_key"] == key
    assert len(result["labels"]) == 5
    assert result["prediction"] == result["labels"][0]["label"]
    assert result["verdict"] in ("allow", "review", "block")
    assert result["model"] == expected_model(local_stack)
    assert _timestamp(result["classified_at"]) >= _timestamp(result["created_at"])

    # ... and by its image id, with the same body
    by_id = get_prediction(local_stack, result["image_id"])
    assert by_id.status_code == 200
    assert by_id.json() == result


@pytest.mark.parametrize(
    "name, data, content_type, code",
    [
        ("notes.txt", b"not a photo, just notes\n" * 20, "text/plain", "unsupported_format"),
        (
            "report.pdf",
            b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n",
            "application/pdf",
            "unsupported_format",
        ),
        ("empty.jpg", b"", "image/jpeg", "empty_file"),
        ("pixel.png", _tiny_png(), "image/png", "too_small"),
        ("cut.jpg", DOG_PHOTO.read_bytes()[:600], "image/jpeg", "corrupt_image"),
    ],
)
def test_file_in_the_drop_folder_that_is_not_a_usable_image_fails_with_its_code(
    local_stack, name: str, data: bytes, content_type: str, code: str
) -> None:
    key = f"incoming/{unique('bad')}/{name}"

    _drop(local_stack, key, data, content_type)

    result = wait_for_key_final(local_stack, key)
    assert result["status"] == "failed", result
    assert result["error"]["code"] == code, result["error"]
    assert result["error"]["message"]
    assert result["prediction"] is None and result["labels"] == [] and result["verdict"] is None
    assert result["source"] == "drop-folder"
    assert result["s3_key"] == key
    assert result["classified_at"]


def test_object_outside_the_drop_folder_is_never_classified(local_stack) -> None:
    run = unique("outside")
    outside = [
        f"other/{run}/x.jpg",
        f"Incoming/{run}/x.jpg",  # prefixes are case-sensitive
        f"incoming-archive/{run}/x.jpg",  # shares the letters, not the folder
        f"{run}/incoming/x.jpg",
        f"uploads/{run}.jpg",  # notified, but not a key the API generated
    ]
    photo = DOG_PHOTO.read_bytes()

    # Given photos put outside the drop folder, then one inside it
    for key in outside:
        _drop(local_stack, key, photo)
    marker = f"incoming/{run}/marker.jpg"
    _drop(local_stack, marker, photo)

    # When the marker has been classified and the queue holds nothing more
    assert wait_for_key_final(local_stack, marker)["status"] == "done"
    wait_for_queue_drained(local_stack, timeout_s=RESULT_TIMEOUT_S)

    # Then none of the others has a prediction
    stored = scan_predictions(local_stack, Attr("s3_key").is_in(outside))
    assert stored == [], [item["s3_key"] for item in stored]
    # ... and the API refuses to look them up: only drop-folder keys have predictions by key
    for key in outside:
        reply = find_prediction(local_stack, key)
        assert reply.status_code == 400, (key, reply.text)
        assert reply.json()["error"]["code"] == "invalid_key"


def test_replacing_a_dropped_photo_classifies_the_new_content(local_stack) -> None:
    key = f"incoming/{unique('replace')}/photo.jpg"
    _drop(local_stack, key, b"first version: not a photo" * 10, "text/plain")
    first = wait_for_key_final(local_stack, key)
    assert first["status"] == "failed", first

    # When the same key is overwritten with a real photo
    _drop(local_stack, key, DOG_PHOTO.read_bytes())

    # Then the new content is classified (the same image id, a newer result)
    seen: list[dict] = []

    def reclassified() -> dict | None:
        seen[:] = [find_prediction(local_stack, key).json()]
        return seen[0] if seen[0].get("status") == "done" else None

    second = wait_until(
        reclassified, timeout_s=RESULT_TIMEOUT_S, what=f"{key!r} to be classified again", last_seen=lambda: seen
    )
    assert second["image_id"] == first["image_id"]
    assert second["error"] is None
    assert _timestamp(second["classified_at"]) > _timestamp(first["classified_at"])
