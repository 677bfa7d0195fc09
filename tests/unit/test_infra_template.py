"""infra.template: how the local stack names resources and evaluates the template's intrinsic functions."""

from typing import Any

import pytest

from infra.functions import function_specs
from infra.template import LocalNames, ResolvedTemplate, TemplateError, load_template

NAMES = dict(stack_name="photomod-test", region="eu-west-1", account_id="111122223333", endpoint_url="http://emu:4566")

SMALL_TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "WebOrigin": {"Type": "String", "Default": "http://localhost:8000"},
        "MaxUploadBytes": {"Type": "Number", "Default": 10485760},
    },
    "Resources": {
        "Bucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {"BucketName": {"Fn::Sub": "${AWS::StackName}-images-${AWS::AccountId}"}},
        },
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
        "NamedTable": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "explicit-name"}},
        "Function": {"Type": "AWS::Serverless::Function", "Properties": {}},
    },
}


def resolved(**overrides: str) -> ResolvedTemplate:
    return ResolvedTemplate(SMALL_TEMPLATE, LocalNames(**NAMES, parameter_overrides=overrides))


def test_yaml_short_forms_load_as_long_form_intrinsics():
    template = load_template()

    bucket = template["Resources"]["ImagesBucket"]["Properties"]
    assert bucket["BucketName"] == {"Fn::Sub": "${AWS::StackName}-images-${AWS::AccountId}"}
    rule = bucket["NotificationConfiguration"]["QueueConfigurations"][0]
    assert rule["Queue"] == {"Fn::GetAtt": ["ClassifyQueue", "Arn"]}
    assert template["Resources"]["ClassifyQueuePolicy"]["Properties"]["Queues"] == [{"Ref": "ClassifyQueue"}]


def test_ref_gives_parameters_pseudo_parameters_and_physical_names():
    template = resolved()

    assert template.resolve({"Ref": "WebOrigin"}) == "http://localhost:8000"
    assert template.resolve({"Ref": "MaxUploadBytes"}) == "10485760"  # parameters are strings, as in CloudFormation
    assert template.resolve({"Ref": "AWS::Region"}) == "eu-west-1"
    assert template.resolve({"Ref": "AWS::AccountId"}) == "111122223333"
    assert template.resolve({"Ref": "AWS::StackName"}) == "photomod-test"
    assert template.resolve({"Ref": "Table"}) == "photomod-test-Table"
    assert template.resolve({"Ref": "NamedTable"}) == "explicit-name"
    assert template.resolve({"Ref": "Bucket"}) == "photomod-test-images-111122223333"
    assert template.resolve({"Ref": "Queue"}) == "http://emu:4566/111122223333/photomod-test-Queue"  # a queue's URL


def test_get_att_gives_arns_and_queue_attributes():
    template = resolved()

    assert template.resolve({"Fn::GetAtt": ["Bucket", "Arn"]}) == "arn:aws:s3:::photomod-test-images-111122223333"
    assert (
        template.resolve({"Fn::GetAtt": ["Queue", "Arn"]}) == "arn:aws:sqs:eu-west-1:111122223333:photomod-test-Queue"
    )
    assert (
        template.resolve({"Fn::GetAtt": ["Table", "Arn"]})
        == "arn:aws:dynamodb:eu-west-1:111122223333:table/photomod-test-Table"
    )
    assert template.resolve({"Fn::GetAtt": ["Function", "Arn"]}) == (
        "arn:aws:lambda:eu-west-1:111122223333:function:photomod-test-Function"
    )
    assert template.resolve({"Fn::GetAtt": ["Queue", "QueueName"]}) == "photomod-test-Queue"
    with pytest.raises(ValueError, match="unsupported attribute"):
        template.resolve({"Fn::GetAtt": ["Table", "StreamArn"]})


def test_sub_replaces_refs_attributes_pseudo_parameters_and_its_own_variables():
    template = resolved()

    assert (
        template.resolve({"Fn::Sub": "${Bucket.Arn}/uploads/*"})
        == "arn:aws:s3:::photomod-test-images-111122223333/uploads/*"
    )
    assert template.resolve({"Fn::Sub": "'${WebOrigin}'"}) == "'http://localhost:8000'"
    assert template.resolve({"Fn::Sub": "arn:${AWS::Partition}:s3:::x"}) == "arn:aws:s3:::x"
    assert (
        template.resolve({"Fn::Sub": ["${Name}-${AWS::Region}", {"Name": {"Ref": "Table"}}]})
        == "photomod-test-Table-eu-west-1"
    )


def test_sub_leaves_an_escaped_literal_as_cloudformation_does():
    """`${!Literal}` renders as `${Literal}`."""
    assert resolved().resolve({"Fn::Sub": "${!Literal}-${AWS::Region}"}) == "${Literal}-eu-west-1"


def test_join_and_split():
    template = resolved()

    assert (
        template.resolve({"Fn::Join": [",", [{"Ref": "Table"}, "b", {"Ref": "AWS::Region"}]]})
        == "photomod-test-Table,b,eu-west-1"
    )
    assert template.resolve({"Fn::Split": [",", {"Fn::Join": [",", ["a", "b"]]}]}) == ["a", "b"]


