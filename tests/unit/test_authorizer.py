"""infra.local.authorizer: the local stand-in for API Gateway's Cognito user pool authorizer, and the gateway
refusing before any function runs. Tokens are signed here with keys made for the test (no network)."""

import base64
import json
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey
from werkzeug.test import Client

from infra.functions import function_specs
from infra.local.apigateway import RestApi
from infra.local.authorizer import Authorized, Refused, UserPoolAuthorizer, issuer_of
from infra.rest_api import ApiSettings, AuthorizerSpec, Route, api_routes, api_settings
from infra.template import LocalNames, ResolvedTemplate, load_template
from tests.unit.test_apigateway import FakeFunctions

POOL = "us-east-1_Staff0001"
OTHER_POOL = "us-east-1_Other0002"
CLIENT = "3n4b5c6d7e8f9g0h1i2j3k4l5m"
NOW = 1_795_684_447


@pytest.fixture(scope="module")
def pool_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "pool-key-1", "alg": "RS256", "use": "sig"})


@pytest.fixture
def authorizer(pool_key) -> UserPoolAuthorizer:
    public = KeySet([pool_key]).as_dict(private=False)
    return UserPoolAuthorizer(
        AuthorizerSpec("StaffUserPool"),
        issuer_of("us-east-1", POOL),
        load_keys=lambda: public,
        load_client_ids=lambda: [CLIENT],
        clock=lambda: NOW,
    )


def id_token(key: Any, **overrides: Any) -> str:
    claims = {
        "sub": "b1f2c3d4-0a1b-4c2d-8e3f-5a6b7c8d9e0f",
        "iss": issuer_of("us-east-1", POOL),
        "aud": CLIENT,
        "token_use": "id",
        "cognito:username": "mod-alice",
        "cognito:groups": ["moderators", "analysts"],
        "iat": NOW - 60,
        "exp": NOW + 3600,
    }
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}  # None: leave the claim out
    kid = getattr(key, "kid", None) or "pool-key-1"
    return jwt.encode({"alg": "HS256" if isinstance(key, OctKey) else "RS256", "kid": kid}, claims, key)


def test_a_valid_id_token_passes_its_claims_as_api_gateway_flattens_them(authorizer, pool_key):
    verdict = authorizer.authorize({"Authorization": id_token(pool_key)})

    assert isinstance(verdict, Authorized)
    assert verdict.claims["cognito:groups"] == "moderators,analysts"
    assert verdict.claims["cognito:username"] == "mod-alice"
    assert verdict.claims["exp"] == str(NOW + 3600)


@pytest.mark.parametrize("headers", [{}, {"Authorization": ""}, {"Authorization": "not-a-jwt"}])
def test_no_token_or_garbage_is_401_unauthorized(authorizer, headers):
    assert authorizer.authorize(headers) == Refused(401, "Unauthorized")


def test_an_expired_token_is_401_with_api_gateways_message(authorizer, pool_key):
    verdict = authorizer.authorize({"Authorization": id_token(pool_key, exp=NOW - 1)})

    assert verdict == Refused(401, "The incoming token has expired")


def test_a_token_signed_by_another_key_under_the_pools_key_id_is_refused(authorizer):
    forger = RSAKey.generate_key(2048, parameters={"kid": "pool-key-1"})

    assert authorizer.authorize({"Authorization": id_token(forger)}) == Refused(401, "Unauthorized")


