"""AWS events as Lambda delivers them, built from the fixtures in events/.

events/ is checked against `sam local generate-event` (tests/tooling/test_event_fixtures.py), so an event built
here has every field AWS sends; only the values that name an object, a queue or a delivery are replaced.
"""

import copy
import hashlib
import json
import time
import uuid
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
# An S3 notification with no versionId (the drop-folder photo of the fixture batch), and the SQS record carrying it.
_NOTIFICATION_FIXTURE = ("classify_sqs_batch", 1)
# What S3 reports as the ETag of an empty object.
EMPTY_ETAG = "d41d8cd98f00b204e9800998ecf8427e"


@cache
def _read(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / f"{name}.json").read_text())


def read_event(name: str) -> dict[str, Any]:
    """A fresh copy of events/<name>.json, so a test may change it freely."""
    return copy.deepcopy(_read(name))


def _sqs_record_fixture() -> dict[str, Any]:
    name, index = _NOTIFICATION_FIXTURE
    return read_event(name)["Records"][index]


def s3_record(
    bucket: str,
    key: str,
    *,
    size: int = 0,
    etag: str = EMPTY_ETAG,
    sequencer: str | None = None,
    version_id: str | None = None,
    event_name: str = "ObjectCreated:Put",
    event_time: str | None = None,
) -> dict[str, Any]:
    """One record of an S3 event notification. The key is URL-encoded as S3 encodes it (spaces as '+', '/' kept);
    the sequencer defaults to an increasing one, as S3's are for one key; without `version_id` the record names no
    version (an unversioned bucket)."""
    (record,) = json.loads(_sqs_record_fixture()["body"])["Records"]
    record["eventName"] = event_name
    if event_time is not None:
        record["eventTime"] = event_time
    record["s3"]["bucket"].update(name=bucket, arn=f"arn:aws:s3:::{bucket}")
    s3_object = record["s3"]["object"]
    s3_object.update(
        key=quote_plus(key, safe="/"), size=size, eTag=etag, sequencer=sequencer or f"{time.time_ns():020X}"
    )
    s3_object.pop("versionId", None)
    if version_id is not None:
        s3_object["versionId"] = version_id
    return record


def notification_of(*records: dict[str, Any]) -> str:
    """The SQS message body S3 sends for these records."""
    return json.dumps({"Records": list(records)})


def s3_notification(bucket: str, key: str, **fields: Any) -> str:
    """The SQS message body S3 sends when `key` is created (fields as `s3_record` takes them)."""
    return notification_of(s3_record(bucket, key, **fields))


def s3_test_notification() -> str:
    """The s3:TestEvent body S3 sends once when a bucket's notifications are configured."""
    return str(read_event("classify_sqs_batch")["Records"][2]["body"])


def sqs_event_for(bodies: list[str], queue_arn: str, *, receive_count: int = 1) -> dict[str, Any]:
    """The event Lambda's SQS event source delivers for messages with these bodies, each received
    `receive_count` times."""
    region = queue_arn.split(":")[3]
    now_ms = str(int(time.time() * 1000))
    records = []
    for body in bodies:
        record = _sqs_record_fixture()
        record.update(
            messageId=str(uuid.uuid4()),
            receiptHandle=uuid.uuid4().hex,
            body=body,
            md5OfBody=hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's checksum, not a secret
            eventSourceARN=queue_arn,
            awsRegion=region,
        )
        record["attributes"].update(
            ApproximateReceiveCount=str(receive_count), SentTimestamp=now_ms, ApproximateFirstReceiveTimestamp=now_ms
        )
        records.append(record)
    return {"Records": records}
