"""Verdict outbox function: puts again the verdict events EventBridge refused, until it accepts them.

A publisher keeps each refused event in VerdictOutboxQueue as its PutEvents entry, unchanged
(photomod_shared.verdict_events), so the event put here carries the same `detail.event_id` as the one refused:
consumers see it at least once and de-duplicate by it. A record EventBridge refuses again is reported as a batch
item failure, so the queue offers it again after its visibility timeout; after maxReceiveCount attempts it moves to
VerdictOutboxDeadLetterQueue (alarmed). Every entry is put on this stack's bus, whatever the message names.
"""

import json

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from photomod_shared.verdict_events import SOURCE, EventRefused, put_entry
from reconcile.settings import VerdictOutboxSettings

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
settings = VerdictOutboxSettings.from_environment()
bus_name = settings.event_bus_name
events = boto3.client("events")


def record_handler(record: SQSRecord) -> None:
    try:
        entry = json.loads(record.body)
        event_id = json.loads(entry["Detail"])["event_id"]
        if entry.get("Source") != SOURCE:
            raise ValueError(f"source {entry.get('Source')!r}")
    except (ValueError, KeyError, TypeError):
        # No verdict event: putting it again cannot help. Logged, and deleted from the queue.
        logger.exception("dropping an outbox message that is no verdict event", extra={"body": record.body[:2000]})
        return
    try:
        put_entry(events, {**entry, "EventBusName": bus_name})
    except EventRefused as refused:
        attempt = record.attributes.approximate_receive_count
        logger.warning(
            "verdict event refused again", extra={"event_id": event_id, "attempt": attempt, "reason": str(refused)}
        )
        raise
    logger.info("verdict event put from the outbox", extra={"event_id": event_id})


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
