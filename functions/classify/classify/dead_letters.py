"""Dead-letter function: a notification that exhausted its retries ends its photo as `failed`, and unpublished.

Imports nothing heavy, so it shares the classify image without loading TensorFlow. Powertools' batch
processor reports each record that could not be recorded, so only those stay in the dead-letter queue.
"""

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from classify.dead_letter_settings import DeadLetterSettings
from classify.events import MalformedNotification
from classify.notifications import photo_events
from classify.retries_exhausted import RETRIES_EXHAUSTED, fail_exhausted_photos
from photomod_shared import ids
from photomod_shared.clock import iso, utc_now
from photomod_shared.publication import PublishedRenditions, cdn_cache
from photomod_shared.tables import PredictionTable
from photomod_shared.verdict_events import verdict_publisher

logger = Logger()
# A batch where every record failed is answered like any other (each record reported), not raised.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
settings = DeadLetterSettings.from_environment()
predictions = PredictionTable(boto3.resource("dynamodb").Table(settings.predictions_table))
verdicts = verdict_publisher(settings.event_bus_name, settings.verdict_outbox_url, boto3.client)
publisher = PublishedRenditions(
    boto3.client("s3"),
    settings.images_bucket,
    cdn_cache(settings.photos_distribution_id, lambda: boto3.client("cloudfront")),
)


def record_handler(record: SQSRecord) -> None:
    try:
        events = photo_events(record.body)
    except MalformedNotification:
        # Retrying cannot make it readable: logged, and deleted from the queue.
        logger.exception("dropping a dead letter that is not an S3 notification", extra={"body": record.body[:2000]})
        return
    failed = fail_exhausted_photos(events, predictions, iso(utc_now()), verdicts, publisher)
    for event in failed:
        image_id = ids.image_id_for_key(event.key)
        logger.warning("photo failed after exhausting retries", extra={"image_id": image_id, "key": event.key})
    if failed:
        # The same metric the classifier writes for its failures (classify.telemetry), by reason.
        with single_metric(name="PhotosFailed", unit=MetricUnit.Count, value=len(failed)) as metric:
            metric.add_dimension(name="reason", value=RETRIES_EXHAUSTED.code)


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    # A record whose handler raises (e.g. DynamoDB unreachable) is reported and stays in the queue.
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
