"""EventBridge schedules, as the local host runs them: the template's `Schedule` events invoke their function.

Only `rate(...)` expressions are run locally; a `cron(...)` one is reported and skipped. Tests shorten every
rate with `interval_override_s`.
"""

import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}


class UnsupportedSchedule(ValueError):
    pass


def rate_seconds(expression: str) -> int:
    """rate(5 minutes) -> 300. EventBridge requires the singular unit for 1 and the plural otherwise."""
    match = _RATE.match(expression.strip())
    if not match:
        raise UnsupportedSchedule(f"only rate(...) schedules run locally, not {expression!r}")
    value, unit = int(match[1]), match[2]
    if value < 1 or (value == 1) != (not unit.endswith("s")):
        raise UnsupportedSchedule(f"{expression!r} is not a valid rate expression")
    return value * _UNIT_S[unit.rstrip("s")]


@dataclass(frozen=True)
class ScheduledRule:
    function: str  # logical id
    rule_name: str
    interval_s: float
    payload: Any | None  # the event's Input (JSON), else None: EventBridge's Scheduled Event


def scheduled_event(rule_arn: str, account_id: str, region: str, now: datetime | None = None) -> dict[str, Any]:
    """The event EventBridge sends a target on a schedule."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def schedule_rules(
    function_events: dict[str, dict[str, dict[str, Any]]],
    resolve: Callable[[Any], Any],
    interval_override_s: float | None = None,
    log: Callable[[str], object] = print,
) -> list[ScheduledRule]:
    """The enabled Schedule events of every function ({logical id: Events})."""
    rules = []
    for function, events in function_events.items():
        for event_name, event in events.items():
            if event.get("Type") != "Schedule":
                continue
            properties = resolve(event.get("Properties", {}))
            if properties.get("Enabled") is False or properties.get("State") == "DISABLED":
                continue
            try:
                interval = float(rate_seconds(str(properties["Schedule"])))
            except UnsupportedSchedule as error:
                log(f"  {function}.{event_name}: {error}; not run locally")
                continue
            payload = json.loads(properties["Input"]) if "Input" in properties else None
            name = str(properties.get("Name") or f"{function}{event_name}")
            rules.append(ScheduledRule(function, name, interval_override_s or interval, payload))
    return rules


class Scheduler(threading.Thread):
    """Invokes each rule's function every interval (the first time one interval after start)."""

    def __init__(
        self,
        rules: list[ScheduledRule],
        invoke: Callable[[str, Any], Any],
        account_id: str,
        region: str,
        stop: threading.Event,
        log: Callable[[str], object] = print,
    ):
        super().__init__(daemon=True, name="scheduler")
        self.rules, self.invoke, self.account_id, self.region = rules, invoke, account_id, region
        self.stop_event = stop
        self.log = log

    def run(self) -> None:
        threads = [threading.Thread(target=self._run_rule, args=(rule,), daemon=True) for rule in self.rules]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _run_rule(self, rule: ScheduledRule) -> None:
        rule_arn = f"arn:aws:events:{self.region}:{self.account_id}:rule/{rule.rule_name}"
        while not self.stop_event.wait(rule.interval_s):
            event = (
                rule.payload if rule.payload is not None else scheduled_event(rule_arn, self.account_id, self.region)
            )
            try:
                invocation = self.invoke(rule.function, event)
                status = "ok" if invocation.ok else f"error {json.dumps(invocation.error)[:500]}"
                self.log(f"[{rule.rule_name}] {rule.function}: {status} ({invocation.duration_ms:.0f} ms)")
            except Exception as error:  # a failed run must not end the schedule
                self.log(f"[{rule.rule_name}] {rule.function}: could not invoke: {error!r}")
