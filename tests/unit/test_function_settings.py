"""Each function's settings: read from the environment template.yaml gives it, frozen, and failing loudly with the
name of a missing or invalid variable."""

import pytest
from pydantic import ValidationError

from classify.dead_letter_settings import DeadLetterSettings
from classify.settings import ClassifySettings
from feedback.settings import FeedbackSettings
from infra.functions import function_specs
from infra.template import LocalNames, ResolvedTemplate, load_template
from photomod_shared.settings import FunctionSettings, MissingSetting
from reconcile.settings import ReconcileSettings, VerdictOutboxSettings
from reviews.settings import ReviewsSettings
from upload.settings import PredictSettings, UploadSettings
from webhook.settings import WebhookSettings

# Set by Lambda itself or read by Powertools, not by the functions' settings.
NOT_OURS = ("AWS_", "POWERTOOLS_")


SETTINGS: dict[str, type[FunctionSettings]] = {
    "UploadFunction": UploadSettings,
    "PredictFunction": PredictSettings,
    "ReviewsFunction": ReviewsSettings,
    "FeedbackFunction": FeedbackSettings,
    "ClassifyFunction": ClassifySettings,
    "RekognitionFunction": ClassifySettings,
    "DeadLetterFunction": DeadLetterSettings,
    "ReconcileFunction": ReconcileSettings,
    "VerdictOutboxFunction": VerdictOutboxSettings,
    "WebhookFunction": WebhookSettings,
}
# For each function, one variable and a value its settings refuse.
INVALID = {
    "UploadFunction": ("UPLOAD_URL_EXPIRY_SECONDS", "301"),
    "PredictFunction": ("PREDICT_WAIT_SECONDS", "twenty"),
    "ReviewsFunction": ("REVIEW_IMAGE_URL_EXPIRY_SECONDS", "0"),
    "FeedbackFunction": ("REPORT_HIDES_PER_ADDRESS", "100001"),
    "ClassifyFunction": ("RESIZE_METHOD", "nearest"),
    "RekognitionFunction": ("ALLOW_UNTRAINED_WEIGHTS", "perhaps"),
    "DeadLetterFunction": ("PREDICTIONS_TABLE", "   "),
    "ReconcileFunction": ("MAX_REQUEUES", "-1"),
    "VerdictOutboxFunction": ("EVENT_BUS_NAME", ""),
    "WebhookFunction": ("WEBHOOK_URL", "ftp://shop.example.com/hook"),
}


@pytest.fixture(scope="module")
def environments() -> dict[str, dict[str, str]]:
    """Each function's variables as template.yaml sets them (Globals and its own); with a webhook, so that the
    template has its function."""
    names = LocalNames(region="us-east-1", parameter_overrides={"WebhookUrl": "https://shop.example.com/hook"})
    template = ResolvedTemplate(load_template(), names)
    return {
        logical_id: {name: value for name, value in spec.environment.items() if not name.startswith(NOT_OURS)}
        for logical_id, spec in function_specs(template, {}).items()
    }


def given_environment(monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]) -> None:
    for name in [*SETTINGS_NAMES, *variables]:
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


SETTINGS_NAMES = sorted({name.upper() for cls in SETTINGS.values() for name in cls.model_fields})
# Variables the process itself reads before any of our code runs (glibc's malloc: classify's two arenas).
READ_BY_THE_RUNTIME = {"MALLOC_ARENA_MAX"}


def test_every_function_of_the_template_has_its_settings(environments: dict[str, dict[str, str]]):
    assert sorted(environments) == sorted(SETTINGS)