def test_a_token_with_its_payload_changed_after_signing_is_refused(authorizer, pool_key):
    header, payload, signature = id_token(pool_key, **{"cognito:groups": ["analysts"]}).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["cognito:groups"] = ["moderators"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")

    assert authorizer.authorize({"Authorization": f"{header}.{forged}.{signature}"}) == Refused(401, "Unauthorized")


def test_a_symmetric_alg_token_is_refused(authorizer):
    secret = OctKey.import_key("a-shared-secret-that-is-long-enough-for-hs256")

    assert authorizer.authorize({"Authorization": id_token(secret)}) == Refused(401, "Unauthorized")


def test_a_token_of_another_user_pool_is_refused_even_with_a_valid_signature(authorizer, pool_key):
    # moto signs every pool's tokens with one key: only the issuer tells the pools apart.
    other = id_token(pool_key, iss=issuer_of("us-east-1", OTHER_POOL))

    assert authorizer.authorize({"Authorization": other}) == Refused(401, "Unauthorized")


@pytest.mark.parametrize(
    "overrides",
    [{"aud": "some-other-client"}, {"token_use": "access"}, {"iss": None}, {"exp": None}],
    ids=["other-client", "access-token-without-scopes", "no-issuer", "no-expiry"],
)
def test_tokens_the_cognito_authorizer_would_not_accept_are_refused(authorizer, pool_key, overrides):
    token = id_token(pool_key, **overrides)

    assert authorizer.authorize({"Authorization": token}) == Refused(401, "Unauthorized")


def test_with_scopes_an_access_token_holding_one_is_accepted(pool_key):
    public = KeySet([pool_key]).as_dict(private=False)
    scoped = UserPoolAuthorizer(
        AuthorizerSpec("StaffUserPool", scopes=("photomod/reviews",)),
        issuer_of("us-east-1", POOL),
        load_keys=lambda: public,
        load_client_ids=lambda: [CLIENT],
        clock=lambda: NOW,
    )
    access = {"token_use": "access", "client_id": CLIENT, "aud": None}

    good = scoped.authorize({"Authorization": id_token(pool_key, **access, scope="photomod/reviews")})
    bad = scoped.authorize({"Authorization": id_token(pool_key, **access, scope="aws.cognito.signin.user.admin")})
    id_only = scoped.authorize({"Authorization": id_token(pool_key)})

    assert isinstance(good, Authorized)
    assert bad == id_only == Refused(401, "Unauthorized")


# --- the gateway: an authorizer's refusal is the gateway's answer; the function never runs ---------------


def staff_client(functions: FakeFunctions, authorizer: UserPoolAuthorizer) -> Client:
    settings = ApiSettings("abc1234567", "v1", {}, (), {})
    routes = [Route("/reviews", "GET", "ReviewsFunction", False, "StaffAuthorizer")]
    return Client(
        RestApi(settings, routes, functions, access_log=lambda line: None, authorizers={"StaffAuthorizer": authorizer})
    )


def test_the_gateway_answers_the_authorizers_401_and_never_invokes_the_function(authorizer, pool_key):
    functions = FakeFunctions()
    client = staff_client(functions, authorizer)

    missing = client.get("/reviews")
    expired = client.get("/reviews", headers={"Authorization": id_token(pool_key, exp=NOW - 5)})

    assert (missing.status_code, missing.get_json()) == (401, {"message": "Unauthorized"})
    assert missing.headers["x-amzn-ErrorType"] == "UnauthorizedException"
    assert (expired.status_code, expired.get_json()) == (401, {"message": "The incoming token has expired"})
    assert functions.calls == []


def test_the_function_gets_the_verified_claims_in_the_request_context(authorizer, pool_key):
    functions = FakeFunctions()

    reply = staff_client(functions, authorizer).get("/reviews", headers={"Authorization": id_token(pool_key)})

    assert reply.status_code == 200
    assert functions.event["requestContext"]["authorizer"]["claims"]["sub"] == "b1f2c3d4-0a1b-4c2d-8e3f-5a6b7c8d9e0f"


def test_a_route_whose_authorizer_is_not_configured_is_never_let_through():
    functions = FakeFunctions()
    settings = ApiSettings("abc1234567", "v1", {}, (), {})
    routes = [Route("/reviews", "GET", "ReviewsFunction", False, "StaffAuthorizer")]
    client = Client(RestApi(settings, routes, functions, access_log=lambda line: None))

    assert client.get("/reviews").status_code == 500
    assert functions.calls == []


def test_the_templates_staff_routes_name_the_cognito_authorizer_and_the_shoppers_routes_none():
    template = ResolvedTemplate(load_template(), LocalNames())
    settings = api_settings(template, "Api")
    routes = {
        (route.method, route.resource): route.authorizer for route in api_routes(function_specs(template, {}), "Api")
    }

    assert settings.authorizers == {"StaffAuthorizer": AuthorizerSpec("StaffUserPool", "Authorization", ())}
    staff = {key for key, authorizer in routes.items() if authorizer == "StaffAuthorizer"}
    assert {("GET", "/reviews"), ("POST", "/reviews/{image_id}"), ("GET", "/feedback.csv")} <= staff
    assert all(path.startswith(("/reviews", "/feedback.csv", "/bank/")) for _, path in staff)
    assert routes[("POST", "/uploads")] is None and routes[("POST", "/predictions/{image_id}/feedback")] is None


def test_the_pages_policy_allows_scripts_from_the_site_only_and_requests_to_the_stacks_addresses():
    from infra.local.webserver import content_security_policy

    policy = content_security_policy(
        ["http://127.0.0.1:3000/", "http://127.0.0.1:4566"], ["http://127.0.0.1:4566/bucket/key?x=1"]
    )

    directives = dict(part.split(" ", 1) for part in policy.split("; "))
    assert directives["script-src"] == "'self'" and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert directives["connect-src"] == "'self' http://127.0.0.1:3000 http://127.0.0.1:4566"
    assert directives["img-src"] == "'self' data: blob: http://127.0.0.1:4566"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
