"""Traces and metrics of a classify invocation, with Powertools: X-Ray subsegments and CloudWatch EMF metrics.

Metrics (namespace from POWERTOOLS_METRICS_NAMESPACE, one EMF line per flush on stdout, so they also land
in the local host's logs under .run/logs/):
- PhotosClassified (Count), dimension `verdict`: allow, review, block
- PhotosFailed (Count), dimension `reason`: the failure code (corrupt_image, too_large_for_memory, ...)
- PhotosFinished and PhotosFailedAnyReason (Count), no dimension of their own: the photos given a final status and
  the failed ones among them, whatever the reason (the failure-rate alarm's two terms: CloudWatch alarms cannot
  add up a metric's dimension values)
- BatchSize (Count): photos per forward pass
- InferenceTime (Milliseconds): one forward pass
- EndToEndTime (Milliseconds): from the upload (the S3 event's time) to the stored result
"""

import threading
from collections import Counter
from contextlib import AbstractContextManager
from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric


class PowertoolsTelemetry:
    """classify.service's Telemetry: subsegments now, metrics gathered and written once per invocation."""

    def __init__(self, tracer: Tracer, metrics: Metrics):
        self._tracer = tracer
        self._metrics = metrics
        self._lock = threading.Lock()  # results are written from a thread pool
        self._verdicts: Counter[str] = Counter()
        self._failures: Counter[str] = Counter()

    def span(self, name: str) -> AbstractContextManager[Any]:
        return self._tracer.provider.in_subsegment(f"## {name}")

    def photo_classified(self, verdict: str, end_to_end_ms: float | None) -> None:
        with self._lock:
            self._verdicts[verdict] += 1
            if end_to_end_ms is not None:
                self._metrics.add_metric(name="EndToEndTime", unit=MetricUnit.Milliseconds, value=end_to_end_ms)

    def photo_failed(self, reason: str) -> None:
        with self._lock:
            self._failures[reason] += 1

    def batch_inferred(self, size: int, inference_ms: float) -> None:
        with self._lock:
            self._metrics.add_metric(name="BatchSize", unit=MetricUnit.Count, value=size)
            self._metrics.add_metric(name="InferenceTime", unit=MetricUnit.Milliseconds, value=inference_ms)

    def flush_counts(self) -> None:
        """Writes the per-verdict and per-reason counts (each its own dimension, so each its own EMF line)."""
        with self._lock:
            counts = [("PhotosClassified", "verdict", self._verdicts), ("PhotosFailed", "reason", self._failures)]
            for name, dimension, counter in counts:
                for value, count in sorted(counter.items()):
                    with single_metric(
                        name=name, unit=MetricUnit.Count, value=count, namespace=self._metrics.namespace
                    ) as metric:
                        metric.add_dimension(name=dimension, value=value)
            finished, failed = sum(self._verdicts.values()) + sum(self._failures.values()), sum(self._failures.values())
            if finished:
                for name, count in (("PhotosFinished", finished), ("PhotosFailedAnyReason", failed)):
                    with single_metric(
                        name=name, unit=MetricUnit.Count, value=count, namespace=self._metrics.namespace
                    ):
                        pass
            self._verdicts.clear()
            self._failures.clear()
