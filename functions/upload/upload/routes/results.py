"""GET /predictions/<image_id> and GET /predictions?key=: a photo's prediction, by its id or its S3 key."""

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from photomod_shared.clock import utc_now
from photomod_shared.prediction import PredictionView
from upload import responses, service
from upload.wiring import predictions, store

router = Router()


@router.get("/predictions/<image_id>", responses=responses.PREDICTION)
def get_prediction(image_id: Annotated[str, Path(max_length=64)]) -> PredictionView:
    prediction = service.get_prediction(image_id, now=utc_now(), store=store(), predictions=predictions())
    return prediction.view()


@router.get("/predictions", responses=responses.PREDICTION)
def find_prediction_by_key(key: Annotated[str | None, Query(max_length=1100)] = None) -> PredictionView:
    prediction = service.find_prediction_by_key(key, now=utc_now(), store=store(), predictions=predictions())
    return prediction.view()
