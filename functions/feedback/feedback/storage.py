from typing import Any

from photomod_shared.predictions import to_dynamo


class FeedbackTable:
    """Adapter over the DynamoDB feedback table (a boto3 `Table` resource)."""

    def __init__(self, table: Any):
        self._table = table

    def add(self, item: dict[str, Any]) -> None:
        self._table.put_item(Item=to_dynamo({key: value for key, value in item.items() if value is not None}))
