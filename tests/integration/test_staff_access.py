"""Who may call the staff routes, judged from outside as an attacker would try them.

The review routes need a signed-in member of `moderators`, the CSV export one of `analysts`: API Gateway's
Cognito authorizer refuses a missing, forged, expired or foreign token (401, its own body) before any function
runs; the function refuses a member of another group (403). An API key opens none of them.
"""

import base64
import csv
import io
import json
import time
import uuid
from typing import Any

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.integration.conftest import sign_in
from tests.integration.helpers import HTTP_TIMEOUT_S, assert_gateway_error

pytestmark = pytest.mark.integration

SETTLE_BODY = {"decision": "allow", "object_version": "v1"}
REVIEW_ROUTES = [("GET", "/reviews"), ("POST", f"/reviews/{'0' * 32}")]
EXPORT_ROUTES = [("GET", "/feedback.csv")]
STAFF_ROUTES = REVIEW_ROUTES + EXPORT_ROUTES


def call(stack, method: str, path: str, headers: dict[str, str]) -> requests.Response:
    return requests.request(
        method,
        f"{stack.api_url}{path}",
        json=SETTLE_BODY if method == "POST" else None,
        headers=headers,
        timeout=HTTP_TIMEOUT_S,
    )


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _header(token: str) -> dict[str, Any]:
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))


@pytest.mark.parametrize(("method", "path"), STAFF_ROUTES)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": ""}, {"Authorization": "Bearer"}, {"Authorization": "not.a.token"}],
    ids=["none", "empty", "bearer-only", "garbage"],
)
def test_staff_routes_are_401_without_a_valid_token(local_stack, method, path, headers):
    assert_gateway_error(call(local_stack, method, path, headers), 401, "Unauthorized")


@pytest.mark.parametrize(("method", "path"), STAFF_ROUTES)
def test_the_machine_api_key_opens_no_staff_route(local_stack, method, path):
    reply = call(local_stack, method, path, {"X-Api-Key": local_stack.api_key})

    assert_gateway_error(reply, 401, "Unauthorized")


@pytest.mark.parametrize(("method", "path"), REVIEW_ROUTES)
@pytest.mark.parametrize("groups", [("analysts",), ()], ids=["analyst", "no-group"])
def test_review_routes_are_403_to_anyone_not_a_moderator(local_stack, method, path, groups):
    reply = call(local_stack, method, path, local_stack.staff(*groups).headers)

    assert reply.status_code == 403, reply.text
    assert reply.json()["error"]["code"] == "not_in_group"


@pytest.mark.parametrize("groups", [("moderators",), ()], ids=["moderator", "no-group"])
def test_the_export_is_403_to_anyone_not_an_analyst(local_stack, groups):
    reply = call(local_stack, "GET", "/feedback.csv", local_stack.staff(*groups).headers)

    assert reply.status_code == 403, reply.text
    assert reply.json()["error"]["code"] == "not_in_group"


def test_each_group_reaches_its_own_routes(local_stack):
    queue = call(local_stack, "GET", "/reviews?limit=1", local_stack.staff("moderators").headers)
    export = call(local_stack, "GET", "/feedback.csv?limit=1", local_stack.staff("analysts").headers)
    both = local_stack.staff("analysts", "moderators").headers

    assert queue.status_code == 200, queue.text
    assert export.status_code == 200 and export.headers["Content-Type"].startswith("text/csv")
    assert call(local_stack, "GET", "/reviews?limit=1", both).status_code == 200
    assert call(local_stack, "GET", "/feedback.csv?limit=1", both).status_code == 200


def test_a_token_signed_by_another_key_is_refused(local_stack):
    genuine = local_stack.staff("analysts").id_token
    forger = RSAKey.generate_key(2048, parameters={"kid": _header(genuine).get("kid", "")})
    claims = {**_claims(genuine), "cognito:groups": ["moderators", "analysts"]}

    forged = jwt.encode({"alg": "RS256", "kid": forger.kid}, claims, forger)

    for method, path in STAFF_ROUTES:
        assert_gateway_error(call(local_stack, method, path, {"Authorization": forged}), 401, "Unauthorized")


def test_an_analysts_token_edited_to_say_moderators_is_refused(local_stack):
    header, payload, signature = local_stack.staff("analysts").id_token.split(".")
    claims = {**_claims(f"{header}.{payload}.x"), "cognito:groups": ["moderators"]}
    edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")

    reply = call(local_stack, "GET", "/reviews", {"Authorization": f"{header}.{edited}.{signature}"})

    assert_gateway_error(reply, 401, "Unauthorized")


