"""classify.telemetry with classify.service: the subsegments a batch is traced with and the EMF counts it writes."""

import json
from contextlib import contextmanager
from dataclasses import replace
from types import SimpleNamespace

import pytest
from aws_lambda_powertools import Metrics

from classify.telemetry import PowertoolsTelemetry
from tests.support.images import solid_jpeg
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
        for metric in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    }
    assert counts == {("PhotosClassified", "verdict", "block"), ("PhotosFailed", "reason", "unsupported_format")}
    assert all(line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "photomod" for line in lines)
