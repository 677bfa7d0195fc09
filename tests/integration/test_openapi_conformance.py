"""Every route's real responses, success and error, match the OpenAPI document the stack serves.

The document comes from `{api_url}/openapi.json` (built from the functions' own resolvers by infra.apidocs.openapi);
each case drives one request and checks its status, media type, body schema and required headers against it.
`test_the_cases_exercise_every_operation_of_the_document` keeps the case table complete as routes are added.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from openapi_spec_validator import validate

from tests.integration.contract import Contract
from tests.integration.helpers import (
    DOG_PHOTO,
    HTTP_TIMEOUT_S,
    RESULT_TIMEOUT_S,
    openapi_document,
    presign_upload,
    unique,
    wait_until,
)

pytestmark = pytest.mark.integration

UNKNOWN_ID = "0123456789abcdef0123456789abcdef"
OVER_10_MB = b"x" * (10 * 1024 * 1024 + 1)
JSON = {"Content-Type": "application/json"}
JPEG = {"Content-Type": "image/jpeg"}
VALID_UPLOAD = {"filename": "photo.jpg", "content_type": "image/jpeg", "size": 1000}
DECISION = {"decision": "allow", "object_version": "v1"}  # a moderator decision on the version they saw
PREDICT_TIMEOUT_S = 40  # /predict itself answers within API Gateway's 29 s
# POST /rekognition: Rekognition's JSON 1.1 protocol, as boto3's rekognition client sends it.
REKOGNITION = {
    "Content-Type": "application/x-amz-json-1.1",
    "X-Amz-Target": "RekognitionService.DetectModerationLabels",
}


@dataclass(frozen=True)
class Case:
    """One request. `path` may name {pending_id} (a fresh upload), {done_id} (a classified photo) or {unknown}."""

    method: str
    path: str
    statuses: tuple[int, ...]
    json: Any = None
    data: bytes | None = None
    files: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] | None = None
    staff: str | None = None  # the group of a signed-in member of staff who sends it
    keyed: bool = False  # sent with the machine clients' API key (X-Api-Key)


def detect(statuses: tuple[int, ...], photo: bytes, keyed: bool = True) -> Case:
    """A DetectModerationLabels request as boto3's rekognition client sends it."""
    body = json.dumps({"Image": {"Bytes": base64.b64encode(photo).decode()}}).encode()
    return Case("POST", "/rekognition", statuses, data=body, headers=REKOGNITION, keyed=keyed)


def photo_files() -> dict[str, Any]:
    return {"file": ("dog.jpeg", DOG_PHOTO.read_bytes(), "image/jpeg")}


