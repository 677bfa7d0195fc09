"""template.yaml keeps the security and reliability properties the design relies on."""

from types import SimpleNamespace
from typing import Any

import pytest
from werkzeug.test import Client

from infra.local.apigateway import RestApi
from infra.rest_api import Route, api_settings
from infra.template import LocalNames, ResolvedTemplate, load_template
from photomod_shared import prediction_table as table

# A distinctive origin, so an assertion can only pass if the value really comes from the WebOrigin parameter.
WEB_ORIGIN = "https://shop.example.test"
PHOTO_PREFIXES = ["incoming/", "uploads/"]


@pytest.fixture(scope="module")
def template() -> ResolvedTemplate:
    return ResolvedTemplate(load_template(), LocalNames(parameter_overrides={"WebOrigin": WEB_ORIGIN}))


@pytest.fixture(scope="module")
def defaults() -> ResolvedTemplate:
    return ResolvedTemplate(load_template(), LocalNames())


def _properties(template: ResolvedTemplate, logical_id: str) -> dict[str, Any]:
    return template.resolve(template.resources[logical_id].get("Properties", {}))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(template: ResolvedTemplate, function: str) -> list[dict[str, Any]]:
    properties = template.resources[function]["Properties"]
    policies = properties.get("Policies", [])
    # Managed policies and SAM policy templates grant what they grant elsewhere; only inline statements are checked.
    assert all(isinstance(policy, dict) and set(policy) == {"Statement"} for policy in _as_list(policies)), function
    return [statement for policy in template.resolve(_as_list(policies)) for statement in policy["Statement"]]


def _sqs_events(template: ResolvedTemplate, function: str) -> list[dict[str, Any]]:
    events = _properties(template, function).get("Events", {})
    return [event["Properties"] for event in events.values() if event["Type"] == "SQS"]


# ---------------------------------------------------------------- IAM


def test_every_function_has_inline_policies_and_no_role_of_its_own(template):
    for function in template.resources_of_type("AWS::Serverless::Function"):
        properties = template.resources[function]["Properties"]
        assert "Role" not in properties, f"{function} brings a role its Policies do not describe"
        assert _statements(template, function), f"{function} has no policy statements"


def test_every_function_statement_names_specific_actions_and_resources(template):
    for function in template.resources_of_type("AWS::Serverless::Function"):
        for statement in _statements(template, function):
            where = f"{function} {statement.get('Sid', statement)}"
            assert statement["Effect"] == "Allow", where
            assert "NotAction" not in statement and "NotResource" not in statement, where
            actions = _as_list(statement["Action"])
            assert actions and all("*" not in action for action in actions), where
            resources = _as_list(statement["Resource"])
            assert resources and all(isinstance(resource, str) for resource in resources), where
            assert all(resource != "*" and not resource.endswith(":*") for resource in resources), where


def test_classify_function_can_only_get_photos_under_the_photo_prefixes_and_put_renditions(template):
    bucket_arn = template.arn("ImagesBucket")
    s3_grants = {
        (action, resource)
        for statement in _statements(template, "ClassifyFunction")
        for action in _as_list(statement["Action"])
        if action.startswith("s3:")
        for resource in _as_list(statement["Resource"])
    }

    # GetObjectVersion: the version a notification names (the bucket is versioned). It writes (and, to publish
    # one, reads) renditions only, and publishes or unpublishes under published/ only.
    assert s3_grants == {
        (action, f"{bucket_arn}/{prefix}*")
        for prefix in PHOTO_PREFIXES
        for action in ("s3:GetObject", "s3:GetObjectVersion")
    } | {("s3:ListBucket", bucket_arn)} | {
        (action, f"{bucket_arn}/renditions/*") for action in ("s3:PutObject", "s3:GetObject")
    } | {(action, f"{bucket_arn}/published/*") for action in ("s3:PutObject", "s3:DeleteObject")}


@pytest.mark.parametrize(
    ("function", "prefixes"),
    [
        ("UploadFunction", ["uploads/"]),
        # published/: whether a photo it hides was shown, so that only those are invalidated on the CDN.
        ("ClassifyFunction", sorted([*PHOTO_PREFIXES, "published/"])),
        ("ReviewsFunction", ["published/"]),
        ("FeedbackFunction", ["published/"]),
        ("DeadLetterFunction", ["published/"]),
    ],
)
def test_list_bucket_is_granted_only_under_the_prefixes_whose_missing_keys_the_function_must_tell(
    template, function, prefixes
):
    # Without s3:ListBucket, S3 answers 403 for a missing key; with it unscoped the role could list the bucket.
    (statement,) = [s for s in _statements(template, function) if "s3:ListBucket" in _as_list(s["Action"])]

    assert _as_list(statement["Resource"]) == [template.arn("ImagesBucket")]
    assert set(statement["Condition"]) == {"StringLike"}
    assert sorted(_as_list(statement["Condition"]["StringLike"]["s3:prefix"])) == [f"{prefix}*" for prefix in prefixes]


