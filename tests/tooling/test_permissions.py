"""infra.checks.permissions: recorded AWS calls judged against the template's policies by IAM's evaluation logic."""

import copy

import pytest

from infra.checks.permissions import (
    IAM_TOOLS,
    SAM_PYTHON,
    authorization_requests,
    check_calls,
    function_policies,
    stack_resource_arns,
)
from infra.template import LocalNames

pytestmark = [
    pytest.mark.skipif(not SAM_PYTHON.is_file(), reason="SAM's translator (.venv-sam) is not installed: `make sam`"),
    pytest.mark.skipif(
        not (IAM_TOOLS / "node_modules").is_dir(), reason="the IAM simulator is not installed: `make iam`"
    ),
]

# With a webhook, so that its function's statements are judged too.
NAMES = LocalNames(parameter_overrides={"WebhookUrl": "https://shop.example/photomod/events"})
BUCKET = "photomod-local-images-123456789012"
PREDICTIONS = "photomod-local-PredictionsTable"
FEEDBACK = "photomod-local-FeedbackTable"
REPORT_LIMITS = "photomod-local-ReportLimitsTable"
PHOTO_BANK = "photomod-local-PhotoBankTable"
PHOTO_HASH_INDEX = "photomod-local-PhotoHashIndexTable"
CLASSIFY_QUEUE_URL = "http://127.0.0.1:4566/123456789012/photomod-local-ClassifyQueue"
DISTRIBUTION = "photomod-local-PhotosDistribution"
VERDICT_OUTBOX_URL = "http://127.0.0.1:4566/123456789012/photomod-local-VerdictOutboxQueue"


def call(operation: str, status: int = 200, service: str = "s3", **params):
    return {"service": service, "operation": operation, "params": params, "status": status, "error": None}


def presigned(kind: str, operation: str, **params):
    return {"service": "s3", "operation": operation, "params": params, "presigned": kind}


