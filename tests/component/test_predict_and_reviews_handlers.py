"""POST /predict, the display gate and the review queue under moto: handlers, the sparse index, the writes."""

import base64
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from urllib3 import encode_multipart_formdata

from photomod_shared import ids
from photomod_shared.prediction import EventStamp, Prediction
from photomod_shared.prediction_table import REVIEW_QUEUE_ATTRIBUTE, from_dynamo
from photomod_shared.tables import PredictionTable
from tests.component.mocked import header, response_json

# A verified moderator's and analyst's claims, as the Cognito authorizer hands them over (see events/).
MODERATOR = {
    "sub": "b1f2c3d4-0a1b-4c2d-8e3f-5a6b7c8d9e0f",
    "cognito:username": "mod-alice",
    "cognito:groups": "moderators",
}
ANALYST = {
    "sub": "c2a3b4c5-1b2c-4d3e-9f4a-6b7c8d9e0f1a",
    "cognito:username": "analyst-bo",
    "cognito:groups": "analysts",
}
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(256)


def api_event(
    load_event,
    method: str,
    resource: str,
    path: str,
    *,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    body: bytes | str | None = None,
    content_type: str | None = None,
    binary: bool = False,
    api_key: str | None = None,
    claims: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway proxy event for another route, built from events/get_prediction.json."""
    event = load_event("get_prediction")
    event.update(resource=resource, path=path, httpMethod=method, pathParameters=path_parameters)
    event["requestContext"].update(resourcePath=resource, httpMethod=method, path=f"/v1{path}")
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {name: [value] for name, value in query.items()} if query else None
    headers = {"Content-Type": content_type} if content_type else {}
    if api_key:
        headers["x-api-key"] = api_key
        event["requestContext"]["identity"]["apiKey"] = api_key
    if claims:  # what API Gateway's Cognito authorizer passes on from a verified token
        event["requestContext"]["authorizer"] = {"claims": claims}
    event["headers"].update(headers)
    event["multiValueHeaders"].update({name: [value] for name, value in headers.items()})
    if isinstance(body, bytes):
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    else:
        event["body"], event["isBase64Encoded"] = body, binary
    return event


@pytest.fixture
def predict(stack):
    # No classifier runs under moto: /predict answers 202 at once instead of waiting for it.
    stack.specs["PredictFunction"].environment["PREDICT_WAIT_SECONDS"] = "0"
    with stack.handler_module("PredictFunction") as module:
        yield lambda event: module.lambda_handler(event, stack.context("PredictFunction"))


@pytest.fixture
def upload(stack):
    with stack.handler_module("UploadFunction") as module:
        yield lambda event: module.lambda_handler(event, stack.context("UploadFunction"))


@pytest.fixture
def reviews(stack):
    with stack.handler_module("ReviewsFunction") as module:
        yield lambda event: module.lambda_handler(event, stack.context("ReviewsFunction"))


@pytest.fixture
def table(stack) -> PredictionTable:
    return PredictionTable(stack.table("PredictionsTable"))


def classified(
    table: PredictionTable, image_id: str, verdict: str, minute: int = 0, sequencer: str = "01", version: str = "v1"
) -> None:
    """What the classifier records for a photo (see classify.service._write)."""
    outcome = Prediction(
        image_id,
        "done",
        prediction="beer_bottle",
        score=0.41,
        verdict=verdict,
        s3_key=f"uploads/{image_id}.jpg",
        classified_at=f"2026-11-26T09:{minute:02d}:00.000Z",
    )
    assert table.record_outcome(outcome, EventStamp(sequencer, "", version), "2026-11-26T09:00:00.000Z")


def queued(table: PredictionTable) -> list[str]:
    items, _ = table.review_queue_page(100)
    return [item.image_id for item in items]


def stored(stack, image_id: str) -> dict[str, Any]:
    """The item as stored (the review-queue attribute included)."""
    return from_dynamo(stack.table("PredictionsTable").get_item(Key={"image_id": image_id})["Item"])


# --- the sparse review_queue index -----------------------------------------------------------------


def test_only_a_review_verdict_puts_a_photo_in_the_queue_newest_first(table):
    older, newer, allowed, blocked = (ids.new_image_id() for _ in range(4))
    classified(table, older, "review", minute=1)
    classified(table, newer, "review", minute=2)
    classified(table, allowed, "allow", minute=3)
    classified(table, blocked, "block", minute=4)

    assert queued(table) == [newer, older]


def test_a_newer_photo_under_the_same_key_leaves_the_queue_and_drops_an_earlier_decision(stack, table):
    image_id = ids.new_image_id()
    classified(table, image_id, "review", sequencer="01")
    assert table.settle_review(image_id, "block", "", "2026-11-26T09:30:00.000Z", "v1")
    classified(table, image_id, "review", sequencer="02", version="v2")
    assert queued(table) == [image_id]

    classified(table, image_id, "allow", sequencer="03", version="v3")

    item = stored(stack, image_id)
    assert queued(table) == [] and REVIEW_QUEUE_ATTRIBUTE not in item
    assert "model_verdict" not in item and "moderation" not in item


def test_settling_leaves_the_queue_once(stack, table):
    image_id = ids.new_image_id()
    classified(table, image_id, "review")

    assert table.settle_review(image_id, "allow", "fine", "2026-11-26T09:30:00.000Z", "v1")
    assert not table.settle_review(image_id, "block", "too late", "2026-11-26T09:31:00.000Z", "v1")
    assert not table.settle_review(ids.new_image_id(), "allow", "", "2026-11-26T09:31:00.000Z", "v1")

    item = stored(stack, image_id)
    assert (item["verdict"], item["model_verdict"]) == ("allow", "review")
    assert item["moderation"] == {"decision": "allow", "note": "fine", "decided_at": "2026-11-26T09:30:00.000Z"}
    assert queued(table) == []


# --- the reviews handler ---------------------------------------------------------------------------


def test_the_queue_pages_through_the_handler(stack, reviews, table, load_event):
    photos = [ids.new_image_id() for _ in range(3)]
    for minute, image_id in enumerate(photos):
        classified(table, image_id, "review", minute=minute)
    seen, cursor = [], None

    for _ in range(3):
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        response = reviews(api_event(load_event, "GET", "/reviews", "/reviews", query=query, claims=MODERATOR))
        assert response["statusCode"] == 200, response
        page = response_json(response)
        seen += [item["image_id"] for item in page["items"]]
        assert all(item["image_url"].startswith("https://") for item in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break

    assert seen == photos[::-1]


@pytest.mark.parametrize("limit", ["0", "101", "many"])
def test_a_page_size_outside_1_to_100_is_400(reviews, load_event, limit):
    response = reviews(api_event(load_event, "GET", "/reviews", "/reviews", query={"limit": limit}))

    assert response["statusCode"] == 400
    assert response_json(response)["error"]["code"] == "invalid_request"


def test_settling_through_the_handler(stack, reviews, table, load_event):
    image_id = ids.new_image_id()
    classified(table, image_id, "review")

    def settle(target: str, body: Any) -> dict[str, Any]:
        return reviews(
            api_event(
                load_event,
                "POST",
                "/reviews/{image_id}",
                f"/reviews/{target}",
                path_parameters={"image_id": target},
                body=json.dumps(body),
                content_type="application/json",
                claims=MODERATOR,
            )
        )

    stale = settle(image_id, {"decision": "allow", "object_version": "v0"})
    first = settle(image_id, {"decision": "block", "note": "a weapon", "object_version": "v1"})
    again = settle(image_id, {"decision": "allow", "object_version": "v1"})
    unknown = settle(ids.new_image_id(), {"decision": "allow", "object_version": "v1"})
    invalid = settle(image_id, {"decision": "maybe", "object_version": "v1"})
    unversioned = settle(image_id, {"decision": "allow"})

    assert (stale["statusCode"], response_json(stale)["error"]["code"]) == (409, "version_changed")
    assert first["statusCode"] == 200, first
    assert response_json(first)["verdict"] == "block" and response_json(first)["model_verdict"] == "review"
    assert (again["statusCode"], response_json(again)["error"]["code"]) == (409, "not_in_review")
    assert (unknown["statusCode"], response_json(unknown)["error"]["code"]) == (404, "image_not_found")
    assert invalid["statusCode"] == 400 and unversioned["statusCode"] == 400
    assert stored(stack, image_id)["verdict"] == "block"


# --- POST /predict and the display gate ------------------------------------------------------------


def test_a_multipart_photo_is_stored_recorded_and_answered_202_when_not_classified_in_time(stack, predict, load_event):
    body, content_type = encode_multipart_formdata({"file": ("dog.jpg", JPEG, "image/jpeg")})

    response = predict(api_event(load_event, "POST", "/predict", "/predict", body=body, content_type=content_type))

    assert response["statusCode"] == 202, response
    assert response_json(response) == {"success": False, "prediction": None, "score": None}
    image_id = header(response, "X-Image-Id")
    assert header(response, "Location") == (
        f"https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/v1/predictions/{image_id}"
    )
    assert "X-Image-Id" in header(response, "Access-Control-Expose-Headers")
    stored = stack.client("s3").get_object(Bucket=stack.bucket, Key=f"uploads/{image_id}.jpg")
    assert stored["Body"].read() == JPEG and stored["ContentType"] == "image/jpeg"
    assert stack.table("PredictionsTable").get_item(Key={"image_id": image_id})["Item"]["status"] == "pending"


def test_a_raw_image_body_is_accepted_too(predict, load_event):
    response = predict(api_event(load_event, "POST", "/predict", "/predict", body=JPEG, content_type="image/jpeg"))

    assert response["statusCode"] == 202, response


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (*encode_multipart_formdata({"other": "x"}), 400, "missing_file"),
        (b"hello\n", "image/png", 400, "unsupported_media_type"),
        ('{"file": "dog.jpg"}', "application/json", 400, "missing_file"),
    ],
    ids=["no-file", "text-as-image", "json"],
)
def test_predict_refusals_keep_the_original_body_and_say_why_in_a_header(
    predict, load_event, body, content_type, status, code
):
    response = predict(api_event(load_event, "POST", "/predict", "/predict", body=body, content_type=content_type))

    assert response["statusCode"] == status, response
    assert response_json(response) == {"success": False, "prediction": None, "score": None}
    assert header(response, "X-Error-Code") == code


def test_get_predict_is_405_with_allow_post(predict, load_event):
    response = predict(api_event(load_event, "GET", "/predict", "/predict"))

    assert response["statusCode"] == 405
    assert header(response, "Allow") == "POST"
    assert response_json(response) == {"success": False, "prediction": None, "score": None}


@pytest.mark.parametrize(
    ("verdict", "status", "code"), [("block", 403, "image_blocked"), ("review", 403, "image_in_review")]
)
def test_the_display_gate_refuses_photos_not_allowed(upload, table, load_event, verdict, status, code):
    image_id = ids.new_image_id()
    classified(table, image_id, verdict)

    response = upload(
        api_event(
            load_event, "GET", "/images/{image_id}", f"/images/{image_id}", path_parameters={"image_id": image_id}
        )
    )

    assert (response["statusCode"], response_json(response)["error"]["code"]) == (status, code)


def test_the_display_gate_redirects_an_allowed_photo_to_a_one_minute_url_of_its_rendition(
    stack, upload, table, load_event
):
    image_id = ids.new_image_id()
    s3 = stack.client("s3")
    judged = s3.put_object(Bucket=stack.bucket, Key=f"uploads/{image_id}.jpg", Body=JPEG)["VersionId"]
    s3.put_object(Bucket=stack.bucket, Key=ids.rendition_key(image_id, judged), Body=b"judged rendition")
    classified(table, image_id, "allow", version=judged)
    # The presigned POST replayed with other bytes: a newer version that nobody has judged yet.
    s3.put_object(Bucket=stack.bucket, Key=f"uploads/{image_id}.jpg", Body=b"unjudged bytes")

    response = upload(
        api_event(
            load_event, "GET", "/images/{image_id}", f"/images/{image_id}", path_parameters={"image_id": image_id}
        )
    )

    assert response["statusCode"] == 302, response
    location = header(response, "Location")
    # the judged version's rendition, never the upload (nor its newer, unjudged version)
    assert f"/renditions/{image_id}/{judged}.jpg?" in location and "X-Amz-Expires=60" in location
    assert "/uploads/" not in location
    assert urlsplit(location).path.endswith(ids.rendition_key(image_id, judged))
    assert header(response, "Cache-Control") == "no-store"


@pytest.mark.parametrize(
    ("claims", "status", "code"),
    [
        (None, 401, "not_signed_in"),
        (ANALYST, 403, "not_in_group"),
        ({**MODERATOR, "cognito:groups": ""}, 403, "not_in_group"),
    ],
)
def test_only_a_moderator_may_read_the_queue_or_decide(stack, reviews, table, load_event, claims, status, code):
    image_id = ids.new_image_id()
    classified(table, image_id, "review")
    body = json.dumps({"decision": "allow", "object_version": "v1"})

    listed = reviews(api_event(load_event, "GET", "/reviews", "/reviews", claims=claims))
    decided = reviews(
        api_event(
            load_event,
            "POST",
            "/reviews/{image_id}",
            f"/reviews/{image_id}",
            path_parameters={"image_id": image_id},
            body=body,
            content_type="application/json",
            claims=claims,
        )
    )

    assert (listed["statusCode"], response_json(listed)["error"]["code"]) == (status, code)
    assert (decided["statusCode"], response_json(decided)["error"]["code"]) == (status, code)
    assert stored(stack, image_id)["verdict"] == "review"  # an analyst's decision changed nothing


def test_a_moderator_who_is_also_an_analyst_may_decide(stack, reviews, table, load_event):
    image_id = ids.new_image_id()
    classified(table, image_id, "review")
    both = {**MODERATOR, "cognito:groups": "analysts,moderators"}

    decided = reviews(
        api_event(
            load_event,
            "POST",
            "/reviews/{image_id}",
            f"/reviews/{image_id}",
            path_parameters={"image_id": image_id},
            body=json.dumps({"decision": "block", "object_version": "v1"}),
            content_type="application/json",
            claims=both,
        )
    )

    assert decided["statusCode"] == 200, decided


def test_a_decision_stores_who_made_it_and_the_history_route_shows_it(stack, reviews, table, load_event):
    image_id = ids.new_image_id()
    classified(table, image_id, "review")

    decided = reviews(
        api_event(
            load_event,
            "POST",
            "/reviews/{image_id}",
            f"/reviews/{image_id}",
            path_parameters={"image_id": image_id},
            body=json.dumps({"decision": "block", "note": "a weapon", "object_version": "v1"}),
            content_type="application/json",
            claims=MODERATOR,
        )
    )
    history = reviews(
        api_event(
            load_event,
            "GET",
            "/reviews/{image_id}/history",
            f"/reviews/{image_id}/history",
            path_parameters={"image_id": image_id},
            claims=MODERATOR,
        )
    )
    refused = reviews(
        api_event(
            load_event,
            "GET",
            "/reviews/{image_id}/history",
            f"/reviews/{image_id}/history",
            path_parameters={"image_id": image_id},
            claims=ANALYST,
        )
    )

    who = {"sub": MODERATOR["sub"], "username": "mod-alice"}
    assert decided["statusCode"] == 200, decided
    assert stored(stack, image_id)["moderation"]["decided_by"] == who
    assert history["statusCode"] == 200, history
    (entry,) = response_json(history)["history"]
    assert (entry["action"], entry["by"], entry["note"], entry["object_version"]) == ("block", who, "a weapon", "v1")
    assert refused["statusCode"] == 403


def test_a_moderator_undoes_a_decision_and_the_photo_is_hidden_and_queued_again_with_the_undo_audited(
    stack, reviews, table, load_event
):
    image_id = ids.new_image_id()
    classified(table, image_id, "review")

    def post(path: str, body: dict[str, Any], claims: dict[str, str]) -> dict[str, Any]:
        resource = "/reviews/{image_id}" + path
        return reviews(
            api_event(
                load_event,
                "POST",
                resource,
                f"/reviews/{image_id}{path}",
                path_parameters={"image_id": image_id},
                body=json.dumps(body),
                content_type="application/json",
                claims=claims,
            )
        )

    # A block (an allow would publish a rendition, which this test's photo has none of)
    allowed = post("", {"decision": "block", "object_version": "v1"}, MODERATOR)
    by_analyst = post("/undo", {"object_version": "v1"}, ANALYST)
    undone = post("/undo", {"object_version": "v1"}, MODERATOR)
    again = post("/undo", {"object_version": "v1"}, MODERATOR)

    assert allowed["statusCode"] == 200 and by_analyst["statusCode"] == 403
    assert undone["statusCode"] == 200, undone
    assert (again["statusCode"], response_json(again)["error"]["code"]) == (409, "not_decided")
    item = stored(stack, image_id)
    assert item["verdict"] == "review" and item[REVIEW_QUEUE_ATTRIBUTE] == "review" and "moderation" not in item
    assert [entry["action"] for entry in item["review_history"]] == ["block", "undo"]
    assert item["review_history"][1]["by"]["username"] == "mod-alice"
