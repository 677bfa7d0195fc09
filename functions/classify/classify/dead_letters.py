"""Dead-letter function: a notification that exhausted its retries ends its photo as `failed`.

Imports nothing heavy, so it shares the classify image without loading TensorFlow.
"""

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import SQSEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from classify.events import MalformedNotification, photo_events
from photomod_shared import ids, settings
from photomod_shared.clock import iso, utc_now
from photomod_shared.predictions import STATUS_FAILED, PredictionTable

logger = Logger()
predictions = PredictionTable(boto3.resource("dynamodb").Table(settings.required("PREDICTIONS_TABLE")))

RETRIES_EXHAUSTED = {
    "code": "retries_exhausted",
    "message": "classification kept failing (e.g. the function timed out or crashed); the photo was not classified",
}


def fail_dead_letter(body: str, table: PredictionTable) -> None:
    """Records a final failure unless the photo was classified after all (the same or a newer event)."""
    now = iso(utc_now())
    for event in photo_events(body):
        try:
            image_id = ids.image_id_for_key(event.key)
        except ids.UnrecognisedKey:
            continue
        attributes = {
            "status": STATUS_FAILED,
            "error": RETRIES_EXHAUSTED,
            "s3_key": event.key,
            "source": ids.source_for_key(event.key),
            "classified_at": now,
        }
        if table.record_outcome(image_id, event.sequencer, attributes, now):
            logger.warning("photo failed after exhausting retries", extra={"image_id": image_id, "key": event.key})


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    failures = []
    for record in SQSEvent(event).records:
        try:
            fail_dead_letter(record.body, predictions)
        except MalformedNotification:
            logger.exception(
                "dropping a dead letter that is not an S3 notification", extra={"body": record.body[:2000]}
            )
        except Exception:
            logger.exception("could not record a dead letter; it stays in the queue")
            failures.append({"itemIdentifier": record.message_id})
    return {"batchItemFailures": failures}