def test_resolve_walks_nested_lists_and_mappings():
    template = resolved()

    value = {"Resource": [{"Fn::GetAtt": ["Table", "Arn"]}, {"Fn::Sub": "${Bucket.Arn}/*"}], "Effect": "Allow"}

    assert template.resolve(value) == {
        "Resource": [
            "arn:aws:dynamodb:eu-west-1:111122223333:table/photomod-test-Table",
            "arn:aws:s3:::photomod-test-images-111122223333/*",
        ],
        "Effect": "Allow",
    }


def test_parameter_overrides_replace_defaults():
    template = resolved(WebOrigin="https://shop.example.com", MaxUploadBytes="2048")

    assert template.resolve({"Ref": "WebOrigin"}) == "https://shop.example.com"
    assert template.resolve({"Ref": "MaxUploadBytes"}) == "2048"


def test_an_unknown_parameter_override_is_rejected():
    with pytest.raises(ValueError, match="unknown template parameters: WebOrign"):
        resolved(WebOrign="https://typo.example.com")


def test_arns_map_back_to_logical_ids():
    template = resolved()

    assert template.logical_id_for_arn("arn:aws:sqs:eu-west-1:111122223333:photomod-test-Queue") == "Queue"
    with pytest.raises(KeyError):
        template.logical_id_for_arn("arn:aws:sqs:eu-west-1:111122223333:elsewhere")


# --- the real template, resolved as the local stack resolves it -------------------------------------


@pytest.fixture(scope="module")
def template() -> ResolvedTemplate:
    return ResolvedTemplate(load_template(), LocalNames())


def test_every_reference_in_the_template_resolves(template):
    resolved_resources = template.resolve(template.resources)

    def unresolved(value: Any) -> list[Any]:
        if isinstance(value, dict):
            intrinsic = (
                [value] if len(value) == 1 and next(iter(value)) in ("Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join") else []
            )
            return intrinsic + [found for item in value.values() for found in unresolved(item)]
        if isinstance(value, list):
            return [found for item in value for found in unresolved(item)]
        return ["${" + value] if isinstance(value, str) and "${" in value else []

    assert unresolved(resolved_resources) == []


def test_function_environments_come_from_globals_resources_and_overrides(template):
    specs = function_specs(
        template, {"AWS_ENDPOINT_URL": "http://emu:4566"}, {"ClassifyFunction": {"ALLOW_UNTRAINED_WEIGHTS": "true"}}
    )

    upload = specs["UploadFunction"].environment
    assert upload["PREDICTIONS_TABLE"] == "photomod-local-PredictionsTable"  # from Globals
    assert upload["IMAGES_BUCKET"] == "photomod-local-images-123456789012"
    assert upload["MAX_UPLOAD_BYTES"] == "10485760"
    assert upload["AWS_ENDPOINT_URL"] == "http://emu:4566"
    assert upload["AWS_LAMBDA_FUNCTION_NAME"] == "photomod-local-UploadFunction"
    assert specs["ClassifyFunction"].environment["ALLOW_UNTRAINED_WEIGHTS"] == "true"
    assert specs["FeedbackFunction"].environment["FEEDBACK_TABLE"] == "photomod-local-FeedbackTable"


def test_function_handlers_and_code_come_from_the_template_and_the_dockerfile(template):
    specs = function_specs(template, {})

    assert specs["UploadFunction"].handler == "upload.app.lambda_handler"
    assert specs["UploadFunction"].code_paths[-1].endswith("functions/shared")  # the layer
    assert specs["ClassifyFunction"].handler == "classify.app.lambda_handler"  # the image's CMD
    assert specs["DeadLetterFunction"].handler == "classify.dead_letters.lambda_handler"  # ImageConfig.Command
    assert specs["ClassifyFunction"].timeout == 8 and specs["ClassifyFunction"].memory_mb == 2048


def test_the_decoded_template_is_kept_by_content_and_a_changed_template_is_decoded_again(tmp_path, monkeypatch):
    monkeypatch.setattr("infra.template.DECODED_TEMPLATES", tmp_path / "decoded")
    path = tmp_path / "template.yaml"
    path.write_text("Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Ref Name\n")

    first = load_template(path)
    again = load_template(path)
    path.write_text(path.read_text().replace("!Ref Name", "!Sub ${Name}-dlq"))
    changed = load_template(path)

    assert (
        first
        == again
        == {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "Name"}}}}}
    )
    assert len(list((tmp_path / "decoded").glob("*.json"))) == 2
    assert changed["Resources"]["Queue"]["Properties"]["QueueName"] == {"Fn::Sub": "${Name}-dlq"}


def test_a_template_cfn_lint_cannot_decode_is_refused_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setattr("infra.template.DECODED_TEMPLATES", tmp_path / "decoded")
    path = tmp_path / "template.yaml"
    path.write_text("Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n  Queue:\n    Type: AWS::SNS::Topic\n")

    with pytest.raises(TemplateError, match="Duplicate"):
        load_template(path)
