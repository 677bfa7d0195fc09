"""classify.storage's hand-back under moto: a copy sent to the classify queue carries its counts, and the event
Lambda builds from it reads back as the same photo's delivery, not a new one."""

from aws_lambda_powertools.utilities.data_classes import SQSEvent

from classify.service import Message
from classify.storage import ClassifyQueue, message_of
from infra.local.sqs_source import sqs_event


def test_a_handed_back_copy_carries_the_unanswered_deliveries_and_its_hand_backs(stack):
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName=stack.template.physical_name("ClassifyQueue"))["QueueUrl"]
    sqs.purge_queue(QueueUrl=url)  # the bucket's test event
    # Delivered for the third time (two deliveries ended without an answer), after one earlier copy's crash.
    handed = Message("m1", '{"Records": []}', receive_count=3, earlier_receives=1, hand_backs=4)

    ClassifyQueue(sqs, url).hand_back(handed)

    (received,) = sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["All"], AttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    (record,) = SQSEvent(sqs_event([received], "arn:aws:sqs:us-east-1:123456789012:classify", "us-east-1")).records
    copy = message_of(record)
    assert (copy.body, copy.receive_count, copy.hand_backs) == (handed.body, 1, 5)
    assert copy.unanswered_deliveries == handed.unanswered_deliveries == 3
