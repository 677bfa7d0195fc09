"""The photo-bank tables (classify.photo_bank, docs/architecture.md#photo-bank):

- `PhotoBankTable`: the bank of hashes of photos moderators blocked, one partition per bank, one item per banked
  photo; a local secondary index orders each bank by `changed_at`, so classify reads only what changed since its
  snapshot (strongly consistent, as an LSI allows).
- `PhotoHashIndexTable`: every judged photo's PDQ hash under 16 keys, one per 16-bit chunk of it (multi-index
  hashing): a photo within 15 bits of another shares at least one chunk exactly (pigeonhole), so its near copies
  are found with 16 small queries however many photos are stored.
"""

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from photomod_shared.photo_bank import MODERATOR_BLOCKS, BankEntry
from photomod_shared.prediction_table import from_dynamo, to_dynamo

BANK_CHANGES_INDEX = "changes"


class PhotoBankTable:
    """Adapter over the DynamoDB photo-bank table (a boto3 `Table` resource)."""

    def __init__(self, table: Any, bank: str = MODERATOR_BLOCKS):
        self._table = table
        self._bank = bank

    def add(self, entry: BankEntry) -> None:
        """Banks (or banks again, replacing a removed entry) a photo's hash."""
        self._table.put_item(Item=to_dynamo({"bank": self._bank, **entry.to_item()}))

    def get(self, image_id: str) -> BankEntry | None:
        item = self._table.get_item(Key={"bank": self._bank, "image_id": image_id}, ConsistentRead=True).get("Item")
        return BankEntry.from_item(from_dynamo(item)) if item else None

    def remove(self, image_id: str, removed_at: str, removed_by: dict[str, str]) -> BankEntry | None:
        """Takes a banked hash out of the bank (kept, marked removed); None if it is not banked (or already out)."""
        try:
            response = self._table.update_item(
                Key={"bank": self._bank, "image_id": image_id},
                UpdateExpression="SET #removed_at = :at, #changed_at = :at, #removed_by = :by",
                ConditionExpression="attribute_exists(image_id) AND attribute_not_exists(#removed_at)",
                ExpressionAttributeNames={
                    "#removed_at": "removed_at",
                    "#changed_at": "changed_at",
                    "#removed_by": "removed_by",
                },
                ExpressionAttributeValues={":at": removed_at, ":by": dict(removed_by)},
                ReturnValues="ALL_NEW",
            )
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return None
        return BankEntry.from_item(from_dynamo(response["Attributes"]))

    def changed_since(self, since: str) -> Iterator[BankEntry]:
        """Every entry banked or removed at `since` or later ("" : the whole bank), oldest change first."""
        request: dict[str, Any] = {
            "IndexName": BANK_CHANGES_INDEX,
            "KeyConditionExpression": "#bank = :bank",
            "ExpressionAttributeNames": {"#bank": "bank"},
            "ExpressionAttributeValues": {":bank": self._bank},
            "ConsistentRead": True,
        }
        if since:  # a key attribute may not be compared with an empty string
            request["KeyConditionExpression"] += " AND #changed_at >= :since"
            request["ExpressionAttributeNames"]["#changed_at"] = "changed_at"
            request["ExpressionAttributeValues"][":since"] = since
        while True:
            response = self._table.query(**request)
            for item in response.get("Items", []):
                yield BankEntry.from_item(from_dynamo(item))
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


class PhotoHashIndexTable:
    """Adapter over the DynamoDB hash index: items keyed (chunk key, image id) holding the photo's whole hash.

    A photo's 16 queries run side by side (the resource's client is thread-safe and takes plain values, like the
    Table): one round trip of latency instead of 16."""

    def __init__(self, table: Any, parallel_queries: int = 8):
        self._table = table
        self._pool = ThreadPoolExecutor(max_workers=parallel_queries, thread_name_prefix="hash-index")

    def add(self, image_id: str, pdq: str, chunk_keys: Sequence[str]) -> None:
        """Indexes a photo's hash under each of its chunk keys (one BatchWriteItem per 25; idempotent)."""
        with self._table.batch_writer(overwrite_by_pkeys=["chunk", "image_id"]) as batch:
            for key in chunk_keys:
                batch.put_item(Item={"chunk": key, "image_id": image_id, "pdq": pdq})

    def sharing_a_chunk(self, chunk_keys: Sequence[str], per_chunk: int) -> dict[str, str]:
        """{image id: its hash} of indexed photos that share at least one of these chunk keys: at most `per_chunk`
        of each chunk's (one page each), so a photo uploaded a hundred thousand times costs what any other does."""
        found: dict[str, str] = {}
        for items in self._pool.map(lambda key: self._sharing(key, per_chunk), chunk_keys):
            found.update(items)
        return found

    def _sharing(self, key: str, limit: int) -> dict[str, str]:
        response = self._table.meta.client.query(
            TableName=self._table.name,
            KeyConditionExpression="#chunk = :chunk",
            ExpressionAttributeNames={"#chunk": "chunk"},
            ExpressionAttributeValues={":chunk": key},
            Limit=limit,
        )
        return {item["image_id"]: item["pdq"] for item in response.get("Items", [])}
