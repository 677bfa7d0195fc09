"""GET /feedback.csv under moto: the feedback function scans its table a page at a time and answers CSV."""

import csv
import io
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from feedback.export import COLUMNS
from tests.component.mocked import header, response_json

FEEDBACK_COUNT = 5


@pytest.fixture
def feedback_app(stack):
    with stack.handler_module("FeedbackFunction") as module:
        yield module


@pytest.fixture
def call(stack, feedback_app):
    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        return feedback_app.lambda_handler(event, stack.context("FeedbackFunction"))

    return invoke


@pytest.fixture
def stored_feedback(stack) -> list[dict[str, Any]]:
    table = stack.table("FeedbackTable")
    items = [
        {
            "image_id": f"{number:032x}",
            "feedback_id": f"2026-11-26T09:30:0{number}.000Z#{number:032x}",
            "s3_key": f"uploads/{number:032x}.jpg",
            "prediction": "clog",
            "verdict": "allow",
            "correct_label": "=1+1" if number == 0 else "running shoe",
            "comment": 'says "hi",\nthen leaves',
            "inappropriate": number % 2 == 0,
            "created_at": f"2026-11-26T09:30:0{number}.000Z",
        }
        for number in range(FEEDBACK_COUNT)
    ]
    for item in items:
        table.put_item(Item=item)
    return items


def export_event(load_event, **query: str) -> dict[str, Any]:
    event = load_event("export_feedback_csv")
    event["queryStringParameters"] = query or None
    event["multiValueQueryStringParameters"] = {name: [value] for name, value in query.items()} or None
    return event


def rows(response: dict[str, Any]) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response["body"], newline="")))


@pytest.mark.usefixtures("stored_feedback")
def test_the_export_is_csv_with_a_header_row_and_the_next_page_linked(call, load_event):
    response = call(export_event(load_event, limit="2"))

    assert response["statusCode"] == 200
    assert header(response, "Content-Type") == "text/csv; charset=utf-8"
    assert header(response, "Cache-Control") == "no-store"
    assert rows(response)[0] == list(COLUMNS)
    assert len(rows(response)) == 3
    cursor = header(response, "X-Next-Cursor")
    assert cursor
    link = header(response, "Link")
    assert link.startswith("<https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/v1/feedback.csv?")
    assert link.endswith('>; rel="next"')
    assert parse_qs(urlsplit(link[1 : link.index(">")]).query) == {"limit": ["2"], "cursor": [cursor]}


def test_following_the_cursor_exports_every_item_once(call, load_event, stored_feedback):
    exported: list[list[str]] = []
    query = {"limit": "2"}
    for _ in range(10):
        response = call(export_event(load_event, **query))
        assert response["statusCode"] == 200, response["body"]
        exported += rows(response)[1:]
        cursor = header(response, "X-Next-Cursor")
        if not cursor:
            break
        query["cursor"] = cursor

    assert sorted(row[0] for row in exported) == sorted(item["image_id"] for item in stored_feedback)
    first = next(row for row in exported if row[0] == stored_feedback[0]["image_id"])
    values = dict(zip(COLUMNS, first, strict=True))
    assert values["correct_label"] == "'=1+1"
    assert values["comment"] == 'says "hi",\nthen leaves'
    assert values["inappropriate"] == "true"


def test_an_empty_table_gives_the_header_only(call, load_event):
    response = call(export_event(load_event))

    assert response["statusCode"] == 200
    assert rows(response) == [list(COLUMNS)]
    assert header(response, "X-Next-Cursor") is None and header(response, "Link") is None


@pytest.mark.parametrize(
    "query, code",
    [
        ({"limit": "0"}, "invalid_request"),
        ({"limit": "1001"}, "invalid_request"),
        ({"limit": "ten"}, "invalid_request"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "invalid_cursor"),
        ({"cursor": "x" * 600}, "invalid_request"),
    ],
    ids=["limit 0", "limit over the maximum", "limit not a number", "forged cursor", "overlong cursor"],
)
def test_bad_paging_parameters_are_400(call, load_event, query: dict[str, str], code: str):
    response = call(export_event(load_event, **query))

    assert response["statusCode"] == 400
    assert response_json(response)["error"]["code"] == code


@pytest.mark.parametrize(
    ("claims", "status"),
    [(None, 401), ({"sub": "b1f2c3d4", "cognito:username": "mod-alice", "cognito:groups": "moderators"}, 403)],
)
def test_only_an_analyst_may_export(call, load_event, claims, status):
    event = export_event(load_event)
    event["requestContext"]["authorizer"] = {"claims": claims} if claims else None

    response = call(event)

    assert response["statusCode"] == status
    assert "error" in json.loads(response["body"])
