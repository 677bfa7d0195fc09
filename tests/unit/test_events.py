"""classify.notifications: S3 notifications as they arrive in SQS message bodies (Powertools' S3Event)."""

import json

import pytest

from classify.events import MalformedNotification, PhotoEvent
from classify.notifications import photo_events
from tests.support.events import notification_of


def bodies(event: dict) -> list[str]:
    return [record["body"] for record in event["Records"]]


def created(key: str, event_name: str = "ObjectCreated:Put", **object_fields) -> dict:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": event_name,
        "s3": {"bucket": {"name": "images"}, "object": {"key": key, **object_fields}},
    }


def test_the_fixture_batch_gives_one_event_per_created_object_and_none_for_the_test_event(load_event):
    upload, drop_folder, test_event = bodies(load_event("classify_sqs_batch"))

    assert photo_events(upload) == [
        PhotoEvent(
            bucket="photomod-local-images-123456789012",
            key="uploads/9f2c1e4b7a6d4c3e8b1a0f9e8d7c6b5a.jpg",
            etag="5d41402abc4b2a76b9719d911017c592",
            sequencer="00674591F1A1B2C3D4",
            size=2483117,
            version_id="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
            event_time="2026-11-26T09:14:09.512Z",
        )
    ]
    assert [event.key for event in photo_events(drop_folder)] == ["incoming/summer sale/shoe(1).jpg"]
    assert photo_events(test_event) == []


@pytest.mark.parametrize(
    ("encoded", "key"),
    [
        ("incoming/summer+sale/shoe%281%29.jpg", "incoming/summer sale/shoe(1).jpg"),
        ("incoming/a%2Bb.jpg", "incoming/a+b.jpg"),  # a literal plus is sent as %2B
        ("incoming%2Fnested%2Fa.jpg", "incoming/nested/a.jpg"),  # some emulators encode slashes too
        ("incoming/%E5%86%99%E7%9C%9F.png", "incoming/写真.png"),
    ],
)
def test_keys_are_url_decoded_as_s3_encodes_them(encoded, key):
    (event,) = photo_events(notification_of(created(encoded, sequencer="01")))

    assert event.key == key


def test_several_records_in_one_body_each_give_an_event():
    body = notification_of(created("incoming/a.jpg", sequencer="01"), created("incoming/b.jpg", sequencer="02"))

    assert [(event.key, event.sequencer) for event in photo_events(body)] == [
        ("incoming/a.jpg", "01"),
        ("incoming/b.jpg", "02"),
    ]


def test_events_other_than_object_created_are_ignored():
    body = notification_of(
        created("incoming/a.jpg", "ObjectRemoved:Delete", sequencer="02"),
        created("incoming/b.jpg", "ObjectCreated:CompleteMultipartUpload", sequencer="03", size=5, eTag="e"),
    )

    assert [event.key for event in photo_events(body)] == ["incoming/b.jpg"]


def test_optional_object_fields_get_defaults():
    (event,) = photo_events(notification_of(created("incoming/a.jpg")))

    assert (event.etag, event.sequencer, event.size) == ("", "0", 0)


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "",
        "[]",
        '"a string"',
        json.dumps({"Records": "nope"}),
        json.dumps({"Service": "Amazon S3"}),
        json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]}),
        json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {}}}]}),
        json.dumps({"Records": [created("incoming/a.jpg", size="big")]}),
        json.dumps({"Records": ["not a record"]}),
    ],
)
def test_bodies_that_are_not_s3_notifications_are_malformed(body):
    with pytest.raises(MalformedNotification):
        photo_events(body)


@pytest.mark.parametrize(("field", "version"), [({}, None), ({"versionId": "null"}, None), ({"versionId": "v2"}, "v2")])
def test_the_object_version_is_read_when_the_bucket_is_versioned(field, version):
    """An unversioned bucket's objects are version "null" (or none): there is no version to pin then."""
    (event,) = photo_events(notification_of(created("incoming/a.jpg", sequencer="01", **field)))

    assert event.version_id == version
