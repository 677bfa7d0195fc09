"""Webhook function: delivers each verdict event the bus's webhook rule queued to the shop's URL, signed.

EventBridge's rule (template.yaml, WebhookRule) puts every verdict event on WebhookQueue; this function POSTs
each to WebhookUrl with Standard Webhooks headers (webhook.signing). A refused delivery is reported as a batch
item failure, so the queue delivers it again after its visibility timeout and, after WebhookMaxAttempts, moves
it to WebhookDeadLetterQueue. The secret is read with Powertools' Parameters utility (cached for a bounded time).
"""

import time

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from webhook.delivery import DeliveryRefused, UndeliverableEvent, deliver
from webhook.receiver import HttpReceiver
from webhook.settings import WebhookSettings
from webhook.signing import signing_key

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
settings = WebhookSettings.from_environment()
receiver = HttpReceiver(settings.webhook_url, settings.webhook_timeout_seconds)


def _key() -> bytes:
    secret = parameters.get_secret(settings.webhook_secret_id, max_age=settings.webhook_secret_cache_seconds)
    return signing_key(str(secret))


def record_handler(record: SQSRecord) -> None:
    attempt = int(record.attributes.approximate_receive_count or 1)
    try:
        status = deliver(record.body, receiver, _key(), int(time.time()))
    except UndeliverableEvent:
        # Not a verdict event: no attempt can deliver it. Logged and deleted.
        logger.exception("dropping a queued message that is no verdict event", extra={"body": record.body[:2000]})
        return
    except DeliveryRefused as refused:
        logger.warning("webhook delivery refused", extra={"attempt": attempt, "reason": str(refused)})
        raise
    logger.info("webhook delivered", extra={"attempt": attempt, "status": status})


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
