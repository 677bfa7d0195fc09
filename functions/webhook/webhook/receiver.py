"""The shop's webhook URL over HTTP(S), with the stdlib's urllib (one POST, nothing a library would add here)."""

import urllib.error
import urllib.request


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A signed event goes to the configured URL only: a redirect is an answer, not a new destination.
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


class HttpReceiver:
    def __init__(self, url: str, timeout_s: float):
        self._url = url
        self._timeout_s = timeout_s
        self._opener = urllib.request.build_opener(_NoRedirects())

    def post(self, body: bytes, headers: dict[str, str]) -> int:
        request = urllib.request.Request(  # noqa: S310 (the URL is the template's WebhookUrl, http(s) only)
            self._url, data=body, headers={**headers, "user-agent": "photomod-webhook/1"}, method="POST"
        )
        try:
            with self._opener.open(request, timeout=self._timeout_s) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
