"""reviews.service with fakes: the review queue's pages and cursors, and settling a photo."""

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from photomod_shared.errors import DomainError, NotInReview, VersionChanged
from photomod_shared.prediction import Prediction
from photomod_shared.prediction_table import REVIEW_QUEUE_ATTRIBUTE, REVIEW_QUEUE_PARTITION
from photomod_shared.staff import StaffMember
from reviews import service
from reviews.models import ReviewDecision
from tests.support.cursors import every_page, forged_cursor

NOW = datetime(2026, 11, 26, 10, 0, 0, 500000, tzinfo=UTC)
ALICE = StaffMember(sub="b1f2c3d4-0a1b-4c2d-8e3f-5a6b7c8d9e0f", username="mod-alice", groups=frozenset({"moderators"}))


def image_id(number: int) -> str:
    return f"{number:032x}"


def version(number: int) -> str:
    return f"version-{number}"


def in_review(number: int, **attributes: Any) -> dict[str, Any]:
    return {
        "image_id": image_id(number),
        "status": "done",
        "s3_key": f"uploads/{image_id(number)}.jpg",
        "object_version": version(number),
        "original_filename": f"photo-{number}.jpg",
        "prediction": "beer_bottle",
        "score": 0.41,
        "verdict": "review",
        "classified_at": f"2026-11-26T09:{number:02d}:00.000Z",
        REVIEW_QUEUE_ATTRIBUTE: REVIEW_QUEUE_PARTITION,
        **attributes,
    }


class FakeQueue:
    """Behaves like PredictionTable over the sparse review_queue index: newest first, exclusive start keys."""

    def __init__(self, *items: dict[str, Any]):
        self.items = {item["image_id"]: copy.deepcopy(item) for item in items}
        self.settle_fails = False
        self.pages: list[tuple[int, dict[str, Any] | None]] = []

    def _queue(self) -> list[dict[str, Any]]:
        queued = [item for item in self.items.values() if REVIEW_QUEUE_ATTRIBUTE in item]
        return sorted(queued, key=lambda item: (item["classified_at"], item["image_id"]), reverse=True)

    def review_queue_page(self, limit: int, start_after: dict[str, Any] | None = None):
        self.pages.append((limit, start_after))
        queue = self._queue()
        start = 0
        if start_after:
            start = next(i for i, item in enumerate(queue) if item["image_id"] == start_after["image_id"]) + 1
        page = queue[start : start + limit]
        last = page[-1] if len(page) == limit else None
        key = {name: last[name] for name in ("image_id", REVIEW_QUEUE_ATTRIBUTE, "classified_at")} if last else None
        return [Prediction.from_item(item) for item in page], key

    def get(self, image_id: str) -> Prediction | None:
        item = self.items.get(image_id)
        return Prediction.from_item(item) if item else None

    def settle_review(
        self,
        image_id: str,
        decision: str,
        note: str,
        decided_at: str,
        object_version: str,
        decided_by: dict[str, str] | None = None,
    ) -> bool:
        item = self.items.get(image_id)
        if self.settle_fails or item is None or item.get("verdict") != "review":
            return False
        if item.get("object_version") != object_version:
            return False
        moderation = {"decision": decision, "note": note, "decided_at": decided_at, "decided_by": decided_by}
        entry = {"action": decision, "at": decided_at, "by": decided_by, "object_version": object_version}
        item.update(verdict=decision, model_verdict="review", moderation=moderation)
        item["review_history"] = [*item.get("review_history", []), entry]
        item.pop(REVIEW_QUEUE_ATTRIBUTE, None)
        return True


def _undo(self, image_id: str, undone_at: str, object_version: str, undone_by: dict[str, str]) -> bool:
    item = self.items.get(image_id)
    if item is None or "moderation" not in item or item.get("object_version") != object_version:
        return False
    item.update(verdict="review", **{REVIEW_QUEUE_ATTRIBUTE: REVIEW_QUEUE_PARTITION})
    item.pop("moderation")
    item["review_history"] = [*item.get("review_history", []), {"action": "undo", "at": undone_at, "by": undone_by}]
    return True


FakeQueue.undo_review = _undo  # type: ignore[attr-defined]


class FakeLinks:
    def presign_view(self, key: str, expires_in: int) -> str:
        return f"https://images.example/{key}?expires={expires_in}"


def list_page(queue: FakeQueue, limit: int = 20, cursor: str | None = None) -> dict[str, Any]:
    return service.list_reviews(limit, cursor, predictions=queue, links=FakeLinks(), link_expires_in=300)


