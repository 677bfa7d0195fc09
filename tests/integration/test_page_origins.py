"""The local stack serves its page at localhost and at 127.0.0.1: both addresses are the page's origin, for the
API (its own preflight and errors, and the functions' responses) and for the bucket's CORS. Any other origin,
even another loopback port, stays refused. On AWS the page has the one configured origin."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from tests.integration.helpers import HTTP_TIMEOUT_S, api_get, api_post, presign_upload

pytestmark = [
    pytest.mark.integration,
    pytest.mark.local_only("the page's second loopback address exists only where the local stack serves it"),
]


def _other_loopback_name(origin: str) -> str:
    parts = urlsplit(origin)
    other = {"localhost": "127.0.0.1", "127.0.0.1": "localhost"}[parts.hostname or ""]
    return parts._replace(netloc=f"{other}:{parts.port}").geturl()


@pytest.fixture(scope="module")
def alias_origin(local_stack) -> str:
    return _other_loopback_name(local_stack.web_origin)


@pytest.fixture(scope="module")
def stranger_origin(local_stack) -> str:
    """Loopback too, but another port: not the page."""
    parts = urlsplit(_other_loopback_name(local_stack.web_origin))
    return parts._replace(netloc=f"{parts.hostname}:{(parts.port or 80) % 65535 + 1}").geturl()


def _preflight(url: str, origin: str) -> requests.Response:
    return requests.options(
        url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=HTTP_TIMEOUT_S,
    )


def test_api_preflight_allows_the_page_at_its_other_address(local_stack, alias_origin: str) -> None:
    reply = _preflight(f"{local_stack.api_url}/uploads", alias_origin)

    assert reply.status_code == 200, reply.text
    assert reply.headers["Access-Control-Allow-Origin"] == alias_origin


def test_function_responses_allow_the_page_at_its_other_address(local_stack, alias_origin: str) -> None:
    created = api_post(
        local_stack,
        "/uploads",
        json={"filename": "a.jpg", "content_type": "image/jpeg", "size": 10},
        headers={"Origin": alias_origin},
    )
    invalid = api_post(local_stack, "/uploads", json={}, headers={"Origin": alias_origin})

    assert created.status_code == 201, created.text
    assert created.headers.get("Access-Control-Allow-Origin") == alias_origin
    assert invalid.status_code == 400, invalid.text
    assert invalid.headers.get("Access-Control-Allow-Origin") == alias_origin


def test_gateway_errors_allow_the_page_at_its_other_address(local_stack, alias_origin: str) -> None:
    reply = api_get(local_stack, "/no-such-route", headers={"Origin": alias_origin})

    assert reply.status_code == 403, reply.text
    assert reply.headers.get("Access-Control-Allow-Origin") == alias_origin


def test_bucket_preflight_allows_the_page_at_its_other_address(local_stack, alias_origin: str) -> None:
    created = presign_upload(local_stack, "dog.jpeg", "image/jpeg", 100)

    reply = _preflight(created["upload"]["url"], alias_origin)

    assert reply.status_code == 200, reply.text
    assert reply.headers["Access-Control-Allow-Origin"] == alias_origin


def test_another_loopback_origin_is_still_refused(local_stack, stranger_origin: str) -> None:
    created = presign_upload(local_stack, "dog.jpeg", "image/jpeg", 100)

    bucket = _preflight(created["upload"]["url"], stranger_origin)
    api = _preflight(f"{local_stack.api_url}/uploads", stranger_origin)
    function = api_post(
        local_stack,
        "/uploads",
        json={"filename": "a.jpg", "content_type": "image/jpeg", "size": 10},
        headers={"Origin": stranger_origin},
    )

    assert bucket.status_code == 403, bucket.text
    # API Gateway's preflight names the one configured origin whoever asks; the browser then refuses
    assert api.headers.get("Access-Control-Allow-Origin") == local_stack.web_origin
    assert function.headers.get("Access-Control-Allow-Origin") is None
