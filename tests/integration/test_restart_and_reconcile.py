"""A stack of its own, restarted: local state survives `make down` / `make up`, and the scheduled reconciler
(run by the local host, on a short rate here) gives a photo whose notification was lost its result."""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from boto3.dynamodb.conditions import Key

from photomod_shared import ids
from tests.integration.conftest import BACKEND, launch_stack, stop_stack
from tests.integration.helpers import (
    DOG_PHOTO,
    api_get,
    api_post,
    unique,
    upload_photo,
    wait_for_final,
    wait_for_key_final,
)
from tests.support.ports import free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.local_only("restarts a stack of its own on the embedded emulator"),
    pytest.mark.skipif(
        BACKEND != "moto",
        reason="runs once, in the moto pass: it starts a moto stack of its own (LocalStack here keeps no state)",
    ),
]

# Short, but longer than a classifier cold start on a loaded machine: the reconciler gives up on a photo after
# three re-queues, one per threshold, and a killed worker's replacement must not look like a lost photo.
PARAMETERS = {"ReconcilePendingAfterSeconds": "60"}
SCHEDULE_RATE_S = "2"
RECONCILE_TIMEOUT_S = 240


class RestartableStack:
    def __init__(self) -> None:
        self.run_dir = Path(tempfile.mkdtemp(prefix="photomod-restart-"))
        self.ports = (free_port(), free_port(), free_port())
        self.process = None
        self.stack = None

    def up(self):
        self.process, self.stack = launch_stack(
            self.run_dir, self.ports, PARAMETERS, ("--schedule-rate-seconds", SCHEDULE_RATE_S)
        )
        return self.stack

    def down(self) -> None:
        if self.process is not None:
            stop_stack(self.process)
            self.process = None


@pytest.fixture(scope="module")
def restartable() -> Iterator[RestartableStack]:
    stacks = RestartableStack()
    stacks.up()
    yield stacks
    stacks.down()


def test_a_restart_keeps_a_finished_prediction_its_photo_and_its_feedback(restartable) -> None:
    stack = restartable.stack
    created = upload_photo(stack, DOG_PHOTO.read_bytes(), "dog.jpeg")
    image_id = created["image_id"]
    before = wait_for_final(stack, image_id)
    assert before["status"] == "done", before
    feedback = api_post(stack, f"/predictions/{image_id}/feedback", json={"correct_label": "dog"})
    assert feedback.status_code == 201, feedback.text

    # When: `make down`, then `make up` on the same run folder
    restartable.down()
    assert (restartable.run_dir / "state" / "emulator.pickle").is_file()
    stack = restartable.up()
    assert any("state: restoring" in line for line in restartable.process.output)

    # Then: the same prediction, the photo and the feedback are all still there
    after = api_get(stack, f"/predictions/{image_id}")
    assert after.status_code == 200 and after.json() == before
    photo = stack.client("s3").get_object(Bucket=stack.bucket, Key=before["s3_key"])["Body"].read()
    assert photo == DOG_PHOTO.read_bytes()
    stored = stack.table("FeedbackTable").query(KeyConditionExpression=Key("image_id").eq(image_id))["Items"]
    assert [item["correct_label"] for item in stored] == ["dog"]
    # And the restarted stack still classifies
    again = upload_photo(stack, DOG_PHOTO.read_bytes(), "dog-after-restart.jpeg")
    assert wait_for_final(stack, again["image_id"])["status"] == "done"


def test_a_drop_folder_photo_whose_notification_was_lost_is_classified_by_the_reconciler(restartable) -> None:
    stack = restartable.stack
    s3 = stack.client("s3")
    key = f"incoming/{unique('lost')}/dog.jpeg"
    # Given: the photo arrives while the bucket sends no notifications (a lost notification)
    configuration = s3.get_bucket_notification_configuration(Bucket=stack.bucket)
    configuration.pop("ResponseMetadata", None)
    s3.put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration={})
    try:
        s3.put_object(Bucket=stack.bucket, Key=key, Body=DOG_PHOTO.read_bytes(), ContentType="image/jpeg")
    finally:
        s3.put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration=configuration)
    assert stack.table("PredictionsTable").get_item(Key={"image_id": ids.image_id_for_key(key)}).get("Item") is None

    # Then: after the threshold the reconciler gives it a row and queues it; the classifier does the rest
    result = wait_for_key_final(stack, key, timeout_s=RECONCILE_TIMEOUT_S)
    assert result["status"] == "done", result
    assert result["source"] == "drop-folder"
    assert "ReconcileFunction" in (stack.run_dir / "logs" / "schedules.log").read_text()


def _classify_workers(stack_pid: int) -> list[int]:
    """The stack's ClassifyFunction worker processes (its children running infra.local.worker for that function)."""
    workers = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if (
            parent == stack_pid
            and b"infra.local.worker" in command
            and any(b"-ClassifyFunction" in part for part in command)
        ):
            workers.append(int(entry.name))
    return workers


def test_killing_the_classify_worker_mid_run_loses_no_photo(restartable) -> None:
    stack = restartable.stack
    s3 = stack.client("s3")
    keys = [f"incoming/{unique('kill')}/dog-{index}.jpeg" for index in range(6)]
    workers = _classify_workers(restartable.process.pid)
    assert workers, "no ClassifyFunction worker found"

    for key in keys[:3]:
        s3.put_object(Bucket=stack.bucket, Key=key, Body=DOG_PHOTO.read_bytes(), ContentType="image/jpeg")
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    for key in keys[3:]:
        s3.put_object(Bucket=stack.bucket, Key=key, Body=DOG_PHOTO.read_bytes(), ContentType="image/jpeg")

    results = [wait_for_key_final(stack, key, timeout_s=RECONCILE_TIMEOUT_S) for key in keys]
    assert [result["status"] for result in results] == ["done"] * len(keys), results
    assert set(_classify_workers(restartable.process.pid)).isdisjoint(workers)  # replaced by a new one