def settle(
    queue: FakeQueue, number: int, decision: str = "allow", note: str = "", seen: str | None = None
) -> dict[str, Any]:
    request = ReviewDecision(decision=decision, note=note, object_version=seen or version(number))
    return service.settle_review(image_id(number), request, by=ALICE, predictions=queue, now=NOW)


# --- list_reviews ----------------------------------------------------------------------------------


def test_the_queue_lists_photos_in_review_newest_first_with_a_link_to_each():
    queue = FakeQueue(in_review(1), in_review(3), in_review(2))

    page = list_page(queue)

    assert [item["image_id"] for item in page["items"]] == [image_id(3), image_id(2), image_id(1)]
    first = page["items"][0]
    # The link is to the version that was judged, never to whatever the key holds now.
    # the judged version's rendition, what shoppers would be shown, never the upload
    assert first["image_url"] == f"https://images.example/renditions/{image_id(3)}/version-3.jpg?expires=300"
    assert first["object_version"] == "version-3"
    assert first["original_filename"] == "photo-3.jpg"
    assert (first["verdict"], first["prediction"], first["score"]) == ("review", "beer_bottle", 0.41)
    assert REVIEW_QUEUE_ATTRIBUTE not in first  # the index attribute is storage, not API
    assert page["next_cursor"] is None


def test_pages_follow_each_other_through_an_opaque_cursor_until_the_last():
    queue = FakeQueue(*(in_review(number) for number in range(1, 6)))

    pages = every_page(lambda cursor: list_page(queue, limit=2, cursor=cursor), lambda page: page["next_cursor"])

    assert [item["image_id"] for page in pages for item in page["items"]] == [image_id(n) for n in (5, 4, 3, 2, 1)]
    cursors = [page["next_cursor"] for page in pages[:-1]]
    assert len(cursors) == 2 and pages[-1]["next_cursor"] is None
    assert all(image_id(1) not in cursor and "{" not in cursor for cursor in cursors)  # opaque: no ids or JSON


def test_an_empty_queue_is_an_empty_page():
    assert list_page(FakeQueue()) == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("limit", [0, -1, 101])
def test_a_page_size_outside_1_to_100_is_refused(limit):
    with pytest.raises(DomainError) as refused:
        list_page(FakeQueue(), limit=limit)

    assert refused.value.code == "invalid_limit"


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        forged_cursor("not json"),
        service.encode_cursor({"image_id": image_id(1)}),  # missing the index's attributes
        service.encode_cursor(
            {"image_id": image_id(1), REVIEW_QUEUE_ATTRIBUTE: "someone-else", "classified_at": "2026-11-26T09:01:00Z"}
        ),
        service.encode_cursor(
            {"image_id": "../etc", REVIEW_QUEUE_ATTRIBUTE: REVIEW_QUEUE_PARTITION, "classified_at": "x"}
        ),
        service.encode_cursor(
            {"image_id": image_id(1), REVIEW_QUEUE_ATTRIBUTE: REVIEW_QUEUE_PARTITION, "classified_at": 7}
        ),
        "ÿÿÿ",
    ],
    ids=["not-base64", "not-json", "missing-attributes", "other-partition", "bad-image-id", "number", "non-ascii"],
)
def test_a_cursor_this_api_did_not_make_is_refused(cursor):
    queue = FakeQueue(in_review(1))

    with pytest.raises(DomainError) as refused:
        list_page(queue, cursor=cursor)

    assert refused.value.code == "invalid_cursor"
    assert queue.pages == []  # never sent to DynamoDB


def test_a_cursor_round_trips():
    key = {
        "image_id": image_id(7),
        REVIEW_QUEUE_ATTRIBUTE: REVIEW_QUEUE_PARTITION,
        "classified_at": "2026-11-26T09:07Z",
    }

    assert service.decode_cursor(service.encode_cursor(key)) == key


# --- settle_review ---------------------------------------------------------------------------------


def test_settling_makes_the_decision_the_verdict_and_keeps_the_models():
    queue = FakeQueue(in_review(1))

    settled = settle(queue, 1, "allow", note="a wine shop's own product")

    assert settled == {
        "image_id": image_id(1),
        "object_version": version(1),
        "verdict": "allow",
        "model_verdict": "review",
        "moderation": {
            "decision": "allow",
            "note": "a wine shop's own product",
            "decided_at": "2026-11-26T10:00:00.500Z",
            "decided_by": {"sub": ALICE.sub, "username": ALICE.username},
        },
        "banked": False,
    }
    stored = queue.items[image_id(1)]
    assert (stored["verdict"], stored["model_verdict"]) == ("allow", "review")
    assert list_page(queue)["items"] == []  # out of the queue


