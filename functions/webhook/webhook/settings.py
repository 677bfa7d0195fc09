from typing import Annotated

from pydantic import AfterValidator, Field

from photomod_shared.settings import FunctionSettings, Text


def _http_url(url: str) -> str:
    if not url.startswith(("https://", "http://")):
        raise ValueError("must be an http(s) URL")
    return url


class WebhookSettings(FunctionSettings):
    """The webhook function's (WebhookFunction) environment."""

    # The shop's receiver (template parameter WebhookUrl).
    webhook_url: Annotated[Text, AfterValidator(_http_url)]
    # The Secrets Manager secret holding the signing secret (whsec_<base64>, or bare base64).
    webhook_secret_id: Text
    # How long one attempt waits for the receiver; under the function's timeout.
    webhook_timeout_seconds: int = Field(5, ge=1, le=25)
    # How long the secret is kept before it is read again, so that a rotated secret is used within this time.
    webhook_secret_cache_seconds: int = Field(300, ge=0, le=86400)