@pytest.mark.parametrize("function", ["ClassifyFunction", "ReviewsFunction", "FeedbackFunction", "DeadLetterFunction"])
def test_the_functions_that_unpublish_may_invalidate_only_this_stacks_distribution(template, function):
    properties = template.resources[function]["Properties"]
    statements = [statement for policy in _as_list(properties["Policies"]) for statement in policy["Statement"]]
    cloudfront = [s for s in statements if any(a.startswith("cloudfront:") for a in _as_list(s["Action"]))]

    (grant,) = cloudfront
    assert _as_list(grant["Action"]) == ["cloudfront:CreateInvalidation"]
    assert grant["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${PhotosDistribution}"
    }
    # Its id (GetAtt Id, as Ref): empty locally, where no CDN runs and nothing is invalidated.
    assert properties["Environment"]["Variables"]["PHOTOS_DISTRIBUTION_ID"] == {
        "Fn::GetAtt": ["PhotosDistribution", "Id"]
    }
    assert template.resolve(properties["Environment"]["Variables"]["PHOTOS_DISTRIBUTION_ID"]) == ""


# ---------------------------------------------------------------- bucket and CORS


def test_images_bucket_blocks_public_access_and_encrypts_at_rest(template):
    bucket = _properties(template, "ImagesBucket")

    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    rules = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rules and all(
        rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms", "aws:kms:dsse") for rule in rules
    )
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_bucket_cors_allows_only_the_web_origin(template):
    rules = _properties(template, "ImagesBucket")["CorsConfiguration"]["CorsRules"]

    assert rules and all(rule["AllowedOrigins"] == [WEB_ORIGIN] for rule in rules)


def test_api_cors_and_gateway_errors_allow_only_the_web_origin(template):
    api = _properties(template, "Api")

    assert api["Cors"]["AllowOrigin"] == f"'{WEB_ORIGIN}'"
    for response_type in ("DEFAULT_4XX", "DEFAULT_5XX"):
        headers = api["GatewayResponses"][response_type]["ResponseParameters"]["Headers"]
        assert headers == {"Access-Control-Allow-Origin": f"'{WEB_ORIGIN}'"}, response_type


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/no-such-route", 403), ("POST", "/uploads", 502)],
    ids=["missing-authentication-token", "function-failed"],
)
def test_local_gateway_errors_carry_the_templates_gateway_response_headers(template, method, path, status):
    routes = [Route("/uploads", "POST", "UploadFunction", api_key_required=False)]
    failed = SimpleNamespace(ok=False, result=None)
    api = RestApi(api_settings(template, "Api"), routes, lambda function, event: failed, access_log=lambda line: None)

    response = Client(api).open(path, method=method)

    assert response.status_code == status
    assert response.headers["Access-Control-Allow-Origin"] == WEB_ORIGIN


def test_presigned_uploads_live_at_most_five_minutes(template):
    parameter = template.template["Parameters"]["UploadUrlExpirySeconds"]

    assert parameter["MaxValue"] <= 300
    assert parameter["Default"] <= parameter["MaxValue"]


# ---------------------------------------------------------------- queues and notifications


def test_classify_queue_redrives_to_the_dead_letter_queue(defaults):
    (event,) = _sqs_events(defaults, "ClassifyFunction")
    queue = defaults.logical_id_for_arn(event["Queue"])
    redrive = _properties(defaults, queue)["RedrivePolicy"]

    assert redrive["deadLetterTargetArn"] == defaults.arn("ClassifyDeadLetterQueue")
    assert int(redrive["maxReceiveCount"]) >= 1


def test_classify_queue_hides_a_message_at_least_as_long_as_classify_may_run(defaults):
    (event,) = _sqs_events(defaults, "ClassifyFunction")
    queue = _properties(defaults, defaults.logical_id_for_arn(event["Queue"]))

    assert int(queue["VisibilityTimeout"]) >= int(_properties(defaults, "ClassifyFunction")["Timeout"])


