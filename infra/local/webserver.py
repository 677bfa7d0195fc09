"""Serves web/ as static files, plus the config.js that tells the page where the API is, with the pages'
Content-Security-Policy (the header CloudFront's response headers policy sends on AWS: docs/deploy.md#csp)."""

import json
import threading
from collections.abc import Iterable
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from infra.paths import REPO_ROOT

WEB_ROOT = REPO_ROOT / "web"


def config_script(api_url: str, staff_sign_in: dict[str, str] | None = None) -> bytes:
    """`staff_sign_in`: where the staff pages sign in (cognitoEndpoint, clientId); public values, no secrets."""
    config = {"apiUrl": api_url.rstrip("/"), **(staff_sign_in or {})}
    return f"window.PHOTOMOD_CONFIG = {json.dumps(config)};\n".encode()


def content_security_policy(connect_to: Iterable[str], images_from: Iterable[str]) -> str:
    """Scripts and styles from the site only (no inline script, no eval): an injected script cannot run, so the
    staff pages' in-memory tokens cannot be read. Requests only to the API, Cognito and S3; photos from S3, and
    the shoppers' own previews (blob:). The pages carry a wider <meta> copy for hosts that send no header."""

    def origins(urls: Iterable[str]) -> str:
        found = {f"{parts.scheme}://{parts.netloc}" for parts in map(urlsplit, urls) if parts.scheme and parts.netloc}
        return " ".join(sorted(found))

    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: blob: {origins(images_from)}".rstrip(),
            f"connect-src 'self' {origins(connect_to)}".rstrip(),
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class _Handler(SimpleHTTPRequestHandler):
    config: bytes = b""
    policy: str = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.split("?")[0] == "/config.js":
            self.send_response(200)
            self.send_header("Content-Type", "text/javascript; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(self.config)))
            self.end_headers()
            self.wfile.write(self.config)
            return
        super().do_GET()

    def end_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        if self.policy:
            self.send_header("Content-Security-Policy", self.policy)
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("X-Frame-Options", "DENY")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        pass


def start_web_server(
    host: str,
    port: int,
    api_url: str,
    root: Path = WEB_ROOT,
    staff_sign_in: dict[str, str] | None = None,
    policy: str = "",
) -> ThreadingHTTPServer:
    handler = type("WebHandler", (_Handler,), {"config": config_script(api_url, staff_sign_in), "policy": policy})
    server = ThreadingHTTPServer((host, port), partial(handler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True, name="web").start()
    return server
