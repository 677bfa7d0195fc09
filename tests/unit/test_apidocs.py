"""infra.apidocs.pages: the local host serves /openapi.json and an offline /docs page beside the REST API."""

import json
import re

from werkzeug.test import Client
from werkzeug.wrappers import Response

from infra.apidocs.pages import SWAGGER_UI, WithApiDocs

DOCUMENT = {"openapi": "3.1.0", "info": {"title": "photomod API", "version": "0.1.0"}, "paths": {}}


class FakeDocument:
    def __init__(self, result: tuple[bool, bytes]):
        self.result = result

    def get(self) -> tuple[bool, bytes]:
        return self.result


def api(environ, start_response):
    return Response(json.dumps({"message": "from the api"}), status=403, mimetype="application/json")(
        environ, start_response
    )


def client(ok: bool = True, content: bytes = json.dumps(DOCUMENT).encode()) -> Client:
    return Client(WithApiDocs(api, FakeDocument((ok, content))))


def test_the_document_is_served_as_json():
    reply = client().get("/openapi.json")

    assert reply.status_code == 200
    assert reply.mimetype == "application/json"
    assert json.loads(reply.data) == DOCUMENT


def test_a_document_that_could_not_be_built_says_why():
    reply = client(ok=False, content=b"OpenApiMismatch: UploadFunction serves GET /x").get("/openapi.json")

    assert reply.status_code == 500
    assert b"UploadFunction serves GET /x" in reply.data


def test_the_docs_page_loads_only_files_this_host_serves():
    docs = client()
    page = docs.get("/docs")

    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "validatorUrl: null" in html
    assert not re.search(r"(src|href)=\"https?://", html), "no CDN: the page must work offline"
    for asset in re.findall(r"(?:src|href)=\"(/docs/[^\"]+)\"", html):
        reply = docs.get(asset)
        assert reply.status_code == 200, asset
        assert reply.data == (SWAGGER_UI / asset.rsplit("/", 1)[-1]).read_bytes()


def test_every_other_request_goes_to_the_api():
    docs = client()

    assert json.loads(docs.get("/predictions").data) == {"message": "from the api"}
    assert json.loads(docs.post("/openapi.json").data) == {"message": "from the api"}
    assert json.loads(docs.get("/docs/../uploads").data) == {"message": "from the api"}
