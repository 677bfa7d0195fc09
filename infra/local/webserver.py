"""Serves web/ as static files, plus the config.js that tells the page where the API is."""

import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from infra.template import REPO_ROOT

WEB_ROOT = REPO_ROOT / "web"


def config_script(api_url: str, staff_sign_in: dict[str, str] | None = None) -> bytes:
    """`staff_sign_in`: where the staff pages sign in (cognitoEndpoint, clientId); public values, no secrets."""
    config = {"apiUrl": api_url.rstrip("/"), **(staff_sign_in or {})}
    return f"window.PHOTOMOD_CONFIG = {json.dumps(config)};\n".encode()


class _Handler(SimpleHTTPRequestHandler):
    config: bytes = b""

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
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        pass


def start_web_server(
    host: str, port: int, api_url: str, root: Path = WEB_ROOT, staff_sign_in: dict[str, str] | None = None
) -> ThreadingHTTPServer:
    handler = type("WebHandler", (_Handler,), {"config": config_script(api_url, staff_sign_in)})
    server = ThreadingHTTPServer((host, port), partial(handler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True, name="web").start()
    return server