def test_classify_visibility_is_six_timeouts_and_a_crash_delays_a_batch_under_a_minute(defaults):
    """AWS: visibility >= 6 x the function timeout; the visibility timeout is also the crash recovery time."""
    (event,) = _sqs_events(defaults, "ClassifyFunction")
    queue = _properties(defaults, defaults.logical_id_for_arn(event["Queue"]))
    timeout = int(_properties(defaults, "ClassifyFunction")["Timeout"])

    assert int(queue["VisibilityTimeout"]) >= 6 * timeout
    assert int(queue["VisibilityTimeout"]) < 60


def test_a_photo_that_crashes_twice_is_failed_by_classify_before_it_reaches_the_dead_letter_queue(defaults):
    # Deliveries: 1 in its batch (crash), 2 alone (crash), 3 recorded failed by classify itself.
    redrive = _properties(defaults, "ClassifyQueue")["RedrivePolicy"]

    assert int(redrive["maxReceiveCount"]) >= 3


def test_dead_letter_queue_keeps_messages_longer_than_the_classify_queue(defaults):
    # A standard queue's dead letters keep their original enqueue time: a shorter retention would expire them early.
    dead_letters = _properties(defaults, "ClassifyDeadLetterQueue")
    classify = _properties(defaults, "ClassifyQueue")

    assert int(dead_letters["MessageRetentionPeriod"]) > int(classify["MessageRetentionPeriod"])


def test_classify_event_reports_partial_failures_and_caps_concurrency(defaults):
    (event,) = _sqs_events(defaults, "ClassifyFunction")

    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 2 <= int(event["ScalingConfig"]["MaximumConcurrency"]) <= 1000


def test_dead_letter_queue_has_a_consumer(defaults):
    dead_letter_arn = defaults.arn("ClassifyDeadLetterQueue")
    consumers = [
        function
        for function in defaults.resources_of_type("AWS::Serverless::Function")
        if any(event["Queue"] == dead_letter_arn for event in _sqs_events(defaults, function))
    ]

    assert consumers == ["DeadLetterFunction"]


def test_photo_notifications_cover_exactly_the_photo_prefixes(defaults):
    notifications = _properties(defaults, "ImagesBucket")["NotificationConfiguration"]
    (event,) = _sqs_events(defaults, "ClassifyFunction")

    assert set(notifications) == {"QueueConfigurations"}
    configurations = notifications["QueueConfigurations"]
    assert all(configuration["Queue"] == event["Queue"] for configuration in configurations)
    assert all(configuration["Event"] == "s3:ObjectCreated:*" for configuration in configurations)
    # One prefix rule per configuration: a configuration without one would cover the whole bucket.
    rules = [configuration.get("Filter", {}).get("S3Key", {}).get("Rules", []) for configuration in configurations]
    assert all(len(rule) == 1 and rule[0]["Name"] == "prefix" for rule in rules), rules
    assert sorted(rule[0]["Value"] for rule in rules) == PHOTO_PREFIXES


# ---------------------------------------------------------------- /predict, display gate, review queue


def _api_events(template: ResolvedTemplate) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"]): event["Properties"]
        for function in template.resources_of_type("AWS::Serverless::Function")
        for event in _properties(template, function).get("Events", {}).values()
        if event["Type"] == "Api"
    }


def test_the_moderators_review_routes_need_a_signed_in_moderator_and_the_shoppers_routes_do_not(defaults):
    staff = {route for route, event in _api_events(defaults).items() if event.get("Auth", {}).get("Authorizer")}
    keyed = {route for route, event in _api_events(defaults).items() if event.get("Auth", {}).get("ApiKeyRequired")}

    assert {("GET", "/reviews"), ("POST", "/reviews/{image_id}")} <= staff
    assert _properties(defaults, "ReviewsFunction")["Environment"]["Variables"]["STAFF_GROUP"] == "moderators"
    # An API key identifies a machine client for its usage plan; it never opens a staff route.
    assert not staff & keyed
    shoppers = {
        ("POST", "/uploads"),
        ("GET", "/predictions/{image_id}"),
        ("POST", "/predict"),
        ("GET", "/images/{image_id}"),
    }
    assert not shoppers & (keyed | staff)


def test_the_api_key_has_a_throttled_usage_plan_and_preflights_need_no_key(defaults):
    auth = _properties(defaults, "Api")["Auth"]

    assert auth["ApiKeyRequired"] is False
    # A browser's CORS preflight never carries X-Api-Key or a token (SAM's default would require them there).
    assert auth["AddApiKeyRequiredToCorsPreflight"] is False
    assert auth["AddDefaultAuthorizerToCorsPreflight"] is False
    assert auth["UsagePlan"]["CreateUsagePlan"] == "PER_API"
    assert int(auth["UsagePlan"]["Throttle"]["RateLimit"]) > 0 and int(auth["UsagePlan"]["Throttle"]["BurstLimit"]) > 0