def test_a_block_decision_is_recorded_the_same_way():
    queue = FakeQueue(in_review(1))

    assert settle(queue, 1, "block")["verdict"] == "block"
    assert queue.items[image_id(1)]["verdict"] == "block"


def test_settling_an_unknown_photo_is_404():
    with pytest.raises(DomainError) as refused:
        settle(FakeQueue(), 1)

    assert refused.value.code == "image_not_found"


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (in_review(1, verdict="allow"), "its verdict is allow"),
        (in_review(1, verdict="block"), "its verdict is block"),
        (in_review(1, verdict="allow", model_verdict="review"), "already settled"),
        (in_review(1, status="pending", verdict=None), "classification is pending"),
        (in_review(1, status="failed"), "classification is failed"),
    ],
    ids=["allowed", "blocked", "already-settled", "pending", "failed"],
)
def test_settling_a_photo_that_is_not_in_review_is_409(item, reason):
    queue = FakeQueue(item)

    with pytest.raises(DomainError) as refused:
        settle(queue, 1)

    assert refused.value.code == "not_in_review"
    assert reason in refused.value.message


def test_losing_a_race_to_another_moderator_is_409():
    queue = FakeQueue(in_review(1))
    queue.settle_fails = True  # the conditional write found it settled after our read

    with pytest.raises(DomainError) as refused:
        settle(queue, 1)

    assert refused.value.code == "not_in_review"


def test_a_decision_on_a_version_that_was_replaced_is_409_and_changes_nothing():
    # Given: the moderator looked at version-1; a newer upload was judged `review` again since.
    queue = FakeQueue(in_review(1, object_version="version-2"))

    with pytest.raises(DomainError) as refused:
        settle(queue, 1, "allow", seen="version-1")

    assert refused.value.code == "version_changed"
    assert "version-2" in refused.value.message
    assert queue.items[image_id(1)]["verdict"] == "review"


def test_a_version_replaced_between_read_and_write_is_409_version_changed():
    queue = FakeQueue(in_review(1))
    real_get = queue.get
    reads = []

    def get_then_replace(image_id: str):
        reads.append(image_id)
        item = real_get(image_id)
        if len(reads) == 1:  # the newer upload's result lands right after the service read the item
            queue.items[image_id]["object_version"] = "version-2"
        return item

    queue.get = get_then_replace  # type: ignore[method-assign]

    with pytest.raises(DomainError) as refused:
        settle(queue, 1, "allow")

    assert refused.value.code == "version_changed"


def test_a_listed_photo_without_a_judged_version_gets_no_link():
    page = list_page(FakeQueue(in_review(1, object_version=None)))

    assert page["items"][0]["image_url"] is None


def test_a_malformed_id_is_a_bad_request():
    with pytest.raises(DomainError) as refused:
        request = ReviewDecision(decision="allow", object_version="v1")
        service.settle_review("nope", request, by=ALICE, predictions=FakeQueue(), now=NOW)

    assert refused.value.code == "invalid_image_id"


# --- ReviewDecision --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"decision": "review", "object_version": "v1"},
        {"decision": "ALLOW", "object_version": "v1"},
        {"decision": True, "object_version": "v1"},
        {"object_version": "v1"},
        {"decision": "allow", "note": "x" * 1001, "object_version": "v1"},
        {"decision": "allow", "note": 3, "object_version": "v1"},
        {"decision": "allow", "verdict": "allow", "object_version": "v1"},
        {"decision": "allow"},
        {"decision": "allow", "object_version": ""},
    ],
    ids=[
        "review",
        "upper-case",
        "boolean",
        "missing",
        "note-too-long",
        "note-number",
        "unknown-field",
        "no-version",
        "empty-version",
    ],
)
def test_only_allow_or_block_with_an_optional_short_note_is_a_decision(body):
    with pytest.raises(ValidationError):
        ReviewDecision.model_validate(body)


def test_the_note_defaults_to_empty_and_is_trimmed():
    assert (
        ReviewDecision.model_validate({"decision": "block", "note": "  weapon  ", "object_version": "v"}).note
        == "weapon"
    )
    assert ReviewDecision.model_validate({"decision": "allow", "object_version": "v"}).note == ""


