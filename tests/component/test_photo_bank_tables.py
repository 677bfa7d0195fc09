"""The photo bank under moto: a moderator's block banks the photo's hash through the reviews handler, classify's
check reads it from the bank's change index and blocks a copy, moderators read and remove it (GET/DELETE
/bank/{image_id}), and the hash index finds a photo's near copies by their chunks."""

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageOps

from classify.checks import Subject
from classify.photo_bank import PhotoBankCheck, chunk_keys, pdq_hashes, to_hex
from classify.policy import ModerationPolicy
from photomod_shared import ids
from photomod_shared.prediction import EventStamp, PhotoBankRecord, Prediction
from photomod_shared.tables import PhotoBankTable, PhotoHashIndexTable, PredictionTable
from tests.component.mocked import response_json
from tests.component.test_predict_and_reviews_handlers import MODERATOR, api_event

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "imagenet-samples"
pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"the sample photos are not at {SAMPLES}")


def sample(name: str) -> Image.Image:
    with Image.open(next(SAMPLES.glob(f"*_{name}.JPEG"))) as image:
        return image.convert("RGB")


@pytest.fixture
def reviews(stack):
    with stack.handler_module("ReviewsFunction") as module:
        yield lambda event: module.lambda_handler(event, stack.context("ReviewsFunction"))


def in_review_with_hash(table: PredictionTable, image_id: str, photo: Image.Image) -> None:
    words, quality = pdq_hashes(photo)
    record = PhotoBankRecord(algorithm="pdq", version="pdqhash 0.2.8", pdq=to_hex(words[0]), quality=quality)
    outcome = Prediction(
        image_id,
        "done",
        prediction="banjo",
        score=0.41,
        verdict="review",
        s3_key=f"uploads/{image_id}.jpg",
        classified_at="2026-11-26T09:00:00.000Z",
        photo_bank=record,
    )
    assert table.record_outcome(outcome, EventStamp("01", "", "v1"), "2026-11-26T09:00:00.000Z")


def call(reviews, load_event, method: str, resource: str, path: str, image_id: str, body: Any = None):
    return reviews(
        api_event(
            load_event,
            method,
            resource,
            path,
            path_parameters={"image_id": image_id},
            body=json.dumps(body) if body is not None else None,
            content_type="application/json" if body is not None else None,
            claims=MODERATOR,
        )
    )


def test_a_moderators_block_banks_the_hash_and_classify_blocks_a_mirrored_copy_until_it_is_removed(
    stack, reviews, load_event
):
    table = PredictionTable(stack.table("PredictionsTable"))
    bank = PhotoBankTable(stack.table("PhotoBankTable"))
    blocked = ids.new_image_id()
    in_review_with_hash(table, blocked, sample("banjo"))
    check = PhotoBankCheck(bank, PhotoHashIndexTable(stack.table("PhotoHashIndexTable")))
    policy = ModerationPolicy.from_file()
    copy = Subject(ids.new_image_id(), "uploads/copy.jpg", ImageOps.mirror(sample("banjo")).resize((250, 180)))

    settled = call(
        reviews, load_event, "POST", "/reviews/{image_id}", f"/reviews/{blocked}", blocked,
        {"decision": "block", "note": "stolen photo", "object_version": "v1"},
    )  # fmt: skip
    assert settled["statusCode"] == 200 and response_json(settled)["banked"] is True

    entry = response_json(call(reviews, load_event, "GET", "/bank/{image_id}", f"/bank/{blocked}", blocked))
    assert entry["image_id"] == blocked and entry["banked_by"]["username"] == "mod-alice"
    assert entry["note"] == "stolen photo" and entry["removed_at"] is None
    result = check.inspect(copy, policy)
    assert [(reason.rule, reason.action, reason.label) for reason in result.reasons] == [
        ("matches_blocked_photo", "block", blocked)
    ]

    removed = call(reviews, load_event, "DELETE", "/bank/{image_id}", f"/bank/{blocked}", blocked)
    again = call(reviews, load_event, "DELETE", "/bank/{image_id}", f"/bank/{blocked}", blocked)
    unknown = call(reviews, load_event, "GET", "/bank/{image_id}", "/bank/x", "x")
    assert removed["statusCode"] == 200 and response_json(removed)["removed_by"]["username"] == "mod-alice"
    assert (again["statusCode"], response_json(again)["error"]["code"]) == (409, "not_banked")
    assert (unknown["statusCode"], response_json(unknown)["error"]["code"]) == (400, "invalid_image_id")
    assert check.inspect(copy, policy).reasons == ()  # the next photo judged sees the removal


def test_only_a_moderator_may_read_or_remove_a_banked_hash(reviews, load_event):
    image_id = ids.new_image_id()
    analyst = {**MODERATOR, "cognito:groups": "analysts"}
    for method in ("GET", "DELETE"):
        event = api_event(
            load_event, method, "/bank/{image_id}", f"/bank/{image_id}", path_parameters={"image_id": image_id},
            claims=analyst,
        )  # fmt: skip
        assert reviews(event)["statusCode"] == 403


def test_the_hash_index_finds_photos_sharing_a_chunk_and_nothing_else(stack):
    index = PhotoHashIndexTable(stack.table("PhotoHashIndexTable"))
    banjo, frog = pdq_hashes(sample("banjo"))[0][0], pdq_hashes(sample("tree_frog"))[0][0]
    first, second = ids.new_image_id(), ids.new_image_id()
    index.add(first, to_hex(banjo), chunk_keys(banjo))
    index.add(second, to_hex(frog), chunk_keys(frog))
    index.add(first, to_hex(banjo), chunk_keys(banjo))  # idempotent

    assert index.sharing_a_chunk(chunk_keys(banjo), 10) == {first: to_hex(banjo)}
    for number in range(5):  # the same photo under five more uploads: each chunk answers at most what is asked
        index.add(f"{number:032x}", to_hex(banjo), chunk_keys(banjo))
    assert len(index.sharing_a_chunk(chunk_keys(banjo), 3)) == 3
    assert len(index.sharing_a_chunk(chunk_keys(banjo), 10)) == 6
