"""photomod_shared.tables' batched reads with a fake DynamoDB client: a hundred keys per BatchGetItem, and the keys
DynamoDB leaves unprocessed (under throttling) asked again until none is left, so no stored item goes unseen."""

from types import SimpleNamespace
from typing import Any

from photomod_shared.tables import PredictionTable

NAME = "photomod-local-PredictionsTable"


class ThrottledClient:
    """Answers each BatchGetItem with its first half of the keys and leaves the rest unprocessed."""

    def __init__(self, items: dict[str, dict[str, Any]]):
        self.items, self.requests = items, []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        request = RequestItems[NAME]
        self.requests.append(request)
        keys = request["Keys"]
        answered, left = keys[: (len(keys) + 1) // 2], keys[(len(keys) + 1) // 2 :]
        found = [self.items[key["image_id"]] for key in answered if key["image_id"] in self.items]
        return {
            "Responses": {NAME: found},
            "UnprocessedKeys": {NAME: {**request, "Keys": left}} if left else {},
        }


def table_over(client: ThrottledClient) -> PredictionTable:
    return PredictionTable(SimpleNamespace(name=NAME, meta=SimpleNamespace(client=client)))


def image_id(number: int) -> str:
    return f"{number:032x}"


def test_known_ids_asks_again_for_unprocessed_keys_and_never_more_than_a_hundred_at_once():
    stored = {image_id(n): {"image_id": image_id(n)} for n in range(0, 250, 2)}
    client = ThrottledClient(stored)

    known = table_over(client).known_ids([image_id(n) for n in range(250)])

    assert known == set(stored)
    assert max(len(request["Keys"]) for request in client.requests) == 100
    assert all(request["ProjectionExpression"] == "image_id" for request in client.requests)


def test_moderations_reads_each_photo_once_even_when_asked_twice():
    stored = {
        image_id(n): {"image_id": image_id(n), "moderation": {"decision": "allow"}, "review_history": []}
        for n in range(3)
    }
    client = ThrottledClient(stored)

    found = table_over(client).moderations([image_id(0), image_id(1), image_id(0), image_id(2), image_id(9)])

    assert found == stored
    # Asked once each (BatchGetItem refuses a request naming a key twice); the unknown one has nothing.
    assert client.requests[0]["Keys"] == [{"image_id": image_id(n)} for n in (0, 1, 2, 9)]