CASES: dict[str, Case] = {
    # POST /uploads
    "upload": Case("POST", "/uploads", (201,), json=VALID_UPLOAD),
    "upload, malformed JSON": Case("POST", "/uploads", (400,), data=b'{"filename": ', headers=JSON),
    "upload, missing field": Case("POST", "/uploads", (400,), json={"filename": "a.jpg", "size": 1}),
    "upload, unsupported type": Case("POST", "/uploads", (400,), json={**VALID_UPLOAD, "content_type": "text/html"}),
    "upload, body over 10 MB": Case("POST", "/uploads", (413,), data=OVER_10_MB, headers=JSON),
    # GET /predictions/{image_id}
    "prediction, pending": Case("GET", "/predictions/{pending_id}", (200,)),
    "prediction, done": Case("GET", "/predictions/{done_id}", (200,)),
    "prediction, malformed id": Case("GET", "/predictions/NOT-AN-ID", (400,)),
    "prediction, unknown id": Case("GET", "/predictions/{unknown}", (404,)),
    # GET /predictions?key=
    "by key, classified": Case("GET", "/predictions", (200,), params={"key": "{drop_key}"}),
    "by key, no key": Case("GET", "/predictions", (400,)),
    "by key, unknown key": Case("GET", "/predictions", (404,), params={"key": "incoming/never-dropped.jpg"}),
    # POST /predictions/{image_id}/feedback
    "feedback": Case(
        "POST", "/predictions/{pending_id}/feedback", (201,), json={"correct_label": "=dog", "inappropriate": True}
    ),
    "feedback, wrong type": Case("POST", "/predictions/{pending_id}/feedback", (400,), json={"correct_label": 7}),
    "feedback, unknown id": Case("POST", "/predictions/{unknown}/feedback", (404,), json={"correct_label": "dog"}),
    # GET /feedback.csv (a signed-in analyst)
    "export": Case("GET", "/feedback.csv", (200,), params={"limit": "1"}, staff="analysts"),
    "export, bad limit": Case("GET", "/feedback.csv", (400,), params={"limit": "0"}, staff="analysts"),
    "export, forged cursor": Case("GET", "/feedback.csv", (400,), params={"cursor": "Zm9yZ2Vk"}, staff="analysts"),
    "export, no token": Case("GET", "/feedback.csv", (401,)),
    "export, a moderator": Case("GET", "/feedback.csv", (403,), staff="moderators"),
    # GET /reviews, POST /reviews/{image_id} (a signed-in moderator)
    "reviews": Case("GET", "/reviews", (200,), staff="moderators"),
    "reviews, bad limit": Case("GET", "/reviews", (400,), params={"limit": "abc"}, staff="moderators"),
    "reviews, no token": Case("GET", "/reviews", (401,)),
    "review, unknown id": Case("POST", "/reviews/{unknown}", (404,), json=DECISION, staff="moderators"),
    "review, not in review": Case("POST", "/reviews/{pending_id}", (409,), json=DECISION, staff="moderators"),
    "review, bad decision": Case(
        "POST", "/reviews/{unknown}", (400,), json={**DECISION, "decision": "maybe"}, staff="moderators"
    ),
    "review, wrong token": Case(
        "POST", "/reviews/{unknown}", (401,), json=DECISION, headers={"Authorization": "wrong"}
    ),
    "review, an analyst": Case("POST", "/reviews/{unknown}", (403,), json=DECISION, staff="analysts"),
    "history": Case("GET", "/reviews/{done_id}/history", (200,), staff="moderators"),
    "history, unknown id": Case("GET", "/reviews/{unknown}/history", (404,), staff="moderators"),
    "history, no token": Case("GET", "/reviews/{done_id}/history", (401,)),
    "undo, nothing decided": Case(
        "POST", "/reviews/{pending_id}/undo", (409,), json={"object_version": "v0"}, staff="moderators"
    ),
    "undo, unknown id": Case(
        "POST", "/reviews/{unknown}/undo", (404,), json={"object_version": "v1"}, staff="moderators"
    ),
    "undo, no version": Case("POST", "/reviews/{unknown}/undo", (400,), json={}, staff="moderators"),
    # GET, DELETE /bank/{image_id} (a signed-in moderator)
    "banked photo, never banked": Case("GET", "/bank/{unknown}", (404,), staff="moderators"),
    "banked photo, malformed id": Case("GET", "/bank/NOT-AN-ID", (400,), staff="moderators"),
    "banked photo, no token": Case("GET", "/bank/{unknown}", (401,)),
    "unbank, never banked": Case("DELETE", "/bank/{unknown}", (404,), staff="moderators"),
    "unbank, an analyst": Case("DELETE", "/bank/{unknown}", (403,), staff="analysts"),
    # POST /predict (the original service's contract), GET /predict
    "predict": Case("POST", "/predict", (200, 202), files=photo_files()),
    "predict, not an image": Case("POST", "/predict", (400, 415), data=b"not a photo", headers=JPEG),
    "predict, no file": Case("POST", "/predict", (400,), data=b"{}", headers=JSON),
    "predict, wrong method": Case("GET", "/predict", (405,)),
    # POST /rekognition (DetectModerationLabels)
    "rekognition": detect((200,), DOG_PHOTO.read_bytes()),
    "rekognition, not an image": detect((400,), b"not a photo"),
    "rekognition, no key": detect((403,), DOG_PHOTO.read_bytes(), keyed=False),
    # GET /images/{image_id}
    "image, pending": Case("GET", "/images/{pending_id}", (409,)),
    "image, classified": Case("GET", "/images/{done_id}", (302, 403)),
    "image, malformed id": Case("GET", "/images/NOT-AN-ID", (400,)),
    "image, unknown id": Case("GET", "/images/{unknown}", (404,)),
}  # fmt: skip


