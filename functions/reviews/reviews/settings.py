from pydantic import Field

from photomod_shared.settings import ApiSettings, OptionalText, PublishingSettings, Text, VerdictEventSettings


class ReviewsSettings(ApiSettings, VerdictEventSettings, PublishingSettings):
    """The reviews function's (ReviewsFunction) environment."""

    # Lifetime of the photo links in the review queue: long enough to look at a page of photos.
    review_image_url_expiry_seconds: int = Field(300, ge=1, le=3600)
    # Only where the browser reaches S3 at another address than this function does (e.g. inside Docker).
    presign_endpoint_url: OptionalText = None
    # The Cognito group whose members may read the queue and decide (the template's ModeratorsGroup).
    staff_group: Text
    # The bank of moderators' blocks (photomod_shared.photo_bank): a block banks the photo's hash; unset (the
    # template's BankModeratorBlocks=false): nothing is banked.
    photo_bank_table: OptionalText = None