# One call each template statement exists for, in the shape infra/local/worker.py records them.
CALLS_BY_STATEMENT = {
    ("UploadFunction", "RecordAndReadPredictions"): call("GetItem", service="dynamodb", TableName=PREDICTIONS),
    ("UploadFunction", "PresignUploadsAndCheckArrival"): presigned(
        "post", "PutObject", Bucket=BUCKET, Key="uploads/a.jpg"
    ),
    ("UploadFunction", "TellUploadsThatNeverArrived"): call("HeadObject", 404, Bucket=BUCKET, Key="uploads/a.jpg"),
    ("UploadFunction", "ShowJudgedRenditions"): presigned("url", "GetObject", Bucket=BUCKET, Key="renditions/a/v1.jpg"),
    ("PredictFunction", "RecordAndReadPredictions"): call("PutItem", service="dynamodb", TableName=PREDICTIONS),
    ("PredictFunction", "StorePhotos"): call("PutObject", Bucket=BUCKET, Key="uploads/a.jpg"),
    ("ReviewsFunction", "ListTheReviewQueue"): call(
        "Query", service="dynamodb", TableName=PREDICTIONS, IndexName="review_queue"
    ),
    ("ReviewsFunction", "SettleReviews"): call("UpdateItem", service="dynamodb", TableName=PREDICTIONS),
    ("ReviewsFunction", "KeepThePhotoBank"): call("PutItem", service="dynamodb", TableName=PHOTO_BANK),
    ("ClassifyFunction", "ReadThePhotoBank"): call(
        "Query", service="dynamodb", TableName=PHOTO_BANK, IndexName="changes"
    ),
    ("RekognitionFunction", "ReadThePhotoBank"): call(
        "Query", service="dynamodb", TableName=PHOTO_BANK, IndexName="changes"
    ),
    ("ClassifyFunction", "IndexPhotoHashes"): call("BatchWriteItem", service="dynamodb", TableNames=[PHOTO_HASH_INDEX]),
    ("ReviewsFunction", "ShowPhotosInReview"): presigned("url", "GetObject", Bucket=BUCKET, Key="renditions/a/v1.jpg"),
    ("ReviewsFunction", "PublishDecisions"): call("DeleteObject", Bucket=BUCKET, Key="published/a.jpg"),
    ("FeedbackFunction", "ReadPredictions"): call("GetItem", service="dynamodb", TableName=PREDICTIONS),
    ("FeedbackFunction", "ReportToReview"): call("UpdateItem", service="dynamodb", TableName=PREDICTIONS),
    ("FeedbackFunction", "UnpublishReportedPhotos"): call("DeleteObject", Bucket=BUCKET, Key="published/a.jpg"),
    ("FeedbackFunction", "RecordFeedback"): call("PutItem", service="dynamodb", TableName=FEEDBACK),
    ("FeedbackFunction", "ExportFeedback"): call("Scan", service="dynamodb", TableName=FEEDBACK),
    ("FeedbackFunction", "CountReportsThatHide"): call("UpdateItem", service="dynamodb", TableName=REPORT_LIMITS),
    ("ClassifyFunction", "ReadPhotos"): call("GetObject", Bucket=BUCKET, Key="incoming/summer/shoe.jpg"),
    ("ClassifyFunction", "TellDeletedPhotos"): call("GetObject", 404, Bucket=BUCKET, Key="uploads/gone.jpg"),
    ("ClassifyFunction", "WritePredictions"): call("BatchGetItem", service="dynamodb", TableNames=[PREDICTIONS]),
    ("RekognitionFunction", "ReadPhotosToJudge"): call(
        "GetObject", Bucket=BUCKET, Key="incoming/shop/a.jpg", VersionId="v1"
    ),
    ("RekognitionFunction", "TellMissingPhotos"): call("GetObject", 404, Bucket=BUCKET, Key="incoming/gone.jpg"),
    ("ClassifyFunction", "ReadTheShopsPolicy"): call(
        "GetParameter", service="ssm", Name=f"/{NAMES.stack_name}/moderation-policy"
    ),
    ("RekognitionFunction", "ReadTheShopsPolicy"): call(
        "GetParameter", service="ssm", Name=f"/{NAMES.stack_name}/moderation-policy"
    ),
    ("ClassifyFunction", "AnnounceVerdicts"): call(
        "PutEvents", service="events", EventBusNames=[f"{NAMES.stack_name}-verdicts"]
    ),
    ("DeadLetterFunction", "AnnounceVerdicts"): call(
        "PutEvents", service="events", EventBusNames=[f"{NAMES.stack_name}-verdicts"]
    ),
    ("ReviewsFunction", "AnnounceVerdicts"): call(
        "PutEvents", service="events", EventBusNames=[f"{NAMES.stack_name}-verdicts"]
    ),
    ("FeedbackFunction", "AnnounceVerdicts"): call(
        "PutEvents", service="events", EventBusNames=[f"{NAMES.stack_name}-verdicts"]
    ),
    ("ReconcileFunction", "AnnounceVerdicts"): call(
        "PutEvents", service="events", EventBusNames=[f"{NAMES.stack_name}-verdicts"]
    ),
    ("ClassifyFunction", "WriteRenditions"): call("PutObject", Bucket=BUCKET, Key="renditions/a/v1.jpg"),
    ("ClassifyFunction", "PublishAllowedPhotos"): call("DeleteObject", Bucket=BUCKET, Key="published/a.jpg"),
    ("ClassifyFunction", "HandBackUnstartedPhotos"): call("SendMessage", service="sqs", QueueUrl=CLASSIFY_QUEUE_URL),
    ("DeadLetterFunction", "MarkPredictionsFailed"): call("UpdateItem", service="dynamodb", TableName=PREDICTIONS),
    # Only this stack's distribution (locally no CDN runs, so the call is never made: its name stands in for an id).
    **{
        (function, "InvalidateUnpublishedPhotos"): call(
            "CreateInvalidation", service="cloudfront", DistributionId=DISTRIBUTION
        )
        for function in ("ClassifyFunction", "ReviewsFunction", "FeedbackFunction", "DeadLetterFunction")
    },
    **{
        (function, "TellPublishedPhotos"): call("ListObjectsV2", Bucket=BUCKET, Prefix="published/a.jpg", MaxKeys=1)
        for function in ("ReviewsFunction", "FeedbackFunction", "DeadLetterFunction")
    },
    ("DeadLetterFunction", "UnpublishFailedPhotos"): call("DeleteObject", Bucket=BUCKET, Key="published/a.jpg"),
    ("ReconcileFunction", "SettlePendingPhotos"): call("GetItem", service="dynamodb", TableName=PREDICTIONS),
    ("ReconcileFunction", "FindPendingPhotos"): call(
        "Query", service="dynamodb", TableName=PREDICTIONS, IndexName="pending_rows"
    ),
    ("ReconcileFunction", "ListPhotos"): call("ListObjectsV2", Bucket=BUCKET, Prefix="incoming/"),
    ("ReconcileFunction", "CheckPhotosArrived"): call("HeadObject", Bucket=BUCKET, Key="uploads/a.jpg"),
    ("ReconcileFunction", "RequeueNotifications"): call("SendMessage", service="sqs", QueueUrl=CLASSIFY_QUEUE_URL),
    **{
        (function, "KeepRefusedVerdictEvents"): call("SendMessage", service="sqs", QueueUrl=VERDICT_OUTBOX_URL)
        for function in ("ClassifyFunction", "DeadLetterFunction", "ReviewsFunction", "FeedbackFunction")
    },
    ("ReconcileFunction", "KeepRefusedVerdictEvents"): call("SendMessage", service="sqs", QueueUrl=VERDICT_OUTBOX_URL),
    ("VerdictOutboxFunction", "AnnounceVerdicts"): call(
        "PutEvents", service="events", EventBusNames=[f"{NAMES.stack_name}-verdicts"]
    ),
    ("WebhookFunction", "ReadTheSigningSecret"): call(
        "GetSecretValue", service="secretsmanager", SecretId=f"{NAMES.stack_name}-webhook-secret"
    ),
}


