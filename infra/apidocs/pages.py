"""`/openapi.json` and `/docs` beside the local REST API.

The local host plays API Gateway, so it also serves the API's description: the document `infra.apidocs.openapi`
builds, and Swagger UI over it (vendored in infra/apidocs/swagger-ui/, so the page works offline; the online validator
badge is switched off). On AWS these routes do not exist: `make openapi` writes docs/openapi.json to publish.

The document is built in a child process (it imports every API function with that function's environment,
which must not leak into the host), started with the host and awaited on the first request.
"""

import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from infra.paths import REPO_ROOT
from infra.processes import die_with_parent

SWAGGER_UI = Path(__file__).with_name("swagger-ui")
DOCUMENT_PATH = "/openapi.json"
DOCS_PATH = "/docs"
STATIC_FILES = {
    f"{DOCS_PATH}/swagger-ui-bundle.js": ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    f"{DOCS_PATH}/swagger-ui.css": ("swagger-ui.css", "text/css; charset=utf-8"),
}
BUILD_TIMEOUT_S = 120

DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>photomod API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>
    // validatorUrl null: no call to validator.swagger.io; the page needs nothing but this host.
    window.ui = SwaggerUIBundle({
      url: "/openapi.json", dom_id: "#swagger-ui", validatorUrl: null, deepLinking: true, persistAuthorization: true
    });
  </script>
</body>
</html>
"""


class OpenApiDocument:
    """`python -m infra.apidocs.openapi`, run once in the background; `get()` waits for it."""

    def __init__(self, server_url: str = "/"):
        self._process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-m", "infra.apidocs.openapi", "--server-url", server_url],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=die_with_parent,  # noqa: PLW1509
        )
        self._lock = threading.Lock()
        self._result: tuple[bool, bytes] | None = None

    def get(self) -> tuple[bool, bytes]:
        """(True, the document) or (False, why it could not be built)."""
        with self._lock:
            if self._result is None:
                try:
                    stdout, stderr = self._process.communicate(timeout=BUILD_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    stdout, stderr = b"", f"not built within {BUILD_TIMEOUT_S} s".encode()
                # On failure, the exception's last line says which function or route is at fault.
                last_line = (stderr.strip().splitlines() or [b"no output"])[-1]
                self._result = (True, stdout) if self._process.returncode == 0 else (False, last_line)
            return self._result

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()


class WithApiDocs:
    """WSGI: the docs routes, and everything else to the REST API."""

    def __init__(self, api: Callable[..., Iterable[bytes]], document: OpenApiDocument):
        self._api = api
        self.document = document

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        response = self._docs_response(request) if request.method in ("GET", "HEAD") else None
        if response is None:
            return self._api(environ, start_response)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response(environ, start_response)

    def _docs_response(self, request: Request) -> Response | None:
        if request.path == DOCUMENT_PATH:
            ok, content = self.document.get()
            if not ok:
                message = b"the OpenAPI document could not be built: " + content
                return Response(message, status=500, mimetype="text/plain")
            return Response(content, mimetype="application/json", headers={"Cache-Control": "no-cache"})
        if request.path in (DOCS_PATH, f"{DOCS_PATH}/"):
            return Response(DOCS_PAGE, mimetype="text/html")
        if request.path in STATIC_FILES:
            name, content_type = STATIC_FILES[request.path]
            return Response((SWAGGER_UI / name).read_bytes(), content_type=content_type)
        return None
