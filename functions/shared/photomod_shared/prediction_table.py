"""The predictions table's storage format: how a value is stored (`to_dynamo`, `from_dynamo`) and the names of the
attributes and indexes the table adds to the record's own (`photomod_shared.prediction.Prediction` says which
attributes an item has). Every request to the table is `photomod_shared.tables`'.

Its bookkeeping: the S3 event a result came from (its order), the solo-attempt counter, and two sparse global
secondary indexes:
- the review queue: only an item whose verdict is `review` carries `REVIEW_QUEUE_ATTRIBUTE`, so the index holds
  exactly the photos waiting for a moderator, newest first by `classified_at`;
- the pending rows, for the reconciler: only a pending item carries `PENDING_ATTRIBUTE`, sorted by
  `PENDING_SINCE_ATTRIBUTE` (when it was created or last re-queued).

One more item, keyed `RECONCILE_STATE_KEY` (never an image id, so no API can reach it), keeps the reconciler's
place in the drop folder between runs.
"""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

REVIEW_QUEUE_INDEX = "review_queue"
REVIEW_QUEUE_ATTRIBUTE = "review_queue"
# One partition: a moderation queue stays small; the sort key (`classified_at`) orders it.
REVIEW_QUEUE_PARTITION = "review"
PENDING_INDEX = "pending_rows"
PENDING_ATTRIBUTE = "pending_queue"
PENDING_PARTITION = "pending"
PENDING_SINCE_ATTRIBUTE = "pending_checked_at"
# What the reconciler needs of a pending row (the index projects these, and its keys).
PENDING_ROW_ATTRIBUTES = (
    "status",
    "s3_key",
    "source",
    "created_at",
    "upload_expires_at",
    "requeue_count",
    "requeued_at",
)
RECONCILE_STATE_KEY = "reconcile-state"


def to_dynamo(value: Any) -> Any:
    """Floats become Decimals (DynamoDB has no float type), recursively."""
    if isinstance(value, float):
        return Decimal(str(round(value, 6)))
    if isinstance(value, Mapping):
        return {key: to_dynamo(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_dynamo(item) for item in value]
    return value


def from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, Mapping):
        return {key: from_dynamo(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_dynamo(item) for item in value]
    return value
