"""infra.local.scheduler: the template's Schedule events, run by the local host."""

import threading
from datetime import UTC, datetime

import pytest

from infra.functions import function_specs
from infra.local.invoker import Invocation
from infra.local.scheduler import (
    ScheduledRule,
    Scheduler,
    UnsupportedSchedule,
    rate_seconds,
    schedule_rules,
    scheduled_event,
)
from infra.template import LocalNames, ResolvedTemplate, load_template


@pytest.mark.parametrize(
    "expression, seconds",
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(2 hours)", 7200), ("rate(1 day)", 86400)],
)
def test_rate_expressions(expression, seconds):
    assert rate_seconds(expression) == seconds


@pytest.mark.parametrize("expression", ["rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "cron(0 12 * * ? *)"])
def test_invalid_or_cron_expressions_are_refused(expression):
    with pytest.raises(UnsupportedSchedule):
        rate_seconds(expression)


def test_the_templates_reconciler_runs_every_five_minutes_unless_overridden():
    template = ResolvedTemplate(load_template(), LocalNames())
    events = {logical_id: spec.events for logical_id, spec in function_specs(template, {}).items()}

    (rule,) = schedule_rules(events, template.resolve)
    (fast,) = schedule_rules(events, template.resolve, interval_override_s=2)

    assert (rule.function, rule.interval_s) == ("ReconcileFunction", 300)
    assert fast.interval_s == 2


def test_disabled_schedules_are_not_run():
    events = {"F": {"Sweep": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)", "Enabled": False}}}}

    assert schedule_rules(events, lambda value: value) == []


def test_the_event_has_eventbridges_scheduled_event_shape():
    now = datetime(2026, 11, 29, 8, 0, 5, tzinfo=UTC)

    event = scheduled_event("arn:aws:events:us-east-1:123456789012:rule/r", "123456789012", "us-east-1", now)

    assert {k: v for k, v in event.items() if k != "id"} == {
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-29T08:00:05Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/r"],
        "detail": {},
    }


def test_the_scheduler_invokes_on_every_tick_and_survives_a_failing_invocation():
    calls: list[tuple[str, dict]] = []
    stop, three_calls = threading.Event(), threading.Event()

    def invoke(function, event):
        calls.append((function, event))
        if len(calls) >= 3:
            three_calls.set()
        if len(calls) == 1:
            raise RuntimeError("no environment")
        return Invocation(ok=True, result={})

    scheduler = Scheduler(
        [ScheduledRule("ReconcileFunction", "Sweep", 0.05, None)],
        invoke,
        "123456789012",
        "us-east-1",
        stop,
        log=lambda _: None,
    )
    scheduler.start()
    assert three_calls.wait(10)
    stop.set()
    scheduler.join(timeout=5)

    assert {function for function, _ in calls} == {"ReconcileFunction"}
    assert all(event["detail-type"] == "Scheduled Event" for _, event in calls)
