"""The other two tables: shoppers' feedback (read back by the analysts' export) and the report-limit counters."""

from collections.abc import Iterator, Mapping
from typing import Any

from photomod_shared.prediction_table import from_dynamo, to_dynamo


class FeedbackTable:
    """Adapter over the DynamoDB feedback table (a boto3 `Table` resource)."""

    def __init__(self, table: Any):
        self._table = table

    def add(self, item: dict[str, Any]) -> None:
        self._table.put_item(Item=to_dynamo({key: value for key, value in item.items() if value is not None}))

    def scan(self, *, max_items: int, start_after: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Items in table order, after the one keyed `start_after`: one Scan request at a time, never more than
        `max_items` read, so memory stays bounded however large the table is."""
        # The resource's client takes and returns plain Python values, like the Table itself.
        paginator = self._table.meta.client.get_paginator("scan")
        arguments: dict[str, Any] = {
            "TableName": self._table.name,
            "PaginationConfig": {"MaxItems": max_items, "PageSize": max_items},
        }
        if start_after:
            arguments["ExclusiveStartKey"] = dict(start_after)
        for page in paginator.paginate(**arguments):
            for item in page.get("Items", []):
                yield from_dynamo(item)


class ReportQuotaTable:
    """Adapter over the report-limit counters (DynamoDB, one item per client address and window, expiring)."""

    def __init__(self, table: Any):
        self._table = table

    def take(self, key: str, limit: int, expires_at: int) -> bool:
        try:
            self._table.update_item(
                Key={"limit_key": key},
                UpdateExpression="SET #expires = if_not_exists(#expires, :expires) ADD #used :one",
                ConditionExpression="attribute_not_exists(#used) OR #used < :limit",
                ExpressionAttributeNames={"#used": "used", "#expires": "expires_at"},
                ExpressionAttributeValues={":one": 1, ":limit": limit, ":expires": expires_at},
            )
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
        return True