@pytest.fixture(scope="module")
def contract(local_stack) -> Contract:
    document = openapi_document(local_stack)
    validate(document)
    return Contract(document)


@pytest.fixture(scope="module")
def ids(local_stack) -> dict[str, str]:
    """A pending upload, a photo classified through the drop folder, and its key."""
    pending = presign_upload(local_stack, "conformance.jpg", "image/jpeg", 1000)["image_id"]
    drop_key = f"incoming/{unique('conformance')}.jpg"
    local_stack.client("s3").put_object(
        Bucket=local_stack.bucket, Key=drop_key, Body=DOG_PHOTO.read_bytes(), ContentType="image/jpeg"
    )
    replies: list[requests.Response] = []

    def classified() -> dict[str, Any] | None:
        replies[:] = [requests.get(f"{local_stack.api_url}/predictions", params={"key": drop_key}, timeout=15)]
        body = replies[0].json() if replies[0].status_code == 200 else {}
        return body if body.get("status") == "done" else None

    done = wait_until(classified, timeout_s=RESULT_TIMEOUT_S, what=f"{drop_key} to be classified")
    return {"pending_id": pending, "done_id": done["image_id"], "drop_key": drop_key, "unknown": UNKNOWN_ID}


def send(stack: Any, case: Case, ids: dict[str, str]) -> requests.Response:
    headers = {
        **case.headers,
        **(stack.staff(case.staff).headers if case.staff else {}),
        **({"X-Api-Key": stack.api_key} if case.keyed else {}),
    }
    params = {name: value.format(**ids) for name, value in case.params.items()} if case.params else None
    return requests.request(
        case.method,
        stack.api_url + case.path.format(**ids),
        json=case.json,
        data=case.data,
        files=case.files,
        headers=headers,
        params=params,
        allow_redirects=False,
        timeout=PREDICT_TIMEOUT_S,
    )


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_response_matches_the_document(local_stack, contract: Contract, ids: dict[str, str], case: Case):
    reply = send(local_stack, case, ids)

    assert reply.status_code in case.statuses, f"expected {case.statuses}, got {reply.status_code}: {reply.text[:300]}"
    contract.check(reply)


def test_every_cors_preflight_matches_the_document(local_stack, contract: Contract, ids: dict[str, str]):
    for path in contract.document["paths"]:
        url = local_stack.api_url + path.replace("{image_id}", UNKNOWN_ID)
        headers = {"Origin": local_stack.web_origin, "Access-Control-Request-Method": "POST"}
        reply = requests.options(url, headers=headers, timeout=HTTP_TIMEOUT_S)

        assert reply.status_code == 200, path
        contract.check(reply)


def test_the_cases_exercise_every_operation_of_the_document(contract: Contract):
    exercised: set[tuple[str, str]] = set()
    for case in CASES.values():
        template = contract.path_template(
            case.path.format(pending_id=UNKNOWN_ID, done_id=UNKNOWN_ID, unknown=UNKNOWN_ID)
        )
        assert template is not None, case
        exercised.add((case.method.lower(), template))
    missing = {
        (method, path) for method, path in contract.operations() if method != "options"
    } - exercised  # preflights: the test above

    assert not missing, f"operations with no case in CASES: {sorted(missing)}"


def test_the_document_describes_only_routes_the_stack_serves(local_stack, contract: Contract):
    """A documented path the gateway does not route would answer 403 Missing Authentication Token."""
    for method, path in contract.operations():
        if method == "options":
            continue
        reply = requests.request(
            method, local_stack.api_url + path.replace("{image_id}", UNKNOWN_ID), timeout=PREDICT_TIMEOUT_S
        )
        assert reply.json() != {"message": "Missing Authentication Token"}, (method, path)
