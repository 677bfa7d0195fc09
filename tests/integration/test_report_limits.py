"""Shoppers' reports cannot take a shop's photos offline: beyond the per-address limit, reports are stored and
counted but hide nothing, and moderators see the counts (functions/feedback/feedback/limits.py)."""

import random
import uuid
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.integration.helpers import api_get, prediction_item

pytestmark = [
    pytest.mark.integration,
    pytest.mark.local_only("reports from a loopback address of its own (127.x.y.z), so it has a quota of its own"),
]


class FromAddress(HTTPAdapter):
    """Connects from `source` (any 127.x.y.z is this machine on Linux): another client address to the API."""

    def __init__(self, source: str):
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def shown_photo(stack) -> str:
    """A photo the model allowed and no moderator judged, recorded as the classifier records one."""
    image_id = uuid.uuid4().hex
    stack.table("PredictionsTable").put_item(
        Item={
            "image_id": image_id,
            "status": "done",
            "s3_key": f"uploads/{image_id}.jpg",
            "source": "upload",
            "prediction": "running_shoe",
            "verdict": "allow",
            "classified_at": "2026-11-26T09:00:00.000Z",
            "object_version": "v1",
        }
    )
    return image_id


def test_a_burst_of_reports_beyond_the_limit_hides_nothing_and_is_counted(local_stack):
    limit = int(local_stack.parameters["ReportHidesPerAddressPerHour"])
    attacker = requests.Session()
    attacker.mount(
        "http://", FromAddress(f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}")
    )
    photos = [shown_photo(local_stack) for _ in range(limit + 3)]

    # When one client address reports every photo, as fast as it can, and some more than once
    replies = [
        attacker.post(f"{local_stack.api_url}/predictions/{photo}/feedback", json={"inappropriate": True}, timeout=15)
        for photo in photos + photos[-3:]
    ]

    # Then every report was accepted and stored, but only `limit` photos left view
    assert all(reply.status_code == 201 for reply in replies), [
        reply.text for reply in replies if reply.status_code != 201
    ]
    assert sum(reply.json()["sent_to_review"] for reply in replies) == limit
    hidden = [photo for photo in photos if prediction_item(local_stack, photo)["verdict"] == "review"]
    assert hidden == photos[:limit]
    for photo in photos[limit:]:
        item = prediction_item(local_stack, photo)
        assert item["verdict"] == "allow", "a report over the limit hid a photo"
        assert (int(item["shopper_reports"]), int(item["reports_over_limit"])) == (2, 2)
        assert api_get(local_stack, f"/predictions/{photo}").json()["verdict"] == "allow"

    # ... and a shopper at another address still hides what they report
    other = shown_photo(local_stack)
    reply = requests.post(
        f"{local_stack.api_url}/predictions/{other}/feedback", json={"inappropriate": True}, timeout=15
    )
    assert reply.json()["sent_to_review"] is True


def test_moderators_see_how_many_reports_a_photo_had(local_stack):
    photo = shown_photo(local_stack)
    for _ in range(3):
        reply = requests.post(
            f"{local_stack.api_url}/predictions/{photo}/feedback", json={"inappropriate": True}, timeout=15
        )
        assert reply.status_code == 201

    history = requests.get(
        f"{local_stack.api_url}/reviews/{photo}/history", headers=local_stack.staff("moderators").headers, timeout=15
    )

    assert history.status_code == 200, history.text
    assert history.json()["shopper_reports"] == 3
    assert history.json()["verdict"] == "review"
