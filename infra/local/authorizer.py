"""API Gateway's Cognito user pool authorizer (a REST API's `COGNITO_USER_POOLS` authorizer), played locally.

What it checks is what API Gateway documents for that authorizer: the token in the identity header (raw, no
"Bearer " prefix) is a JWT signed RS256 by one of the pool's keys (its JWKS, served by moto at
`<endpoint>/<pool id>/.well-known/jwks.json`), issued by the pool (`iss`), unexpired; without authorization
scopes on the method it must be an ID token (`token_use: id`) whose `aud` is an app client of the pool; with
scopes, an access token whose `client_id` is one and whose `scope` holds one of them. Anything else is refused
before the function runs: 401 `Unauthorized` (an expired token: 401 `The incoming token has expired`); a
missing header: 401 `Unauthorized`. Groups are not the authorizer's business (the functions check them).

Verification is joserfc's (signature, algorithm, `exp`/`iss` claims); only the Cognito-specific rules are here.
"""

import base64
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from infra.rest_api import AuthorizerSpec

# How often an unknown key id may make the authorizer fetch the JWKS again (a forged kid must not flood it).
JWKS_REFETCH_INTERVAL_S = 30.0
CLOCK_LEEWAY_S = 0  # API Gateway allows none that it documents


@dataclass(frozen=True)
class Authorized:
    """The token's claims, flattened to strings as API Gateway hands them to the function
    (`requestContext.authorizer.claims`; a list such as `cognito:groups` comma-separated)."""

    claims: dict[str, str]


@dataclass(frozen=True)
class Refused:
    status: int
    message: str


def issuer_of(region: str, user_pool_id: str) -> str:
    """The `iss` of a user pool's tokens (moto issues the same one as Cognito)."""
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def jwks_url(cognito_endpoint: str, user_pool_id: str) -> str:
    return f"{cognito_endpoint.rstrip('/')}/{user_pool_id}/.well-known/jwks.json"


def fetch_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as reply:  # noqa: S310 - the emulator's own address
        return json.load(reply)


class UserPoolAuthorizer:
    def __init__(
        self,
        spec: AuthorizerSpec,
        issuer: str,
        load_keys: Callable[[], Mapping[str, Any]],
        load_client_ids: Callable[[], Collection[str]],
        clock: Callable[[], float] = time.time,
    ):
        """`load_keys`: the pool's JWKS document; `load_client_ids`: its app clients' ids (both fetched again
        when a token names a key or client not seen yet, at most every JWKS_REFETCH_INTERVAL_S)."""
        self.spec = spec
        self.issuer = issuer
        self._load_keys = load_keys
        self._load_client_ids = load_client_ids
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: KeySet | None = None
        self._client_ids: frozenset[str] = frozenset()
        self._fetched_at = float("-inf")

    def authorize(self, headers: Mapping[str, str]) -> Authorized | Refused:
        token = next((value for name, value in headers.items() if name.lower() == self.spec.header.lower()), "")
        if not token.strip():
            return Refused(401, "Unauthorized")
        try:
            decoded = jwt.decode(token.strip(), self._keys_for(token.strip()), algorithms=["RS256"])
            claims = decoded.claims
            JWTClaimsRegistry(
                now=lambda: int(self._clock()),
                leeway=CLOCK_LEEWAY_S,
                iss={"essential": True, "value": self.issuer},
                exp={"essential": True},
            ).validate(claims)
        except ExpiredTokenError:
            return Refused(401, "The incoming token has expired")
        except (JoseError, ValueError, TypeError):
            return Refused(401, "Unauthorized")
        if not self._audience_ok(claims):
            return Refused(401, "Unauthorized")
        return Authorized({name: _flatten(value) for name, value in claims.items()})

    def _audience_ok(self, claims: Mapping[str, Any]) -> bool:
        if self.spec.scopes:
            granted = str(claims.get("scope", "")).split()
            if claims.get("token_use") != "access" or not set(granted) & set(self.spec.scopes):
                return False
            client = claims.get("client_id")
        else:
            if claims.get("token_use") != "id":
                return False
            client = claims.get("aud")
        if not isinstance(client, str) or not client:
            return False
        if client not in self._client_ids:
            self._refresh(force=False)
        return client in self._client_ids

    def _keys_for(self, token: str) -> KeySet:
        kid = _header_kid(token)
        if self._keys is None or (kid and not any(key.kid == kid for key in self._keys.keys)):
            self._refresh(force=self._keys is None)
        if self._keys is None:
            raise ValueError("the user pool's keys are not available")
        return self._keys

    def _refresh(self, force: bool) -> None:
        with self._lock:
            if not force and self._clock() - self._fetched_at < JWKS_REFETCH_INTERVAL_S:
                return
            self._fetched_at = self._clock()
            self._keys = KeySet.import_key_set(dict(self._load_keys()))  # type: ignore[arg-type]
            self._client_ids = frozenset(self._load_client_ids())


def _header_kid(token: str) -> str | None:
    try:
        header = token.split(".", 1)[0]
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    kid = decoded.get("kid") if isinstance(decoded, dict) else None
    return kid if isinstance(kid, str) else None


def _flatten(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return str(value)


def cognito_authorizer(spec: AuthorizerSpec, cognito: Any, cognito_endpoint: str, user_pool_id: str, region: str):
    """The authorizer of one provisioned pool: keys from its JWKS address, clients from the Cognito API."""

    def client_ids() -> list[str]:
        pages = cognito.get_paginator("list_user_pool_clients").paginate(UserPoolId=user_pool_id)
        return [client["ClientId"] for page in pages for client in page["UserPoolClients"]]

    return UserPoolAuthorizer(
        spec,
        issuer_of(region, user_pool_id),
        load_keys=lambda: fetch_json(jwks_url(cognito_endpoint, user_pool_id)),
        load_client_ids=client_ids,
    )