def test_the_api_passes_predict_bodies_as_binary(defaults):
    binary = _properties(defaults, "Api")["BinaryMediaTypes"]

    assert {"multipart~1form-data", "image~1*"} <= set(binary)


def test_the_predict_function_outlives_the_predict_wait_and_answers_before_api_gateway_gives_up(defaults):
    timeout = int(_properties(defaults, "PredictFunction")["Timeout"])
    wait = defaults.template["Parameters"]["PredictWaitSeconds"]

    assert wait["Default"] <= wait["MaxValue"] < timeout < 29  # API Gateway's integration timeout


def test_reviews_function_queries_only_the_review_queue_index(defaults):
    index = f"{defaults.arn('PredictionsTable')}/index/review_queue"
    queries = [
        statement for statement in _statements(defaults, "ReviewsFunction") if "dynamodb:Query" in statement["Action"]
    ]

    assert [_as_list(statement["Resource"]) for statement in queries] == [[index]]
    gsi = _indexes(defaults)["review_queue"]
    assert [key["AttributeName"] for key in gsi["KeySchema"]] == ["review_queue", "classified_at"]


def _indexes(template: ResolvedTemplate) -> dict[str, dict[str, Any]]:
    return {index["IndexName"]: index for index in _properties(template, "PredictionsTable")["GlobalSecondaryIndexes"]}


def test_the_reconciler_queries_the_sparse_index_of_pending_rows_and_never_scans(defaults):
    gsi = _indexes(defaults)[table.PENDING_INDEX]
    keys = [key["AttributeName"] for key in gsi["KeySchema"]]
    statements = _statements(defaults, "ReconcileFunction")
    actions = {action for statement in statements for action in _as_list(statement["Action"])}
    queries = [statement for statement in statements if "dynamodb:Query" in statement["Action"]]

    assert keys == [table.PENDING_ATTRIBUTE, table.PENDING_SINCE_ATTRIBUTE]
    # The adapter's one list of what the reconciler reads, projected by the index (nothing more is stored twice).
    assert gsi["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(table.PENDING_ROW_ATTRIBUTES)}
    assert [_as_list(statement["Resource"]) for statement in queries] == [
        [f"{defaults.arn('PredictionsTable')}/index/{table.PENDING_INDEX}"]
    ]
    assert "dynamodb:Scan" not in actions


def test_predict_has_a_function_of_its_own_with_reserved_concurrency(defaults):
    # Each /predict call holds an environment while it waits for the classifier: capped apart from the result
    # API and the display gate, whose function serves no /predict route.
    predict = _properties(defaults, "PredictFunction")
    upload_paths = {event["Properties"]["Path"] for event in _properties(defaults, "UploadFunction")["Events"].values()}

    assert (
        int(predict["ReservedConcurrentExecutions"])
        == defaults.template["Parameters"]["PredictReservedConcurrency"]["Default"]
    )
    assert {event["Properties"]["Path"] for event in predict["Events"].values()} == {"/predict"}
    assert "/predict" not in upload_paths and {"/predictions/{image_id}", "/images/{image_id}"} <= upload_paths
    assert predict["CodeUri"] == _properties(defaults, "UploadFunction")["CodeUri"]  # the upload package's 2nd handler


# ---------------------------------------------------------------- judged bytes only (issue 8)


def test_the_images_bucket_is_versioned_and_expires_replaced_versions(defaults):
    bucket = _properties(defaults, "ImagesBucket")

    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-replaced-versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] >= 1


@pytest.mark.parametrize("function", ["ClassifyFunction"])
def test_functions_that_presign_or_read_a_version_may_get_object_versions_of_photos_only(defaults, function):
    bucket_arn = defaults.arn("ImagesBucket")
    version_grants = {
        resource
        for statement in _statements(defaults, function)
        if "s3:GetObjectVersion" in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
    }

    assert version_grants == {f"{bucket_arn}/{prefix}*" for prefix in PHOTO_PREFIXES}


@pytest.mark.parametrize("function", ["UploadFunction", "ReviewsFunction"])
def test_functions_that_show_photos_may_get_renditions_only_never_uploads(defaults, function):
    bucket_arn = defaults.arn("ImagesBucket")
    reads = {
        (action, resource)
        for statement in _statements(defaults, function)
        for action in _as_list(statement["Action"])
        if action in ("s3:GetObject", "s3:GetObjectVersion")
        for resource in _as_list(statement["Resource"])
    }

    shown = {("s3:GetObject", f"{bucket_arn}/renditions/*")}
    # The upload function may also HeadObject its own uploads/ (GetObject) to tell one that never arrived.
    arrival = {("s3:GetObject", f"{bucket_arn}/uploads/*")} if function == "UploadFunction" else set()
    assert reads == shown | arrival