def test_a_decision_names_the_moderator_and_joins_the_photos_audit_trail():
    queue = FakeQueue(in_review(1, shopper_reports=3))

    settled = settle(queue, 1, "block", note="a knife")
    history = service.review_history(image_id(1), predictions=queue)

    who = {"sub": ALICE.sub, "username": "mod-alice"}
    assert settled["moderation"]["decided_by"] == who
    assert history["moderation"]["decided_by"] == who
    assert [(entry["action"], entry["by"], entry["object_version"]) for entry in history["history"]] == [
        ("block", who, version(1))
    ]
    assert history["shopper_reports"] == 3


def test_the_queue_shows_how_many_shoppers_reported_each_photo():
    queue = FakeQueue(in_review(1, shopper_reports=7, reports_over_limit=5), in_review(2))

    counts = {
        item["image_id"]: (item["shopper_reports"], item["reports_over_limit"]) for item in list_page(queue)["items"]
    }

    assert counts == {image_id(1): (7, 5), image_id(2): (0, 0)}


def test_a_moderators_allow_publishes_the_seen_versions_rendition_and_a_block_unpublishes_first():
    from tests.support.publishing import RecordingPublisher

    queue, allowed, blocked = FakeQueue(in_review(1), in_review(2)), RecordingPublisher(), RecordingPublisher()

    service.settle_review(
        image_id(1),
        ReviewDecision(decision="allow", object_version=version(1)),
        by=ALICE,
        predictions=queue,
        now=NOW,
        publisher=allowed,
    )
    service.settle_review(
        image_id(2),
        ReviewDecision(decision="block", object_version=version(2)),
        by=ALICE,
        predictions=queue,
        now=NOW,
        publisher=blocked,
    )

    assert allowed.calls == [("publish", image_id(1), version(1))]
    assert blocked.calls == [("unpublish", image_id(2))]


def test_a_moderators_allow_that_cannot_be_published_records_nothing_and_the_retry_publishes_it():
    from tests.support.publishing import RecordingPublisher

    # Given: S3 refuses the copy to published/ once
    queue, publisher = FakeQueue(in_review(1)), RecordingPublisher()
    publisher.failing_publishes = 1

    def decide() -> None:
        service.settle_review(
            image_id(1),
            ReviewDecision(decision="allow", object_version=version(1)),
            by=ALICE,
            predictions=queue,
            now=NOW,
            publisher=publisher,
        )

    # When: the moderator allows it, the request fails and the photo is still in review (not an unpublished allow)
    with pytest.raises(ConnectionError):
        decide()
    assert queue.get(image_id(1)).verdict == "review" and publisher.published == set()

    # Then: their retry is a decision again, and publishes it
    decide()
    assert queue.get(image_id(1)).verdict == "allow" and publisher.published == {image_id(1)}


def test_an_allow_that_loses_the_race_leaves_the_other_moderators_block_unpublished():
    from tests.support.publishing import RecordingPublisher

    queue, publisher = FakeQueue(in_review(1)), RecordingPublisher()
    settle = queue.settle_review

    def blocked_first(*args, **kwargs):
        settle(image_id(1), "block", None, NOW.isoformat(), version(1), {"sub": "bob", "username": "bob"})
        return settle(*args, **kwargs)

    queue.settle_review = blocked_first

    with pytest.raises(NotInReview):
        service.settle_review(
            image_id(1),
            ReviewDecision(decision="allow", object_version=version(1)),
            by=ALICE,
            predictions=queue,
            now=NOW,
            publisher=publisher,
        )

    assert queue.get(image_id(1)).verdict == "block" and publisher.published == set()


def test_a_refused_allow_publishes_nothing():
    from tests.support.publishing import RecordingPublisher

    publisher = RecordingPublisher()
    with pytest.raises(VersionChanged):
        service.settle_review(
            image_id(1),
            ReviewDecision(decision="allow", object_version="another"),
            by=ALICE,
            predictions=FakeQueue(in_review(1)),
            now=NOW,
            publisher=publisher,
        )

    assert publisher.calls == []


def test_an_undo_hides_the_photo_again_before_it_is_recorded_and_names_who_undid_it():
    from tests.support.publishing import RecordingPublisher

    queue, publisher = FakeQueue(in_review(1)), RecordingPublisher()
    settle(queue, 1, "allow")

    undone = service.undo_review(image_id(1), version(1), by=ALICE, predictions=queue, now=NOW, publisher=publisher)

    assert publisher.calls == [("unpublish", image_id(1))]
    assert undone["undone_by"] == {"sub": ALICE.sub, "username": "mod-alice"}
    assert queue.items[image_id(1)]["verdict"] == "review"
    with pytest.raises(DomainError, match="no moderator's decision to undo"):
        service.undo_review(image_id(1), version(1), by=ALICE, predictions=queue, now=NOW)


