"""GET /images/<image_id>: the display gate, a redirect to the photo only if its verdict is allow."""

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from upload import display, responses
from upload.wiring import predictions, settings, store

router = Router()


@router.get("/images/<image_id>", responses=responses.IMAGE)
def show_image(image_id: Annotated[str, Path(max_length=64)]) -> Response[str]:
    """302 to a short-lived URL of the photo if its verdict is allow; see upload.display for the refusals."""
    url = display.display_url(
        image_id,
        expires_in=settings.display_url_expiry_seconds,
        store=store(),
        predictions=predictions(),
        cdn_domain=settings.photos_cdn_domain,
    )
    # The URL expires within a minute: neither the browser nor a CDN may keep the redirect.
    return Response(
        status_code=HTTPStatus.FOUND.value,
        content_type=content_types.TEXT_PLAIN,
        body="",
        headers={"Location": url, "Cache-Control": "no-store"},
    )
