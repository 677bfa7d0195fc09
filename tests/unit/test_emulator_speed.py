"""The emulator's two speed patches (infra/local/emulator.py) answer exactly what moto answers without them."""

import json
import os

import pytest
from moto.core import serialize
from moto.core.serialize import XFormedAttributePicker
from moto.core.utils import get_service_model
from moto.dynamodb.responses import DynamoHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from infra.local import emulator

# Every kind of attribute value, nested, with the edge cases the generic rules treat apart (empty string,
# empty set members, bytes and text blobs, NULL and BOOL).
PREDICTION_ROW = {
    "image_id": {"S": "0f1e2d3c"},
    "status": {"S": "final"},
    "empty": {"S": ""},
    "score": {"N": "0.734"},
    "thumbnail": {"B": b"\x89PNG\r\n\x00\xff"},
    "text_blob": {"B": "already text"},
    "tags": {"SS": ["dog", "outdoor"]},
    "sizes": {"NS": ["640", "1280"]},
    "hashes": {"BS": [b"\x00\x01", b"\xfe"]},
    "reviewed": {"BOOL": False},
    "reviewer": {"NULL": True},
    "labels": {
        "L": [
            {"M": {"label": {"S": "golden_retriever"}, "score": {"N": "0.91"}, "flags": {"L": []}}},
            {"M": {"label": {"S": "tennis_ball"}, "score": {"N": "0.03"}, "extra": {"M": {}}}},
        ]
    },
    "renditions": {"M": {"webp": {"M": {"key": {"S": "r/0f1e.webp"}, "w": {"N": "640"}}}}},
}


def _body(serializer_class: type, operation: str, result: dict) -> dict:
    operation_model = get_service_model("dynamodb").operation_model(operation)
    serializer = serializer_class(
        operation_model=operation_model, pretty_print=False, value_picker=XFormedAttributePicker()
    )
    return json.loads(serializer.serialize(result)["body"])


@pytest.mark.parametrize(
    ("operation", "result"),
    [
        ("GetItem", {"Item": PREDICTION_ROW, "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 0.5}}),
        ("Query", {"Items": [PREDICTION_ROW, {"image_id": {"S": "x"}}], "Count": 2, "ScannedCount": 2}),
        ("BatchGetItem", {"Responses": {"t": [PREDICTION_ROW]}, "UnprocessedKeys": {}}),
        ("UpdateItem", {"Attributes": {"status": {"S": "pending"}, "attempts": {"N": "2"}}}),
    ],
)
def test_dynamodb_answers_are_the_same_as_the_generic_serializer(operation, result):
    assert _body(emulator.DynamoDBSerializer, operation, result) == _body(serialize.JSONSerializer, operation, result)


def test_a_value_not_in_wire_form_takes_the_generic_path():
    odd = {"Item": {"a": {"s": "lower-case kind"}, "b": {"L": [None]}}}

    assert _body(emulator.DynamoDBSerializer, "GetItem", odd) == _body(serialize.JSONSerializer, "GetItem", odd)


def test_moto_serves_dynamodb_with_the_fast_serializer():
    assert serialize.get_serializer_class("dynamodb", "json") is emulator.DynamoDBSerializer
    # The fast path skips moto's per-key response transformers: DynamoDB must have none.
    assert not getattr(DynamoHandler, "RESPONSE_KEY_PATH_TO_TRANSFORMER", None)


def test_requests_find_their_service_without_listing_the_moto_package(monkeypatch):
    """moto listed its package folder on every request, under the dispatcher's single lock."""
    dispatcher = DomainDispatcherApplication(lambda _service: None)

    def listdir(_path):
        raise AssertionError("the moto package folder was listed for a request")

    monkeypatch.setattr(os, "listdir", listdir)

    assert dispatcher.get_backend_for_host("dynamodb.us-east-1.amazonaws.com") == "dynamodb"
    assert dispatcher.get_backend_for_host("s3") == "s3"


def test_a_query_on_the_tables_key_reads_only_its_partition_and_answers_as_moto_does(monkeypatch):
    import boto3
    from moto import mock_aws

    read_whole_table: list[object] = []
    whole_table = emulator._table_all_items
    monkeypatch.setattr(
        emulator, "_table_all_items", lambda table: read_whole_table.append(table) or whole_table(table)
    )
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="index",
            KeySchema=[{"AttributeName": "chunk", "KeyType": "HASH"}, {"AttributeName": "id", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "chunk", "AttributeType": "S"},
                {"AttributeName": "id", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for chunk in ("a", "b", "c"):
            for number in range(5):
                client.put_item(TableName="index", Item={"chunk": {"S": chunk}, "id": {"S": f"{chunk}{number}"}})

        def page(**more):
            return client.query(
                TableName="index",
                KeyConditionExpression="chunk = :c AND id > :after",
                ExpressionAttributeValues={":c": {"S": "b"}, ":after": {"S": "b0"}},
                ScanIndexForward=False,
                Limit=3,
                **more,
            )

        first = page()
        second = page(ExclusiveStartKey=first["LastEvaluatedKey"])
        missing = client.query(
            TableName="index",
            KeyConditionExpression="chunk = :c",
            ExpressionAttributeValues={":c": {"S": "z"}},
        )
        read_by_queries = list(read_whole_table)
        scan = client.scan(TableName="index")

    assert [item["id"]["S"] for item in first["Items"]] == ["b4", "b3", "b2"]
    assert [item["id"]["S"] for item in second["Items"]] == ["b1"] and "LastEvaluatedKey" not in second
    assert missing["Items"] == [] and missing["Count"] == 0
    assert read_by_queries == [] and scan["Count"] == 15  # the queries read one partition; a scan still all


def test_no_read_sees_half_of_an_update(monkeypatch):
    """DynamoDB's item writes are atomic: a reader sees an UpdateItem whole or not at all (moto alone does not)."""
    import threading

    import boto3
    from moto import mock_aws

    names = [f"a{number}" for number in range(150)]
    update = "SET " + ", ".join(f"{name} = :v" for name in names)
    torn: list[set] = []
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.put_item(TableName="t", Item={"id": {"S": "x"}, **{name: {"N": "0"} for name in names}})
        done = threading.Event()

        def write() -> None:
            for value in range(1, 13):
                client.update_item(
                    TableName="t",
                    Key={"id": {"S": "x"}},
                    UpdateExpression=update,
                    ExpressionAttributeValues={":v": {"N": str(value)}},
                )
            done.set()

        def read() -> None:
            while not done.is_set():
                item = client.get_item(TableName="t", Key={"id": {"S": "x"}})["Item"]
                values = {item[name]["N"] for name in names}
                if len(values) > 1:
                    torn.append(values)

        threads = [threading.Thread(target=write), *(threading.Thread(target=read) for _ in range(2))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert torn == []