# --- the photo bank (photomod_shared.photo_bank) ---------------------------------------------------


class FakeBank:
    def __init__(self) -> None:
        self.entries: dict[str, Any] = {}

    def add(self, entry) -> None:
        self.entries[entry.image_id] = entry

    def get(self, image_id: str):
        return self.entries.get(image_id)

    def remove(self, image_id: str, removed_at: str, removed_by: dict[str, str]):
        from dataclasses import replace

        entry = self.entries.get(image_id)
        if entry is None or not entry.active:
            return None
        self.entries[image_id] = replace(entry, removed_at=removed_at, changed_at=removed_at, removed_by=removed_by)
        return self.entries[image_id]


HASHED = {"photo_bank": {"algorithm": "pdq", "version": "pdqhash 0.2.8", "pdq": "ab" * 32, "quality": 100}}


@pytest.mark.parametrize(("decision", "attributes", "banked"), [
    ("block", HASHED, True), ("allow", HASHED, False), ("block", {}, False),
])  # fmt: skip
def test_only_a_block_of_a_hashed_photo_banks_it_with_who_and_why(decision, attributes, banked):
    queue, bank = FakeQueue(in_review(1, **attributes)), FakeBank()
    request = ReviewDecision(decision=decision, note="stolen", object_version=version(1))

    settled = service.settle_review(image_id(1), request, by=ALICE, predictions=queue, now=NOW, bank=bank)

    assert settled["banked"] is banked
    if banked:
        entry = bank.entries[image_id(1)]
        assert (entry.pdq, entry.quality, entry.note) == ("ab" * 32, 100, "stolen")
        assert entry.banked_by == {"sub": ALICE.sub, "username": "mod-alice"} and entry.active
    else:
        assert bank.entries == {}


def test_an_undone_block_leaves_the_bank_and_a_removal_twice_is_refused():
    queue, bank = FakeQueue(in_review(1, **HASHED), in_review(2, **HASHED)), FakeBank()
    for number in (1, 2):
        request = ReviewDecision(decision="block", object_version=version(number))
        service.settle_review(image_id(number), request, by=ALICE, predictions=queue, now=NOW, bank=bank)

    service.undo_review(image_id(1), version(1), by=ALICE, predictions=queue, now=NOW, bank=bank)
    removed = service.remove_from_bank(image_id(2), by=ALICE, bank=bank, now=NOW)

    assert not bank.entries[image_id(1)].active
    assert removed["removed_by"]["username"] == "mod-alice" and removed["removed_at"] == "2026-11-26T10:00:00.500Z"
    with pytest.raises(DomainError) as refused:
        service.remove_from_bank(image_id(2), by=ALICE, bank=bank, now=NOW)
    assert refused.value.code == "not_banked"
    with pytest.raises(DomainError) as unknown:
        service.banked_photo(image_id(3), bank=bank)
    with pytest.raises(DomainError) as never_banked:
        service.remove_from_bank(image_id(3), by=ALICE, bank=bank, now=NOW)
    assert (unknown.value.code, never_banked.value.code) == ("image_not_found", "image_not_found")


def test_a_block_someone_else_settled_first_is_taken_out_of_the_bank_again():
    queue, bank = FakeQueue(in_review(1, **HASHED)), FakeBank()
    queue.settle_fails = True  # another moderator's decision got there first
    request = ReviewDecision(decision="block", object_version=version(1))

    with pytest.raises(DomainError):
        service.settle_review(image_id(1), request, by=ALICE, predictions=queue, now=NOW, bank=bank)

    assert not bank.entries[image_id(1)].active


def test_a_stack_that_banks_nothing_says_so_and_still_settles():
    queue = FakeQueue(in_review(1, **HASHED))
    request = ReviewDecision(decision="block", object_version=version(1))

    assert (
        service.settle_review(image_id(1), request, by=ALICE, predictions=queue, now=NOW, bank=None)["banked"] is False
    )
    with pytest.raises(DomainError) as unknown:
        service.banked_photo(image_id(1), bank=None)
    with pytest.raises(DomainError) as removal:
        service.remove_from_bank(image_id(1), by=ALICE, bank=None, now=NOW)
    assert (unknown.value.code, removal.value.code) == ("image_not_found", "image_not_found")
    with pytest.raises(DomainError) as malformed:
        service.banked_photo("NOT-AN-ID", bank=None)
    assert malformed.value.code == "invalid_image_id"
