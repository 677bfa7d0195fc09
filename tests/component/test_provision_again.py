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


def test_a_table_kept_from_before_an_index_was_added_gets_it_and_keeps_its_items(stack):
    dynamodb = stack.client("dynamodb")
    name = stack.template.physical_name("PredictionsTable")
    dynamodb.update_table(TableName=name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "pending_rows"}}])
    before = dynamodb.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"]
    assert [index["IndexName"] for index in before] == ["review_queue"]
    stack.table("PredictionsTable").put_item(
        Item={"image_id": "kept", "pending_queue": "pending", "pending_checked_at": "t0"}
    )

    provision(stack.template, stack.session, log=lambda line: None)

    indexes = dynamodb.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"]
    assert {index["IndexName"] for index in indexes} == {"review_queue", "pending_rows"}
    assert stack.table("PredictionsTable").get_item(Key={"image_id": "kept"})["Item"]["pending_checked_at"] == "t0"
