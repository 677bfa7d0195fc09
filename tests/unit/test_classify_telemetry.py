"""classify.telemetry with classify.service: the subsegments a batch is traced with and the EMF counts it writes."""

import json
from contextlib import contextmanager
from dataclasses import replace
from types import SimpleNamespace

import pytest
from aws_lambda_powertools import Metrics

from classify.telemetry import PowertoolsTelemetry
from tests.support.images import solid_jpeg
from tests.support.metrics import emf_documents
from tests.unit.test_classify_service import GREEN, RED, SHOE, UPLOAD, Batch, notification


class RecordingTracer:
    """Stands in for Powertools' Tracer: records the subsegments opened through its provider."""

    def __init__(self) -> None:
        self.subsegments: list[str] = []
        self.provider = SimpleNamespace(in_subsegment=self.in_subsegment)

    @contextmanager
    def in_subsegment(self, name: str):
        self.subsegments.append(name)
        yield SimpleNamespace()


@pytest.fixture
def traced(capsys, monkeypatch, class_index, policy):
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "photomod")
    batch = Batch(class_index, policy, {UPLOAD: solid_jpeg(RED), SHOE: solid_jpeg(GREEN)})
    tracer, metrics = RecordingTracer(), Metrics(namespace="photomod", service="photomod")
    batch.work = replace(batch.work, telemetry=PowertoolsTelemetry(tracer, metrics))
    yield batch, tracer, metrics
    metrics.clear_metrics()


def test_a_batch_is_traced_as_s3_reads_decodes_rendition_writes_one_inference_and_writes(traced):
    batch, tracer, _ = traced

    batch.run(("m1", notification(UPLOAD, "01")), ("m2", notification(SHOE, "02")))

    expected = ["## s3_read", "## decode", "## s3_write_rendition"] * 2 + ["## inference"] + ["## write"] * 2
    assert sorted(tracer.subsegments) == sorted(expected)


def test_counts_by_verdict_and_reason_are_written_as_one_emf_line_each(traced, capsys):
    batch, _, _ = traced
    batch.photos.objects[UPLOAD] = b"junk"
    capsys.readouterr()

    batch.run(("m1", notification(UPLOAD, "01")), ("m2", notification(SHOE, "02")))
    batch.work.telemetry.flush_counts()  # type: ignore[attr-defined]

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    counts = {
        (
            metric["Name"],
            next(key for key in line if key in ("verdict", "reason")),
            line.get("verdict") or line["reason"],
        )
        for line in lines
        if "verdict" in line or "reason" in line
        for metric in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    }
    assert counts == {("PhotosClassified", "verdict", "block"), ("PhotosFailed", "reason", "unsupported_format")}
    totals = {
        name: line[name] for line in lines for name in ("PhotosFinished", "PhotosFailedAnyReason") if name in line
    }
    assert totals == {"PhotosFinished": [2.0], "PhotosFailedAnyReason": [1.0]}
    assert all(line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "photomod" for line in lines)


# ---------------------------------------------------------------- the failure-rate alarm on what is written


def _flushed(capsys, classified: int, failed: int) -> list[dict]:
    telemetry = PowertoolsTelemetry(RecordingTracer(), Metrics())
    capsys.readouterr()
    for _ in range(classified):
        telemetry.photo_classified("allow", None)
    for index in range(failed):
        telemetry.photo_failed("corrupt_image" if index % 2 else "too_large_for_memory")
    telemetry.flush_counts()
    return emf_documents(capsys.readouterr().out)


def _over_two_periods(documents: list[dict]) -> list[dict]:
    """The same invocation's lines, once now and once a period (5 minutes) earlier."""
    earlier = [
        {**document, "_aws": {**document["_aws"], "Timestamp": document["_aws"]["Timestamp"] - 300_000}}
        for document in documents
    ]
    return earlier + documents


@pytest.fixture
def failure_rate_alarm(monkeypatch):
    from infra.metrics.alarms import custom_metric_alarms
    from infra.template import LocalNames, ResolvedTemplate, load_template

    template = ResolvedTemplate(load_template(), LocalNames())
    # What Lambda gives the classifier: Powertools names the `service` dimension from it.
    for name in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"):
        monkeypatch.setenv(name, template.template["Globals"]["Function"]["Environment"]["Variables"][name])
    return custom_metric_alarms(template)["ClassifyFailureRateAlarm"]


def test_the_failure_rate_alarm_fires_when_a_fifth_of_the_photos_fail_in_two_periods(capsys, failure_rate_alarm):
    from infra.metrics.alarms import ALARM, evaluate

    documents = _over_two_periods(_flushed(capsys, classified=20, failed=5))

    assert evaluate(failure_rate_alarm, documents) == ALARM


@pytest.mark.parametrize(
    ("classified", "failed", "periods"),
    [(24, 1, 2), (20, 5, 1), (0, 10, 2)],
    ids=["4%-failed", "one-period-only", "under-20-photos"],
)
def test_the_failure_rate_alarm_stays_quiet_on_a_few_bad_uploads(
    capsys, failure_rate_alarm, classified, failed, periods
):
    from infra.metrics.alarms import OK, evaluate

    documents = _flushed(capsys, classified, failed)

    assert evaluate(failure_rate_alarm, _over_two_periods(documents) if periods == 2 else documents) == OK
