"""The template's alarms on the functions' own metrics fire on the EMF lines the handlers really write (issue 22).

Each handler runs under moto with its template environment; what it prints is what CloudWatch would read from its
log. infra.metrics.alarms applies the alarm (namespace, metric name, the exact dimension set, statistic, period,
threshold) to those lines: a name or a dimension the function does not write would leave the alarm quiet forever.
"""

from datetime import timedelta
from typing import Any

import pytest

from infra.metrics.alarms import ALARM, OK, custom_metric_alarms, evaluate
from photomod_shared import ids
from photomod_shared.clock import iso, utc_now
from photomod_shared.prediction import EventStamp, Prediction
from photomod_shared.tables import PredictionTable
from tests.component.test_reconcile_handler import scheduled_event
from tests.support.metrics import emf_documents

DEAD_LETTER_IMAGE_ID = "9f2c1e4b7a6d4c3e8b1a0f9e8d7c6b5a"  # the upload events/dead_letter_batch.json is about


@pytest.fixture
def alarms(stack):
    return custom_metric_alarms(stack.template)


@pytest.fixture
def predictions(stack) -> PredictionTable:
    return PredictionTable(stack.table("PredictionsTable"))


def printed_emf(capsys) -> list[dict[str, Any]]:
    return emf_documents(capsys.readouterr().out)


def test_the_dead_letter_alarm_fires_when_a_photo_ends_retries_exhausted(stack, alarms, load_event, capsys):
    with stack.handler_module("DeadLetterFunction") as module:
        capsys.readouterr()
        module.lambda_handler(load_event("dead_letter_batch"), stack.context("DeadLetterFunction"))

    assert evaluate(alarms["ClassifyDeadLetterAlarm"], printed_emf(capsys)) == ALARM


def test_the_dead_letter_alarm_stays_quiet_when_the_photo_was_classified_meanwhile(
    stack, alarms, predictions, load_event, capsys
):
    # A later delivery of the same notification succeeded: the dead letter changes nothing and counts nothing.
    predictions.record_outcome(
        Prediction(DEAD_LETTER_IMAGE_ID, "done", prediction="clog", classified_at="2026-11-26T09:15:00.000Z"),
        EventStamp("00674591F1A1B2C3D4", "2026-11-26T09:14:09.512Z", "v1"),
        "x",
    )
    with stack.handler_module("DeadLetterFunction") as module:
        capsys.readouterr()
        module.lambda_handler(load_event("dead_letter_batch"), stack.context("DeadLetterFunction"))

    assert evaluate(alarms["ClassifyDeadLetterAlarm"], printed_emf(capsys), at_ms=_now_ms()) == OK


def _pending_upload(predictions: PredictionTable, created) -> str:
    image_id = ids.new_image_id()
    predictions.create_pending(
        Prediction.pending(
            image_id,
            s3_key=ids.upload_key(image_id, "jpg"),
            source=ids.SOURCE_UPLOAD,
            created_at=iso(created),
            upload_expires_at=iso(created + timedelta(seconds=300)),
        )
    )
    return image_id


def _reconcile_at(stack, monkeypatch, capsys, moment) -> list[dict[str, Any]]:
    with stack.handler_module("ReconcileFunction") as module:
        monkeypatch.setattr(module, "utc_now", lambda: moment)
        capsys.readouterr()
        module.lambda_handler(scheduled_event(), stack.context("ReconcileFunction"))
    return printed_emf(capsys)


def test_the_pending_alarm_fires_when_the_reconciler_settles_a_photo_pending_too_long(
    stack, alarms, predictions, monkeypatch, capsys
):
    now = utc_now()
    _pending_upload(predictions, created=now - timedelta(hours=2))  # an upload that never arrived

    documents = _reconcile_at(stack, monkeypatch, capsys, now)

    assert evaluate(alarms["PhotosPendingTooLongAlarm"], documents) == ALARM


def test_the_pending_alarm_stays_quiet_while_photos_are_pending_for_less_than_the_threshold(
    stack, alarms, predictions, monkeypatch, capsys
):
    now = utc_now()
    _pending_upload(predictions, created=now - timedelta(seconds=30))

    documents = _reconcile_at(stack, monkeypatch, capsys, now)

    assert documents, "the reconciler wrote no metrics at all"
    assert evaluate(alarms["PhotosPendingTooLongAlarm"], documents) == OK


def _now_ms() -> int:
    return int(utc_now().timestamp() * 1000)
