"""Intake: a photo's row created pending (by an upload or the reconciler) and ended failed when the photo will
never be classified. A pending row joins the reconciler's sparse index; ending it leaves that index."""

from photomod_shared.prediction import STATUS_FAILED, STATUS_PENDING, Failure, Prediction
from photomod_shared.prediction_table import PENDING_ATTRIBUTE, PENDING_PARTITION, PENDING_SINCE_ATTRIBUTE, to_dynamo
from photomod_shared.tables._access import TableAccess


class IntakeTable(TableAccess):
    def create_pending(self, prediction: Prediction) -> None:
        """Records a new image as pending; ConditionalCheckFailedException if its id already has an item.

        The record needs its `created_at` (or `requeued_at`): it is where the reconciler's index sorts it.
        """
        since = prediction.requeued_at or prediction.created_at
        if not since:
            raise ValueError(f"a pending record needs created_at: {prediction.image_id}")
        self._table.put_item(
            Item=to_dynamo(
                {
                    **prediction.to_item(),
                    "status": STATUS_PENDING,
                    PENDING_ATTRIBUTE: PENDING_PARTITION,
                    PENDING_SINCE_ATTRIBUTE: since,
                }
            ),
            ConditionExpression="attribute_not_exists(image_id)",
        )

    def create_pending_once(self, prediction: Prediction) -> bool:
        """`create_pending`, answering False instead of raising when the id already has an item."""
        try:
            self.create_pending(prediction)
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def fail_if_pending(self, image_id: str, error: Failure, failed_at: str) -> bool:
        """Ends a still-pending image as failed; returns False if it had already reached a final state."""
        return self._update_if(
            image_id,
            UpdateExpression=(
                "SET #status = :failed, #error = :error, classified_at = :failed_at REMOVE #pending, #since"
            ),
            ConditionExpression="attribute_exists(image_id) AND #status = :pending",
            ExpressionAttributeNames={
                "#status": "status",
                "#error": "error",
                "#pending": PENDING_ATTRIBUTE,
                "#since": PENDING_SINCE_ATTRIBUTE,
            },
            ExpressionAttributeValues={
                ":failed": STATUS_FAILED,
                ":pending": STATUS_PENDING,
                ":error": error.to_dict(),
                ":failed_at": failed_at,
            },
        )
