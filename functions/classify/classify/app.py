"""Classify function: SQS batches of S3 notifications -> the checks beyond the models (text, photo bank, faces),
the ImageNet classifier and the explicit-content models (nsfwjs and the Open-NSFW second opinion) -> predictions.

The model, policy and clients are built at cold start, once per execution environment.
"""

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.data_classes import SQSEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from classify.faces import faces_checks, load_face_detector
from classify.labels import ClassIndex
from classify.model import load_classifier
from classify.notifications import photo_events
from classify.ocr import load_reader
from classify.open_nsfw import load_open_nsfw
from classify.photo_bank import PhotoBankCheck
from classify.safety import load_safety_model
from classify.service import Classification, classify_messages
from classify.settings import ClassifySettings
from classify.storage import ClassifyQueue, S3PhotoStore, message_of, policy_in_force
from classify.telemetry import PowertoolsTelemetry
from classify.text_check import TextCheck
from photomod_shared.publication import PublishedRenditions, cdn_cache
from photomod_shared.tables import PhotoBankTable, PhotoHashIndexTable, PredictionTable
from photomod_shared.verdict_events import verdict_publisher

logger = Logger()
# The domain modules log with the standard library (logging.getLogger(__name__)): their records go out through
# the Powertools Logger's handler and JSON format, with the invocation's context.
copy_config_to_registered_loggers(source_logger=logger, include={"classify"})
tracer = Tracer()
metrics = Metrics()
settings = ClassifySettings.from_environment()
class_index = ClassIndex.from_file()
telemetry = PowertoolsTelemetry(tracer, metrics)
s3 = boto3.client("s3")
dynamodb = boto3.resource("dynamodb")
work = Classification(
    photos=S3PhotoStore(s3),
    predictions=PredictionTable(dynamodb.Table(settings.predictions_table)),
    model=load_classifier(
        settings.model_runtime,
        settings.model_weights_path,
        settings.allow_untrained_weights,
        settings.served_model_path,
        classifier=settings.classifier,
        resize_method=settings.resize_method,
    ),
    policy=policy_in_force(settings.policy_parameter, settings.policy_cache_seconds, class_index),
    class_index=class_index,
    read_events=photo_events,
    limits=settings.limits,
    renditions=settings.renditions,
    decode_threads=settings.decode_threads,
    safety=load_safety_model(
        settings.safety_model_path, required=not settings.allow_missing_safety_model, runtime=settings.model_runtime
    ),
    second_opinion=load_open_nsfw(settings.open_nsfw_model_path, required=not settings.allow_missing_safety_model),
    decode_budget_bytes=settings.decode_budget_bytes,
    memory_limit_bytes=settings.memory_limit_bytes,
    telemetry=telemetry,
    events=verdict_publisher(settings.event_bus_name, settings.verdict_outbox_url, boto3.client),
    publisher=PublishedRenditions(
        s3, settings.images_bucket, cdn_cache(settings.photos_distribution_id, lambda: boto3.client("cloudfront"))
    ),
    hand_backs=ClassifyQueue(boto3.client("sqs"), settings.classify_queue_url),
    # The checks beyond the models, in this order (classify.checks): a retouching check comes last (faces may blur
    # what is served).
    checks=(
        TextCheck(load_reader()),  # rapidocr, both models warmed up here (they load on first use)
        PhotoBankCheck(
            PhotoBankTable(dynamodb.Table(settings.photo_bank_table)) if settings.photo_bank_table else None,
            PhotoHashIndexTable(dynamodb.Table(settings.photo_hash_index_table))
            if settings.photo_hash_index_table
            else None,
        ),
        *faces_checks(load_face_detector(settings.face_model_path, required=not settings.allow_missing_face_model)),
    ),
)
logger.info(
    "classifier ready",
    extra={
        "model": work.model.info.model_dump(),
        "safety_model": work.safety.info.model_info.model_dump() if work.safety else None,
        "second_opinion": work.second_opinion.info.model_dump() if work.second_opinion else None,
        "runtime": settings.model_runtime,
        "policy_version": work.policy.version,
        "checks": [check.name for check in work.checks],
    },
)


@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    messages = [message_of(record) for record in SQSEvent(event).records]
    try:
        failed = classify_messages(messages, work, lambda: context.get_remaining_time_in_millis() / 1000)
    finally:
        telemetry.flush_counts()
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
