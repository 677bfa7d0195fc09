"""template.yaml: the limits API Gateway enforces before any function runs, and the feedback export's access."""

from typing import Any

import pytest

from infra.template import LocalNames, ResolvedTemplate, load_template


@pytest.fixture(scope="module")
def template() -> ResolvedTemplate:
    return ResolvedTemplate(load_template(), LocalNames())


def _properties(template: ResolvedTemplate, logical_id: str) -> dict[str, Any]:
    return template.resolve(template.resources[logical_id]["Properties"])


def test_every_method_of_every_resource_is_throttled_at_the_stage(template):
    (setting,) = _properties(template, "Api")["MethodSettings"]

    assert setting["ResourcePath"] == "/*" and setting["HttpMethod"] == "*"
    rate, burst = float(setting["ThrottlingRateLimit"]), int(setting["ThrottlingBurstLimit"])
    assert 0 < rate <= 10_000, "the account default (10,000 rps) is no limit for one small API"
    assert rate <= burst


def test_keyed_callers_have_their_own_lower_throttle(template):
    stage = _properties(template, "Api")["MethodSettings"][0]
    plan = _properties(template, "Api")["Auth"]["UsagePlan"]["Throttle"]

    assert 0 < float(plan["RateLimit"]) <= float(stage["ThrottlingRateLimit"])
    assert 0 < int(plan["BurstLimit"]) <= int(stage["ThrottlingBurstLimit"])


def test_the_feedback_export_needs_a_signed_in_analyst_not_an_api_key(template):
    properties = _properties(template, "FeedbackFunction")
    event = properties["Events"]["ExportFeedback"]["Properties"]

    assert (event["Method"], event["Path"]) == ("get", "/feedback.csv")
    assert event["Auth"] == {"Authorizer": "StaffAuthorizer"}
    assert properties["Environment"]["Variables"]["EXPORT_GROUP"] == "analysts"


def test_the_staff_user_pool_lets_only_administrators_create_accounts(template):
    pool = _properties(template, "StaffUserPool")
    client = _properties(template, "StaffUserPoolClient")

    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert int(pool["Policies"]["PasswordPolicy"]["MinimumLength"]) >= 12
    # A browser cannot keep a client secret; password sign-in and refresh only, no SRP-less admin flows.
    assert client["GenerateSecret"] is False
    assert set(client["ExplicitAuthFlows"]) == {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert {_properties(template, group)["GroupName"] for group in ("ModeratorsGroup", "AnalystsGroup")} == {
        "moderators",
        "analysts",
    }


def test_the_feedback_function_scans_only_the_feedback_table(template):
    statements = _properties(template, "FeedbackFunction")["Policies"][0]["Statement"]

    scans = [statement for statement in statements if "dynamodb:Scan" in statement["Action"]]
    assert [(statement["Action"], statement["Resource"]) for statement in scans] == [
        (["dynamodb:Scan"], template.arn("FeedbackTable"))
    ]


def test_the_reconciler_queries_only_the_pending_index_and_no_request_reaches_it(template):
    properties = _properties(template, "ReconcileFunction")
    statements = properties["Policies"][0]["Statement"]

    queries = [statement for statement in statements if "dynamodb:Query" in statement["Action"]]
    assert [statement["Resource"] for statement in queries] == [
        f"{template.arn('PredictionsTable')}/index/pending_rows"
    ]
    assert {event["Type"] for event in properties["Events"].values()} == {"Schedule"}


def test_no_other_function_may_scan_a_table(template):
    for logical_id in template.resources_of_type("AWS::Serverless::Function"):
        if logical_id == "FeedbackFunction":
            continue
        for policy in _properties(template, logical_id).get("Policies", []):
            for statement in policy.get("Statement", []):
                assert "dynamodb:Scan" not in statement["Action"], logical_id