@pytest.fixture(scope="module")
def policies():
    return function_policies(NAMES)


def calls_by_function():
    calls: dict[str, list] = {}
    for (function, _sid), recorded in CALLS_BY_STATEMENT.items():
        calls.setdefault(function, []).append(recorded)
    return calls


def without_statement(policies, function: str, sid: str):
    trimmed = copy.deepcopy(policies)
    for policy in trimmed[function]:
        policy["policy"]["Statement"] = [s for s in policy["policy"]["Statement"] if s.get("Sid") != sid]
    return trimmed


def test_the_template_allows_every_call_its_statements_are_for_and_uses_every_statement(policies):
    report = check_calls(calls_by_function(), policies, NAMES)

    assert report.denied == [], report.describe()
    assert report.unused == {}, report.describe()


def test_every_statement_of_every_function_is_covered_here(policies):
    sids = {(function, s["Sid"]) for function, docs in policies.items() for d in docs for s in d["policy"]["Statement"]}

    assert sids == set(CALLS_BY_STATEMENT)


@pytest.mark.parametrize(("function", "sid"), list(CALLS_BY_STATEMENT), ids=lambda value: str(value))
def test_removing_a_statement_fails_the_call_that_needs_it_and_names_what_to_grant(policies, function, sid):
    report = check_calls(calls_by_function(), without_statement(policies, function, sid), NAMES)

    assert report.denied, f"removing {function} {sid} went unnoticed"
    denial = report.denied[0]
    assert denial.request.function == function
    message = str(denial)
    assert denial.request.action in message and denial.request.resource in message
    assert '"Effect": "Allow"' in message  # the statement to add


def test_the_staff_export_may_read_its_photos_decisions_and_nothing_else_new(policies):
    # The export's one look-up per page of the photos' decisions (BatchGetItem), and only on the predictions.
    export_reads = call("BatchGetItem", service="dynamodb", TableNames=[PREDICTIONS])
    elsewhere = call("BatchGetItem", service="dynamodb", TableNames=[FEEDBACK])
    quota_read = call("GetItem", service="dynamodb", TableName=REPORT_LIMITS)

    assert check_calls({"FeedbackFunction": [export_reads]}, policies, NAMES).denied == []
    assert check_calls({"FeedbackFunction": [elsewhere]}, policies, NAMES).denied
    assert check_calls({"FeedbackFunction": [quota_read]}, policies, NAMES).denied
    # The reviews function, which serves moderators, cannot touch the report counters.
    counters = call("UpdateItem", service="dynamodb", TableName=REPORT_LIMITS)
    assert check_calls({"ReviewsFunction": [counters]}, policies, NAMES).denied


def test_only_moderators_fill_the_photo_bank_and_only_the_classifier_indexes_hashes(policies):
    bank_write = call("PutItem", service="dynamodb", TableName=PHOTO_BANK)
    bank_change = call("UpdateItem", service="dynamodb", TableName=PHOTO_BANK)
    index_write = call("BatchWriteItem", service="dynamodb", TableNames=[PHOTO_HASH_INDEX])
    bank_scan = call("Query", service="dynamodb", TableName=PHOTO_BANK)  # the table itself, not its change index

    for function in ("ClassifyFunction", "RekognitionFunction", "FeedbackFunction", "UploadFunction"):
        assert check_calls({function: [bank_write]}, policies, NAMES).denied, function
        assert check_calls({function: [bank_change]}, policies, NAMES).denied, function
    for function in ("RekognitionFunction", "ReviewsFunction", "FeedbackFunction"):
        assert check_calls({function: [index_write]}, policies, NAMES).denied, function
    assert check_calls({"ClassifyFunction": [bank_scan]}, policies, NAMES).denied
    assert check_calls({"ReviewsFunction": [bank_write, bank_change]}, policies, NAMES).denied == []