@pytest.mark.parametrize("logical_id", sorted(SETTINGS))
def test_the_template_gives_each_function_variables_its_settings_read(
    logical_id: str, environments: dict[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
):
    cls = SETTINGS[logical_id]
    given_environment(monkeypatch, environments[logical_id])
    settings = cls.from_environment()
    fields = {name.upper() for name in cls.model_fields}
    # No variable of the template goes unread under a name the code does not know (a typo would be silent).
    unread = set(environments[logical_id]) - fields - READ_BY_THE_RUNTIME
    assert not unread
    with pytest.raises(ValidationError, match="frozen"):
        settings.predictions_table = "another"  # type: ignore[misc]


@pytest.mark.parametrize("logical_id", sorted(SETTINGS))
def test_a_missing_required_variable_is_named(
    logical_id: str, environments: dict[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
):
    cls = SETTINGS[logical_id]
    required = sorted(name.upper() for name, field in cls.model_fields.items() if field.is_required())
    assert "PREDICTIONS_TABLE" in required
    for name in required:
        given_environment(monkeypatch, {k: v for k, v in environments[logical_id].items() if k != name})
        with pytest.raises(MissingSetting, match=f"^environment variable {name} is required but not set$"):
            cls.from_environment()
        # An empty variable is a missing one.
        given_environment(monkeypatch, {**environments[logical_id], name: ""})
        with pytest.raises(MissingSetting, match=f"environment variable {name} is required"):
            cls.from_environment()


@pytest.mark.parametrize("logical_id", sorted(SETTINGS))
def test_an_invalid_variable_is_named_with_its_value(
    logical_id: str, environments: dict[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
):
    cls = SETTINGS[logical_id]
    name, value = INVALID[logical_id]
    given_environment(monkeypatch, {**environments[logical_id], name: value})
    with pytest.raises(MissingSetting, match=f"environment variable {name} (is invalid|is required)") as refused:
        cls.from_environment()
    assert name in str(refused.value)


def test_every_fault_is_named_at_once(monkeypatch: pytest.MonkeyPatch):
    given_environment(monkeypatch, {"MAX_REQUEUES": "many"})
    with pytest.raises(MissingSetting) as refused:
        ReconcileSettings.from_environment()
    message = str(refused.value)
    for name in ("PREDICTIONS_TABLE", "IMAGES_BUCKET", "CLASSIFY_QUEUE_URL"):
        assert f"environment variable {name} is required but not set" in message
    assert "environment variable MAX_REQUEUES is invalid ('many')" in message


def test_defaults_apply_to_unset_and_empty_variables(environments: dict[str, dict[str, str]], monkeypatch):
    given_environment(monkeypatch, {**environments["ClassifyFunction"], "DECODE_THREADS": ""})
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "3000")
    settings = ClassifySettings.from_environment()
    assert settings.decode_threads == 4
    assert settings.memory_limit_bytes == 3000 * 1024 * 1024
    assert settings.decode_budget_bytes == 1000 * 1024 * 1024
    assert settings.renditions.long_side == 1000


def test_a_value_several_functions_share_is_written_once_in_the_template():
    """A variable two functions set to the same literal belongs in Globals or the ClassifierImage mapping: two
    copies drift apart (DetectModerationLabels would judge with other limits than the queue's classifier)."""
    functions = {
        logical_id: resource["Properties"].get("Environment", {}).get("Variables", {})
        for logical_id, resource in load_template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    literals: dict[tuple[str, str], list[str]] = {}
    for logical_id, variables in functions.items():
        for name, value in variables.items():
            if isinstance(value, str):
                literals.setdefault((name, value), []).append(logical_id)

    assert {key: owners for key, owners in literals.items() if len(owners) > 1} == {}


def test_detect_moderation_labels_judges_with_the_queue_classifiers_settings(environments):
    classify, rekognition = environments["ClassifyFunction"], environments["RekognitionFunction"]
    # It announces nothing and publishes nothing; its photos are not uploads, so it indexes no hash for reuse.
    judging = set(ClassifySettings.model_fields) - {
        "event_bus_name",
        "verdict_outbox_url",
        "photos_distribution_id",
        "photo_hash_index_table",
    }

    assert {name: rekognition.get(name.upper()) for name in judging} == {
        name: classify.get(name.upper()) for name in judging
    }


def test_a_blank_optional_variable_is_unset_and_text_is_trimmed(environments, monkeypatch):
    given_environment(
        monkeypatch,
        {**environments["UploadFunction"], "PRESIGN_ENDPOINT_URL": "  ", "PHOTOS_CDN_DOMAIN": " cdn.example.com "},
    )
    settings = UploadSettings.from_environment()

    assert (settings.presign_endpoint_url, settings.photos_cdn_domain) == (None, "cdn.example.com")
