"""The template's EventBridge rules on the emulator's buses, so events reach their targets locally as on AWS.

moto's EventBridge matches each put event against the rules and sends it to their SQS targets itself; the local
host's queue pollers (infra/local/sqs_source.py) then run the function behind each queue, e.g. the webhook's
(WebhookRule -> WebhookQueue -> WebhookFunction). A target of any other kind (a function, an API destination) is
refused here, at start, rather than silently never delivered. Running it twice is harmless (put_rule and
put_targets replace what an earlier run left).
"""

import json
from typing import Any

from infra.template import ResolvedTemplate

# Of a target's properties, those the emulator takes (RetryPolicy only matters when SQS itself is unavailable).
_TARGET_KEYS = ("Id", "Arn", "Input", "InputPath", "RetryPolicy", "DeadLetterConfig")


def provision_rules(template: ResolvedTemplate, events: Any, log: Any = print) -> list[str]:
    """Puts every AWS::Events::Rule of the template with its targets; the rules' names."""
    names = []
    for logical_id, resource in template.resources_of_type("AWS::Events::Rule").items():
        properties = template.resolve(resource["Properties"])
        if "EventPattern" not in properties:
            continue  # schedules: infra/local/scheduler.py runs those
        name = template.physical_name(logical_id)
        bus = properties.get("EventBusName", "default")
        targets = [{key: target[key] for key in _TARGET_KEYS if key in target} for target in properties["Targets"]]
        for target in targets:
            if not target["Arn"].startswith("arn:aws:sqs:"):
                raise SystemExit(f"{logical_id}: the local stack delivers rules to SQS targets only: {target['Arn']}")
        events.put_rule(
            Name=name,
            EventBusName=bus,
            EventPattern=json.dumps(properties["EventPattern"]),
            State=properties.get("State", "ENABLED"),
            Description=properties.get("Description", ""),
        )
        events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        log(f"  rule    {name} on {bus} -> {', '.join(t['Arn'].rsplit(':', 1)[-1] for t in targets)}")
        names.append(name)
    return names