def test_without_list_bucket_a_missing_key_answers_403_on_aws(policies):
    # Given a role with s3:GetObject on the key but no s3:ListBucket (the template before issue 7)
    trimmed = without_statement(policies, "UploadFunction", "TellUploadsThatNeverArrived")
    head_of_missing_key = call("HeadObject", 404, Bucket=BUCKET, Key="uploads/never-sent.jpg")

    # When the recorded HeadObject of a missing key (404 on the emulator) is judged as AWS would
    report = check_calls({"UploadFunction": [head_of_missing_key]}, trimmed, NAMES)

    # Then it is refused: on AWS this call answers 403, so the code would never see the 404
    ((denial,),) = [report.denied]
    assert denial.request.action == "s3:ListBucket"
    assert denial.request.resource == f"arn:aws:s3:::{BUCKET}"
    assert "403" in str(denial)
    # and the same call for an object that exists needs no ListBucket
    assert (
        check_calls(
            {"UploadFunction": [call("HeadObject", 200, Bucket=BUCKET, Key="uploads/a.jpg")]}, trimmed, NAMES
        ).denied
        == []
    )


def test_list_bucket_outside_the_granted_prefixes_is_refused(policies):
    missing_elsewhere = call("HeadObject", 404, Bucket=BUCKET, Key="private/report.csv")

    report = check_calls({"UploadFunction": [missing_elsewhere]}, policies, NAMES)

    assert {denial.request.action for denial in report.denied} == {"s3:GetObject", "s3:ListBucket"}


def test_calls_map_to_the_actions_and_resources_iam_authorises():
    head = authorization_requests("F", call("HeadObject", Bucket="b", Key="k/x"), "us-east-1", "1")
    batch = authorization_requests(
        "F", call("BatchGetItem", service="dynamodb", TableNames=["t1", "t2"]), "us-east-1", "123"
    )
    query = authorization_requests(
        "F", call("Query", service="dynamodb", TableName="t", IndexName="i"), "us-east-1", "123"
    )
    identity = authorization_requests("F", call("GetCallerIdentity", service="sts"), "us-east-1", "123")

    assert [(r.action, r.resource) for r in head] == [("s3:GetObject", "arn:aws:s3:::b/k/x")]
    assert [r.resource for r in batch] == [
        "arn:aws:dynamodb:us-east-1:123:table/t1",
        "arn:aws:dynamodb:us-east-1:123:table/t2",
    ]
    assert [r.resource for r in query] == ["arn:aws:dynamodb:us-east-1:123:table/t/index/i"]
    assert identity == []  # needs no permission


def test_a_refused_call_on_a_resource_outside_the_stack_is_told_apart_from_a_missing_statement(policies):
    # A test feeding the classifier a notification about a bucket the stack does not own: AWS refuses the read
    # too, and the retry-then-dead-letter path it exercises is the same.
    foreign = call("GetObject", 404, Bucket="someone-elses-bucket", Key="incoming/a.jpg")
    own = call("GetObject", 404, Bucket=BUCKET, Key="private/a.jpg")

    report = check_calls({"ClassifyFunction": [foreign, own]}, policies, NAMES, stack_resource_arns(NAMES))

    assert {denial.request.resource for denial in report.foreign} == {
        "arn:aws:s3:::someone-elses-bucket/incoming/a.jpg",
        "arn:aws:s3:::someone-elses-bucket",
    }
    assert {denial.request.resource for denial in report.denied} == {
        f"arn:aws:s3:::{BUCKET}/private/a.jpg",
        f"arn:aws:s3:::{BUCKET}",
    }


def test_a_copy_is_authorised_as_a_read_of_its_source_and_a_write_of_its_target():
    copy = authorization_requests(
        "F",
        call("CopyObject", Bucket="b", Key="published/x.jpg", CopySource={"Bucket": "b", "Key": "renditions/x/v.jpg"}),
        "us-east-1",
        "1",
    )

    assert [(r.action, r.resource) for r in copy] == [
        ("s3:GetObject", "arn:aws:s3:::b/renditions/x/v.jpg"),
        ("s3:PutObject", "arn:aws:s3:::b/published/x.jpg"),
    ]


def test_unpublishing_functions_may_invalidate_no_other_distribution(policies):
    elsewhere = call("CreateInvalidation", service="cloudfront", DistributionId="E2OTHERSHOPS")

    for function in ("ClassifyFunction", "ReviewsFunction", "FeedbackFunction", "DeadLetterFunction"):
        assert check_calls({function: [elsewhere]}, policies, NAMES).denied, function
    # and a function that never unpublishes may not invalidate at all
    own = call("CreateInvalidation", service="cloudfront", DistributionId=DISTRIBUTION)
    assert check_calls({"UploadFunction": [own]}, policies, NAMES).denied
