"""Checks real HTTP responses against the API's OpenAPI document (jsonschema over the response schemas).

openapi-core would do this too, but it pins older openapi-spec-validator and jsonschema-path than moto[server]
brings; jsonschema and referencing are already installed, and the checks below are all the tests need.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

DOCUMENT_URI = "urn:photomod:openapi"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


@dataclass
class Contract:
    document: dict[str, Any]
    # (method, path template) of every operation a check has matched; for coverage assertions.
    exercised: set[tuple[str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        resource = DRAFT202012.create_resource(self.document)
        self._registry: Registry = Registry().with_resource(DOCUMENT_URI, resource)
        # Literal segments before parameters, so /predictions wins over /predictions/{image_id} only when it should.
        self._templates = sorted(self.document["paths"], key=lambda path: (path.count("{"), -len(path)), reverse=False)

    def operations(self) -> list[tuple[str, str]]:
        return [
            (method, path) for path, item in self.document["paths"].items() for method in HTTP_METHODS if method in item
        ]

    def path_template(self, path: str) -> str | None:
        for template in self._templates:
            pattern = "^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "/?$"
            if re.match(pattern, path):
                return template
        return None

    def check(self, reply: requests.Response) -> dict[str, Any]:
        """Asserts the reply is one the document describes (status, media type, body, required headers)."""
        request = reply.request
        method = (request.method or "GET").lower()
        path = urlsplit(request.url).path
        template = self.path_template(path)
        assert template is not None, f"{method.upper()} {path}: no path in the document matches"
        operation = self.document["paths"][template].get(method)
        assert operation is not None, f"{method.upper()} {template}: the document has no such operation"
        self.exercised.add((method, template))

        status = str(reply.status_code)
        responses = operation["responses"]
        key = status if status in responses else f"{status[0]}XX" if f"{status[0]}XX" in responses else "default"
        assert key in responses, (
            f"{method.upper()} {template}: status {status} is not documented (documented: {sorted(responses)}); "
            f"body: {reply.text[:300]}"
        )
        response = responses[key]
        for name, header in (response.get("headers") or {}).items():
            if header.get("required"):
                assert name in reply.headers, f"{method.upper()} {template} {status}: header {name} missing"

        content = response.get("content")
        if not content:
            assert not reply.content, f"{method.upper()} {template} {status}: documented without a body, got one"
            return response
        media_type = reply.headers.get("Content-Type", "").split(";")[0].strip().lower()
        documented = self._media_type(content, media_type)
        assert documented is not None, (
            f"{method.upper()} {template} {status}: media type {media_type!r} is not documented ({sorted(content)})"
        )
        schema_pointer = _pointer("paths", template, method, "responses", key, "content", documented, "schema")
        if "schema" in content[documented]:
            self.validate(reply, schema_pointer, media_type)
        return response

    @staticmethod
    def _media_type(content: dict[str, Any], media_type: str) -> str | None:
        for documented in content:
            if documented == media_type or documented in ("*/*", media_type.split("/")[0] + "/*"):
                return documented
        return None

    def validate(self, reply: requests.Response, schema_pointer: str, media_type: str) -> None:
        # application/x-amz-json-1.1: AWS's JSON protocol (POST /rekognition), JSON as well.
        if (
            media_type == "application/json"
            or media_type.endswith("+json")
            or media_type.startswith("application/x-amz-json")
        ):
            instance: Any = json.loads(reply.content)
        else:
            instance = reply.text
        validator = Draft202012Validator({"$ref": f"{DOCUMENT_URI}#/{schema_pointer}"}, registry=self._registry)
        errors = sorted(validator.iter_errors(instance), key=lambda error: list(error.path))
        assert not errors, (
            f"{reply.request.method} {urlsplit(reply.request.url).path} {reply.status_code}: the body does not match "
            "the document: "
            + "; ".join(f"{'/'.join(map(str, error.path)) or '(root)'}: {error.message}" for error in errors[:5])
        )
