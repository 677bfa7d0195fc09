"""Reconcile function: on an EventBridge schedule, settles photos pending too long (see service.py)."""

import os
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from photomod_shared import ids
from photomod_shared.clock import utc_now
from photomod_shared.tables import PredictionTable
from photomod_shared.verdict_events import VerdictPublisher, verdict_publisher
from reconcile.service import reconcile
from reconcile.settings import ReconcileSettings
from reconcile.storage import ClassifyQueue, ImagesBucket

logger = Logger()
metrics = Metrics()
settings = ReconcileSettings.from_environment()


@dataclass(frozen=True)
class Dependencies:
    rows: PredictionTable
    photos: ImagesBucket
    notifications: ClassifyQueue
    verdicts: VerdictPublisher

    @classmethod
    def from_settings(cls, settings: ReconcileSettings) -> "Dependencies":
        """boto3 clients; the endpoint comes from AWS_ENDPOINT_URL."""
        region = os.environ.get("AWS_REGION", "us-east-1")
        return cls(
            rows=PredictionTable(boto3.resource("dynamodb").Table(settings.predictions_table)),
            photos=ImagesBucket(boto3.client("s3"), settings.images_bucket, ids.DROP_FOLDER_PREFIX),
            notifications=ClassifyQueue(
                boto3.client("sqs"), settings.classify_queue_url, settings.images_bucket, region
            ),
            verdicts=verdict_publisher(settings.event_bus_name, settings.verdict_outbox_url, boto3.client),
        )


@cache
def dependencies() -> Dependencies:
    """Built once per process, on the first invocation."""
    return Dependencies.from_settings(settings)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    report = reconcile(
        rows=dependencies().rows,
        photos=dependencies().photos,
        notifications=dependencies().notifications,
        now=utc_now(),
        pending_after=timedelta(seconds=settings.pending_after_seconds),
        max_requeues=settings.max_requeues,
        verdicts=dependencies().verdicts,
        time_left_s=lambda: context.get_remaining_time_in_millis() / 1000,
    )
    metrics.add_metric(name="PhotosRequeued", unit=MetricUnit.Count, value=len(report.requeued))
    metrics.add_metric(name="PhotosFailedByReconciler", unit=MetricUnit.Count, value=len(report.failed))
    metrics.add_metric(name="DropFolderRowsCreated", unit=MetricUnit.Count, value=len(report.created))
    metrics.add_metric(name="ReconcileErrors", unit=MetricUnit.Count, value=len(report.errors))
    if not report.complete:
        logger.warning("the run stopped before its timeout; the next run goes on from there")
    if report.requeued or report.failed or report.created or report.errors:
        logger.warning("reconciled photos that were pending too long", extra={"reconciled": report.to_dict()})
    return report.to_dict()
