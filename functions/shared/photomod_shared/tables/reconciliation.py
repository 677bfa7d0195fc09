"""Reconciliation: the reconciler's look at the rows of the photos on their way in.

The pending rows are a sparse index: only a pending item carries `pending_queue`, sorted by `pending_checked_at`
(when it was created or last re-queued), so a query for the rows due for a look reads only those, however many
photos the table holds. Every write that creates a pending item sets both (`IntakeTable.create_pending`,
`OutcomeTable.count_solo_attempt`); every write that ends one (`record_outcome`, `fail_if_pending`) removes them.

One more item, keyed `RECONCILE_STATE_KEY` (never an image id, so no API can reach it), keeps the reconciler's
place in the drop folder between runs.
"""

from collections.abc import Mapping
from typing import Any

from photomod_shared.prediction import STATUS_PENDING, Prediction
from photomod_shared.prediction_table import (
    PENDING_ATTRIBUTE,
    PENDING_INDEX,
    PENDING_PARTITION,
    PENDING_SINCE_ATTRIBUTE,
    RECONCILE_STATE_KEY,
)
from photomod_shared.tables._access import TableAccess, read_prediction


class ReconciliationTable(TableAccess):
    def known_ids(self, image_ids: list[str]) -> set[str]:
        """Which of these images have an item, in one round trip per 100."""
        return {item["image_id"] for item in self._batch_get(image_ids, ProjectionExpression="image_id")}

    def pending_due(
        self, checked_before: str, limit: int = 100, start_after: Mapping[str, Any] | None = None
    ) -> tuple[list[Prediction], dict[str, Any] | None]:
        """Pending photos created or last re-queued at `checked_before` or earlier, oldest first, up to `limit`,
        and the key to continue after (None at the end). Reads the sparse index: only pending rows are there.

        The index is eventually consistent: a row ended a moment ago may still be listed (the writes that settle
        it are conditional on `pending`, so it is left alone).
        """
        request: dict[str, Any] = {
            "IndexName": PENDING_INDEX,
            "KeyConditionExpression": "#queue = :queue AND #since <= :before",
            "ExpressionAttributeNames": {"#queue": PENDING_ATTRIBUTE, "#since": PENDING_SINCE_ATTRIBUTE},
            "ExpressionAttributeValues": {":queue": PENDING_PARTITION, ":before": checked_before},
            "ScanIndexForward": True,
            "Limit": limit,
        }
        if start_after:
            request["ExclusiveStartKey"] = dict(start_after)
        response = self._table.query(**request)
        rows = []
        for item in response.get("Items", []):
            row = read_prediction(item)
            # A row from before created_at was always written (count_solo_attempt): its index time stands in.
            rows.append(row if row.created_at else row.replaced(created_at=item.get(PENDING_SINCE_ATTRIBUTE)))
        return rows, response.get("LastEvaluatedKey")

    def note_requeued(self, image_id: str, times: int, at: str) -> bool:
        """The reconciler re-sent a pending photo's notification: counted, and due again a threshold later."""
        return self._update_if(
            image_id,
            UpdateExpression="SET requeue_count = :times, requeued_at = :at, #since = :at",
            ConditionExpression="#status = :pending",
            ExpressionAttributeNames={"#status": "status", "#since": PENDING_SINCE_ATTRIBUTE},
            ExpressionAttributeValues={":times": times, ":at": at, ":pending": STATUS_PENDING},
        )

    def postpone_pending(self, image_id: str, at: str) -> None:
        """A pending row the reconciler could not settle now (e.g. its object's HEAD failed): due again a
        threshold after `at`, behind the others, so one bad row never holds up the rest."""
        self._update_if(
            image_id,
            UpdateExpression="SET #since = :at",
            ConditionExpression="#status = :pending",
            ExpressionAttributeNames={"#status": "status", "#since": PENDING_SINCE_ATTRIBUTE},
            ExpressionAttributeValues={":at": at, ":pending": STATUS_PENDING},
        )

    def reconcile_state(self) -> dict[str, str]:
        """The reconciler's place in the drop folder ({} before its first run)."""
        response = self._table.get_item(Key={"image_id": RECONCILE_STATE_KEY}, ConsistentRead=True)
        item = response.get("Item") or {}
        return {name: str(value) for name, value in item.items() if name != "image_id"}

    def save_reconcile_state(self, state: Mapping[str, str]) -> None:
        self._table.put_item(
            Item={**{name: value for name, value in state.items() if value}, "image_id": RECONCILE_STATE_KEY}
        )