def test_the_cdn_may_read_only_published_photos_of_this_distribution(defaults):
    (policy,) = defaults.resources_of_type("AWS::S3::BucketPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    allows = [statement for statement in statements if statement["Effect"] == "Allow"]

    (cdn,) = allows
    assert cdn["Principal"] == {"Service": "cloudfront.amazonaws.com"} and cdn["Action"] == "s3:GetObject"
    assert defaults.resolve(cdn["Resource"]) == f"{defaults.arn('ImagesBucket')}/published/*"
    assert "AWS:SourceArn" in cdn["Condition"]["StringEquals"]
    (distribution,) = defaults.resources_of_type("AWS::CloudFront::Distribution").values()
    (origin,) = distribution["Properties"]["DistributionConfig"]["Origins"]
    assert "OriginAccessControlId" in origin


def test_local_provisioning_versions_the_bucket_as_the_template_says():
    import boto3
    from moto import mock_aws

    from infra.local.provision import provision

    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        template = ResolvedTemplate(load_template(), LocalNames())
        provision(template, session, log=lambda *_: None)
        bucket = template.physical_name("ImagesBucket")

        assert session.client("s3").get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


# ---------------------------------------------------------------- operators (issue 8)

FUNCTIONS = ["UploadFunction", "ReviewsFunction", "FeedbackFunction", "ClassifyFunction", "DeadLetterFunction"]


def _resources(template: ResolvedTemplate, kind: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: template.resolve(resource["Properties"])
        for logical_id, resource in template.resources_of_type(kind).items()
    }


def test_every_function_has_a_log_group_with_retention(defaults):
    log_groups = _resources(defaults, "AWS::Logs::LogGroup")
    named = {properties["LogGroupName"]: properties for properties in log_groups.values()}

    for function in defaults.resources_of_type("AWS::Serverless::Function"):
        group = named.get(f"/aws/lambda/{defaults.physical_name(function)}")
        assert group is not None, f"{function} has no log group of its own"
        assert group["RetentionInDays"] == "30"


def test_alarms_watch_every_functions_errors_and_throttles(defaults):
    alarms = list(_resources(defaults, "AWS::CloudWatch::Alarm").values())
    watched = {
        (alarm["Namespace"], alarm["MetricName"], alarm["Dimensions"][0]["Value"])
        for alarm in alarms
        if "Namespace" in alarm and alarm["ComparisonOperator"] == "GreaterThanThreshold" and alarm["Threshold"] == 0
    }

    for function in defaults.resources_of_type("AWS::Serverless::Function"):
        name = defaults.physical_name(function)
        assert ("AWS/Lambda", "Errors", name) in watched, function
        assert ("AWS/Lambda", "Throttles", name) in watched, function
    assert all(alarm["TreatMissingData"] == "notBreaching" for alarm in alarms)


def test_no_alarm_watches_the_dead_letter_queues_depth_which_its_function_drains_at_once(defaults):
    # DeadLetterFunction deletes what it records within seconds: the queue's depth never holds a datapoint above
    # zero. The dead-letter alarm counts the photos it ends instead (tests/component/test_alarms_fire.py).
    dead_letter_queue = defaults.physical_name("ClassifyDeadLetterQueue")
    depth_alarms = [
        logical_id
        for logical_id, alarm in _resources(defaults, "AWS::CloudWatch::Alarm").items()
        if alarm.get("Namespace") == "AWS/SQS"
        and any(dimension["Value"] == dead_letter_queue for dimension in alarm.get("Dimensions", []))
    ]

    assert depth_alarms == []


def test_alarms_notify_the_topic_parameter_only_when_it_is_set(defaults):
    topic = "arn:aws:sns:us-east-1:123456789012:photomod-alarms"
    with_topic = ResolvedTemplate(load_template(), LocalNames(parameter_overrides={"AlarmTopicArn": topic}))

    silent = _resources(defaults, "AWS::CloudWatch::Alarm")
    notifying = _resources(with_topic, "AWS::CloudWatch::Alarm")

    assert silent and all("AlarmActions" not in alarm for alarm in silent.values())
    assert all(alarm["AlarmActions"] == [topic] for alarm in notifying.values())


def test_functions_write_metrics_to_one_namespace(defaults):
    variables = defaults.template["Globals"]["Function"]["Environment"]["Variables"]

    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "photomod"
