from dataclasses import dataclass

from photomod_shared import settings


@dataclass(frozen=True)
class WebhookSettings:
    # The shop's receiver (template parameter WebhookUrl).
    url: str
    # The Secrets Manager secret holding the signing secret (whsec_<base64>, or bare base64).
    secret_id: str
    # How long one attempt waits for the receiver; under the function's timeout.
    timeout_seconds: int
    # How long the secret is kept before it is read again, so that a rotated secret is used within this time.
    secret_cache_seconds: int

    @classmethod
    def from_environment(cls) -> "WebhookSettings":
        url = settings.required("WEBHOOK_URL")
        if not url.startswith(("https://", "http://")):
            raise settings.MissingSetting(f"environment variable WEBHOOK_URL must be an http(s) URL, got {url!r}")
        return cls(
            url=url,
            secret_id=settings.required("WEBHOOK_SECRET_ID"),
            timeout_seconds=settings.integer_between("WEBHOOK_TIMEOUT_SECONDS", 5, 1, 25),
            secret_cache_seconds=settings.integer_between("WEBHOOK_SECRET_CACHE_SECONDS", 300, 0, 86400),
        )