def test_an_access_token_is_refused_where_no_scopes_are_configured(local_stack):
    moderator = local_stack.staff("moderators")
    access = local_stack.cognito.initiate_auth(
        ClientId=local_stack.output("StaffUserPoolClientId"),
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": moderator.username, "PASSWORD": moderator.password},
    )["AuthenticationResult"]["AccessToken"]

    assert_gateway_error(call(local_stack, "GET", "/reviews", {"Authorization": access}), 401, "Unauthorized")


@pytest.mark.local_only("creates a throwaway user pool in the emulator's Cognito")
def test_a_moderator_of_another_user_pool_is_refused(local_stack):
    cognito = local_stack.cognito
    pool = cognito.create_user_pool(PoolName=f"elsewhere-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool, ClientName="elsewhere", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    cognito.create_group(UserPoolId=pool, GroupName="moderators")
    cognito.admin_create_user(UserPoolId=pool, Username="intruder", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool, Username="intruder", Password="Elsewhere-12345!aB", Permanent=True)
    cognito.admin_add_user_to_group(UserPoolId=pool, Username="intruder", GroupName="moderators")
    token = cognito.initiate_auth(
        ClientId=client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "intruder", "PASSWORD": "Elsewhere-12345!aB"},
    )["AuthenticationResult"]["IdToken"]

    assert_gateway_error(call(local_stack, "GET", "/reviews", {"Authorization": token}), 401, "Unauthorized")


@pytest.mark.local_only("signs a token with moto's published private key, which only the emulator trusts")
def test_an_expired_moderators_token_is_refused_with_api_gateways_message(local_stack):
    genuine = local_stack.staff("moderators").id_token
    from moto.utilities.utils import load_resource  # the emulator's own signing key, as moto loads it

    moto_key = RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
    claims = {**_claims(genuine), "iat": int(time.time()) - 7200, "exp": int(time.time()) - 60}
    expired = jwt.encode({"alg": "RS256", "kid": _header(genuine)["kid"]}, claims, moto_key)
    still_valid = jwt.encode({"alg": "RS256", "kid": _header(genuine)["kid"]}, _claims(genuine), moto_key)

    reply = call(local_stack, "GET", "/reviews", {"Authorization": expired})

    assert_gateway_error(reply, 401, "The incoming token has expired")
    # The same key and claims, unexpired, pass: what was refused is the expiry alone.
    assert call(local_stack, "GET", "/reviews?limit=1", {"Authorization": still_valid}).status_code == 200


def test_a_wrong_password_is_refused_by_cognito(local_stack):
    moderator = local_stack.staff("moderators")

    with pytest.raises(local_stack.cognito.exceptions.NotAuthorizedException):
        sign_in(local_stack, moderator.username, moderator.password + "x")


def test_a_moderators_decision_carries_their_identity_in_the_api_and_the_analysts_export(local_stack):
    from tools.export import download

    # Given a shown photo a shopper reported, which went to review
    image_id = uuid.uuid4().hex
    local_stack.table("PredictionsTable").put_item(
        Item={
            "image_id": image_id,
            "status": "done",
            "s3_key": f"uploads/{image_id}.jpg",
            "source": "upload",
            "prediction": "cleaver",
            "verdict": "allow",
            "classified_at": "2026-11-26T09:00:00.000Z",
            "object_version": "v1",
        }
    )
    report = requests.post(
        f"{local_stack.api_url}/predictions/{image_id}/feedback", json={"inappropriate": True}, timeout=15
    )
    assert report.json()["sent_to_review"] is True
    moderator = local_stack.staff("moderators")

    # When the moderator blocks it
    decided = requests.post(
        f"{local_stack.api_url}/reviews/{image_id}",
        json={"decision": "block", "note": "a weapon", "object_version": "v1"},
        headers=moderator.headers,
        timeout=15,
    )

    # Then the decision and the photo's audit trail name them, and so does the analysts' export
    assert decided.status_code == 200, decided.text
    assert decided.json()["moderation"]["decided_by"] == {"sub": moderator.sub, "username": moderator.username}
    history = requests.get(
        f"{local_stack.api_url}/reviews/{image_id}/history", headers=moderator.headers, timeout=15
    ).json()
    assert [(entry["action"], entry["by"]["sub"]) for entry in history["history"]] == [("block", moderator.sub)]
    exported = io.StringIO()
    download(local_stack.api_url, local_stack.staff("analysts").id_token, exported)
    rows = [row for row in csv.DictReader(io.StringIO(exported.getvalue())) if row["image_id"] == image_id]
    assert rows and {(row["moderation_decision"], row["moderated_by"]) for row in rows} == {
        ("block", moderator.username)
    }
    assert moderator.username in rows[0]["review_history"]
