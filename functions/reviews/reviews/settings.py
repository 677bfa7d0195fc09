from dataclasses import dataclass

from photomod_shared import settings


@dataclass(frozen=True)
class ReviewsSettings:
    predictions_table: str
    images_bucket: str
    web_origin: str
    # Lifetime of the photo links in the review queue: long enough to look at a page of photos.
    image_url_expiry_seconds: int
    # Only where the browser reaches S3 at another address than this function does (e.g. inside Docker).
    presign_endpoint_url: str | None
    # The Cognito group whose members may read the queue and decide (the template's ModeratorsGroup).
    staff_group: str
    # The EventBridge bus a moderator's decision is announced on; none without it.
    event_bus_name: str | None = None
    # The SQS queue keeping the events EventBridge refused, to be put again (photomod_shared.verdict_events).
    verdict_outbox_url: str | None = None

    @classmethod
    def from_environment(cls) -> "ReviewsSettings":
        return cls(
            predictions_table=settings.required("PREDICTIONS_TABLE"),
            images_bucket=settings.required("IMAGES_BUCKET"),
            web_origin=settings.required("WEB_ORIGIN"),
            image_url_expiry_seconds=settings.integer_between("REVIEW_IMAGE_URL_EXPIRY_SECONDS", 300, 1, 3600),
            presign_endpoint_url=settings.optional("PRESIGN_ENDPOINT_URL", "") or None,
            event_bus_name=settings.optional("EVENT_BUS_NAME", "") or None,
            verdict_outbox_url=settings.optional("VERDICT_OUTBOX_URL", "") or None,
            staff_group=settings.required("STAFF_GROUP"),
        )
