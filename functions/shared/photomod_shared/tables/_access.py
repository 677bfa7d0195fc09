"""What every concern of the predictions table shares: the boto3 `Table`, the one read they all make (an item
by id, as a `Prediction`), a conditional update that answers whether it applied, and batched reads by key."""

from collections.abc import Iterator
from typing import Any

from photomod_shared.prediction import Prediction
from photomod_shared.prediction_table import from_dynamo

# BatchGetItem's limit of keys per request.
BATCH_GET_KEYS = 100


def read_prediction(item: dict[str, Any]) -> Prediction:
    """A stored item as the record (the one place the concerns turn an item into a Prediction)."""
    return Prediction.from_item(from_dynamo(item))


class TableAccess:
    """The boto3 `Table` resource of the predictions table and the requests every concern builds on."""

    def __init__(self, table: Any):
        self._table = table

    def get(self, image_id: str) -> Prediction | None:
        response = self._table.get_item(Key={"image_id": image_id}, ConsistentRead=True)
        item = response.get("Item")
        return read_prediction(item) if item else None

    def _update_if(self, image_id: str, **request: Any) -> bool:
        """One conditional UpdateItem of the item keyed `image_id`: False when its condition did not hold."""
        try:
            self._table.update_item(Key={"image_id": image_id}, **request)
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _batch_get(self, image_ids: list[str], **request: Any) -> Iterator[dict[str, Any]]:
        """The items of these ids that exist, one BatchGetItem round trip per 100 (and for keys DynamoDB left
        unprocessed). `request` is the rest of each table's request (its projection, ConsistentRead)."""
        # The resource's client takes and returns plain Python values, like the Table itself.
        client, name = self._table.meta.client, self._table.name
        for start in range(0, len(image_ids), BATCH_GET_KEYS):
            keys = [{"image_id": image_id} for image_id in image_ids[start : start + BATCH_GET_KEYS]]
            pending: dict[str, Any] = {name: {"Keys": keys, **request}}
            while pending:
                response = client.batch_get_item(RequestItems=pending)
                yield from response["Responses"].get(name, [])
                pending = response.get("UnprocessedKeys") or {}
