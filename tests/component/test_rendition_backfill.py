"""tools.backfill: rows judged before renditions existed get judged again (or keep a moderator's decision and get
their rendition), once each, and a stopped run goes on where it stopped."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from photomod_shared import ids
from photomod_shared.publication import PublishedRenditions, published_key
from tools.backfill import Progress, backfill, load_progress, save_progress

BUCKET, TABLE = "photos", "predictions"
OLD, MODERATED, RENDERED, PENDING = "a" * 32, "b" * 32, "c" * 32, "d" * 32


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture
def backfilled() -> Any:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        table = dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "image_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "image_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        versions = {}
        for image_id in (OLD, MODERATED, RENDERED, PENDING):
            key = f"uploads/{image_id}.jpg"
            versions[image_id] = s3.put_object(
                Bucket=BUCKET, Key=key, Body=jpeg(), ContentType="image/jpeg", Metadata={"shop": "s1"}
            )["VersionId"]
        row = {"status": "done", "verdict": "allow"}
        table.put_item(Item={"image_id": OLD, "s3_key": f"uploads/{OLD}.jpg", "object_version": versions[OLD], **row})
        table.put_item(
            Item={
                "image_id": MODERATED,
                "s3_key": f"uploads/{MODERATED}.jpg",
                "object_version": versions[MODERATED],
                "moderation": {"decision": "allow"},
                **row,
            }
        )
        table.put_item(
            Item={
                "image_id": RENDERED,
                "s3_key": f"uploads/{RENDERED}.jpg",
                "object_version": versions[RENDERED],
                **row,
            }
        )
        s3.put_object(Bucket=BUCKET, Key=ids.rendition_key(RENDERED, versions[RENDERED]), Body=b"rendition")
        table.put_item(Item={"image_id": PENDING, "s3_key": f"uploads/{PENDING}.jpg", "status": "pending"})
        table.put_item(Item={"image_id": "reconcile-state", "cursor": "x"})
        yield s3, table, versions


def run(backfilled, progress: Progress, state: Path, **options) -> Progress:
    s3, table, _ = backfilled
    return backfill(
        table,
        s3,
        BUCKET,
        progress,
        save=save_progress(state),
        publisher=PublishedRenditions(s3, BUCKET),
        say=lambda line: None,
        **options,
    )


def versions_of(s3, image_id: str) -> list[str]:
    listed = s3.list_object_versions(Bucket=BUCKET, Prefix=f"uploads/{image_id}.jpg")
    return [version["VersionId"] for version in listed.get("Versions", [])]


def test_an_old_row_is_judged_again_and_a_moderated_one_keeps_its_decision_with_a_rendition(backfilled, tmp_path):
    s3, table, versions = backfilled

    progress = run(backfilled, Progress(), tmp_path / "state.json")

    # The unmoderated row's judged version is copied onto its key: a new version, which S3 notifies the
    # classifier of (same bytes and metadata), so the classifier renders and judges it as it does any photo.
    assert (progress.checked, progress.rejudged, progress.rendered, progress.skipped) == (5, 1, 1, 3)
    assert len(versions_of(s3, OLD)) == 2
    newest = s3.head_object(Bucket=BUCKET, Key=f"uploads/{OLD}.jpg")
    assert newest["VersionId"] != versions[OLD] and newest["Metadata"] == {"shop": "s1"}
    assert newest["ContentType"] == "image/jpeg"
    # The moderated row keeps its decision, gets its rendition (a JPEG of the judged version) and is published
    rendition = s3.get_object(Bucket=BUCKET, Key=ids.rendition_key(MODERATED, versions[MODERATED]))["Body"].read()
    assert Image.open(io.BytesIO(rendition)).size == (64, 48)
    s3.head_object(Bucket=BUCKET, Key=published_key(MODERATED))
    assert table.get_item(Key={"image_id": MODERATED})["Item"]["moderation"] == {"decision": "allow"}
    # Nothing else was copied: the rendered, pending and state rows are left alone
    assert len(versions_of(s3, RENDERED)) == 1 and len(versions_of(s3, PENDING)) == 1


def test_a_second_run_after_the_classifier_does_nothing(backfilled, tmp_path):
    s3, table, _ = backfilled
    run(backfilled, Progress(), tmp_path / "state.json")
    # The classifier judged the new version: the row names it, and its rendition exists.
    newest = s3.head_object(Bucket=BUCKET, Key=f"uploads/{OLD}.jpg")["VersionId"]
    table.update_item(
        Key={"image_id": OLD}, UpdateExpression="SET object_version = :v", ExpressionAttributeValues={":v": newest}
    )
    s3.put_object(Bucket=BUCKET, Key=ids.rendition_key(OLD, newest), Body=b"rendition")

    again = run(backfilled, Progress(), tmp_path / "again.json")

    assert (again.rejudged, again.rendered, again.skipped) == (0, 0, 5)
    assert len(versions_of(s3, OLD)) == 2


def test_a_stopped_run_resumes_where_it_stopped(backfilled, tmp_path):
    s3, _, _ = backfilled
    state = tmp_path / "state.json"

    first = run(backfilled, Progress(), state, page_size=2, max_pages=1)  # stopped after one page
    assert not first.finished and first.checked == 2 and load_progress(state).start_key == first.start_key

    resumed = run(backfilled, load_progress(state), state, page_size=2)

    assert resumed.finished and resumed.checked == 5
    assert (resumed.rejudged, resumed.rendered) == (1, 1)  # each row once across both runs
    assert len(versions_of(s3, OLD)) == 2


def test_a_dry_run_changes_nothing(backfilled, tmp_path):
    s3, _, versions = backfilled

    progress = run(backfilled, Progress(), tmp_path / "state.json", dry_run=True)

    assert (progress.rejudged, progress.rendered) == (1, 1)
    assert len(versions_of(s3, OLD)) == 1 and not (tmp_path / "state.json").exists()
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=ids.rendition_key(MODERATED, versions[MODERATED]))
