"""Provisioning onto state kept from an earlier run (the emulator's saved state): nothing is lost, the template wins."""

import copy

from infra.local.provision import provision
from infra.template import LocalNames, ResolvedTemplate, load_template


def test_provisioning_again_with_other_settings_keeps_data_and_applies_the_template(stack):
    s3, sqs = stack.client("s3"), stack.client("sqs")
    s3.put_object(Bucket=stack.bucket, Key="uploads/kept.jpg", Body=b"photo")
    queue_url = sqs.get_queue_url(QueueName=stack.template.physical_name("ClassifyQueue"))["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="kept")
    changed = ResolvedTemplate(
        copy.deepcopy(load_template()),
        LocalNames(region="us-east-1", parameter_overrides={"ClassifyQueueVisibilityTimeoutSeconds": "42"}),
    )

    provision(changed, stack.session, log=lambda line: None)

    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "42"
    assert int(attributes["ApproximateNumberOfMessages"]) >= 1
    assert s3.get_object(Bucket=stack.bucket, Key="uploads/kept.jpg")["Body"].read() == b"photo"
