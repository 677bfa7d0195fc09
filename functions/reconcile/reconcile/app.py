"""Reconcile function: on an EventBridge schedule, settles photos pending too long (see service.py)."""

from datetime import timedelta

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from photomod_shared import ids
from photomod_shared.clients import AwsClients, lazy
from photomod_shared.clock import utc_now
from photomod_shared.tables import PredictionTable
from photomod_shared.verdict_events import verdict_publisher
from reconcile.service import reconcile
from reconcile.settings import ReconcileSettings
from reconcile.storage import ClassifyQueue, ImagesBucket

logger = Logger()
metrics = Metrics()
settings = ReconcileSettings.from_environment()


# The adapters, each built on the first invocation.
aws = AwsClients()
rows = lazy(lambda: PredictionTable(aws.table(settings.predictions_table)))
photos = lazy(lambda: ImagesBucket(aws.client("s3"), settings.images_bucket, ids.DROP_FOLDER_PREFIX))
notifications = lazy(
    lambda: ClassifyQueue(aws.client("sqs"), settings.classify_queue_url, settings.images_bucket, settings.aws_region)
)
verdicts = lazy(lambda: verdict_publisher(settings.event_bus_name, settings.verdict_outbox_url, aws.client))


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    report = reconcile(
        rows=rows(),
        photos=photos(),
        notifications=notifications(),
        now=utc_now(),
        pending_after=timedelta(seconds=settings.pending_after_seconds),
        max_requeues=settings.max_requeues,
        verdicts=verdicts(),
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
