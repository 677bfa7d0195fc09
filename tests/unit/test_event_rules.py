"""infra.local.event_rules: the template's EventBridge rules put on the emulator, so a verdict event put on the bus
reaches the webhook's queue as it would on AWS (moto's EventBridge delivers to SQS targets itself)."""

import json

import boto3
import pytest
from moto import mock_aws

from infra.local.event_rules import provision_rules
from infra.local.provision import provision
from infra.template import LocalNames, ResolvedTemplate, load_template


@pytest.fixture
def webhook_template() -> ResolvedTemplate:
    return ResolvedTemplate(
        load_template(), LocalNames(parameter_overrides={"WebhookUrl": "http://127.0.0.1:9/photomod/events"})
    )


@mock_aws
def test_a_verdict_event_on_the_bus_reaches_the_webhook_queue(webhook_template):
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    provision(webhook_template, session, log=lambda _: None)
    events, sqs = session.client("events"), session.client("sqs")

    assert provision_rules(webhook_template, events, log=lambda _: None) == ["photomod-local-WebhookRule"]
    events.put_events(
        Entries=[
            {
                "Source": "photomod",
                "DetailType": "Photo Judged",
                "Detail": json.dumps({"event_id": "e1", "image_id": "img1"}),
                "EventBusName": webhook_template.ref("VerdictBus"),
            },
            # Not a verdict event: the rule's pattern leaves it out.
            {"Source": "someone.else", "DetailType": "x", "Detail": "{}", "EventBusName": "photomod-local-verdicts"},
        ]
    )

    queue = webhook_template.queue_url("WebhookQueue")
    received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["detail"]["event_id"] for m in received] == ["e1"]


@mock_aws
def test_the_signing_secret_is_generated_once_and_kept_across_runs(webhook_template):
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    secrets = session.client("secretsmanager")
    provision(webhook_template, session, log=lambda _: None)
    first = secrets.get_secret_value(SecretId=webhook_template.ref("WebhookSecret"))["SecretString"]

    provision(webhook_template, session, log=lambda _: None)

    assert secrets.get_secret_value(SecretId="photomod-local-webhook-secret")["SecretString"] == first
    assert len(first) == 44 and first.isalnum()


def test_a_rule_whose_target_is_no_queue_is_refused_at_start(webhook_template):
    targets = [{"Id": "fn", "Arn": "arn:aws:lambda:us-east-1:1:function:x"}]
    rule = webhook_template.resources["WebhookRule"]
    webhook_template.resources["WebhookRule"] = {**rule, "Properties": {**rule["Properties"], "Targets": targets}}

    with pytest.raises(SystemExit, match="SQS targets only"):
        provision_rules(webhook_template, events=None, log=lambda _: None)
