"""An upload whose presigned POST expired unused ends as failed/upload_not_received (S3 answers 404: ListBucket)."""

from datetime import UTC, datetime, timedelta

import pytest

from photomod_shared.clock import iso
from tests.integration.helpers import get_prediction, presign_upload

pytestmark = pytest.mark.integration


def test_an_expired_upload_that_never_arrived_reads_as_failed_upload_not_received(local_stack) -> None:
    # Given a presigned upload nobody used, whose URL expired longer ago than the grace period (the test moves
    # the recorded expiry back instead of waiting five minutes)
    created = presign_upload(local_stack, "never-sent.jpg", "image/jpeg", 5000)
    long_ago = iso(datetime.now(UTC) - timedelta(hours=1))
    local_stack.table("PredictionsTable").update_item(
        Key={"image_id": created["image_id"]},
        UpdateExpression="SET upload_expires_at = :long_ago",
        ExpressionAttributeValues={":long_ago": long_ago},
    )

    # When the shopper asks for the result
    reply = get_prediction(local_stack, created["image_id"])

    # Then it is final, with the reason, not a 5xx and not pending forever
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["status"] == "failed"
    assert body["error"]["code"] == "upload_not_received"
