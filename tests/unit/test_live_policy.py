"""A shop's own policy: classify.live_policy (the policy in force), classify.storage.PolicyParameter (SSM through
Powertools) and tools.policy (what `make policy` puts), under moto in this process."""

import copy
import json

import boto3
import numpy as np
import pytest
from aws_lambda_powertools.utilities.parameters import SSMProvider
from moto import mock_aws

from classify.live_policy import LivePolicy
from classify.policy import DEFAULT_POLICY_PATH, ModerationPolicy, PolicyError, parse_document
from classify.storage import PolicyParameter
from tools.policy import Refused, put_policy

BUILTIN = json.loads(DEFAULT_POLICY_PATH.read_text())
NAME = "/photomod-test/moderation-policy"


def shop_policy(version: str, **category) -> str:
    document = copy.deepcopy(BUILTIN)
    document["version"] = version
    document["categories"]["shop"] = {
        "action": "block",
        "threshold": 0.5,
        "classes": [{"wnid": "n03598930", "label": "jigsaw_puzzle"}],
        **category,
    }
    return json.dumps(document)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Document:
    """What SSM holds, and how often it was read."""

    def __init__(self, text: str | None = None) -> None:
        self.text: str | None = text
        self.error: Exception | None = None
        self.reads = 0

    def __call__(self) -> str | None:
        self.reads += 1
        if self.error:
            raise self.error
        return self.text


@pytest.fixture
def live(class_index):
    document, clock = Document(), Clock()
    builtin = ModerationPolicy.from_file(class_index=class_index)
    return LivePolicy(builtin, document, class_index, refresh_s=60, clock=clock), document, clock


def test_without_a_shop_document_the_built_in_policy_judges(live):
    policy, document, _ = live

    assert policy.version == BUILTIN["version"]
    assert document.reads == 1


def test_a_new_document_judges_once_the_cache_time_has_passed_and_not_before(live, class_index):
    policy, document, clock = live
    assert policy.version == BUILTIN["version"]
    document.text = shop_policy("shop.1")

    clock.now = 59
    assert policy.version == BUILTIN["version"]
    clock.now = 60
    assert policy.version == "shop.1"
    scores = np.full(len(class_index), 0.4 / 999)
    scores[class_index.index_of("n03598930")] = 0.6
    verdict = policy.decide(scores)
    assert (verdict.action, verdict.policy_version) == ("block", "shop.1")
    assert policy.category_of("n03598930") == "shop"
    assert document.reads == 2  # one read per cache period, however many photos


def test_an_invalid_or_unreadable_document_keeps_the_last_good_policy(live):
    policy, document, clock = live
    document.text = shop_policy("shop.1")
    assert policy.version == "shop.1"

    document.text = '{"version": "broken", '
    clock.now = 60
    assert policy.version == "shop.1"
    document.error = RuntimeError("SSM is unreachable")
    clock.now = 120
    assert policy.version == "shop.1"


def test_removing_the_document_brings_the_built_in_policy_back(live):
    policy, document, clock = live
    document.text = shop_policy("shop.1")
    assert policy.version == "shop.1"

    document.text = None
    clock.now = 60
    assert policy.version == BUILTIN["version"]


def test_a_document_over_what_a_parameter_holds_is_refused(class_index):
    with pytest.raises(PolicyError, match="at most 8192"):
        parse_document(shop_policy("big", description="x" * 9000), class_index)


@pytest.fixture
def ssm():
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


def test_the_parameter_is_read_with_powertools_and_absent_is_none(ssm):
    parameter = PolicyParameter(SSMProvider(boto3_client=ssm), NAME, max_age_s=5)
    assert parameter.read() is None

    ssm.put_parameter(Name=NAME, Value="{}", Type="String")

    assert parameter.read() == "{}"


def test_make_policy_puts_a_valid_document_compactly_and_versions_must_name_one_document(ssm):
    assert put_policy(json.dumps(json.loads(shop_policy("shop.1")), indent=2), ssm, NAME) == "shop.1"
    stored = ssm.get_parameter(Name=NAME)["Parameter"]
    assert json.loads(stored["Value"])["version"] == "shop.1" and "\n" not in stored["Value"]

    put_policy(shop_policy("shop.1"), ssm, NAME)  # the same document again: harmless
    with pytest.raises(Refused, match="new version"):
        put_policy(shop_policy("shop.1", action="review"), ssm, NAME)
    with pytest.raises(Refused, match="unknown wnid"):
        put_policy(shop_policy("shop.2", classes=[{"wnid": "n00000000", "label": "x"}]), ssm, NAME)
    assert json.loads(ssm.get_parameter(Name=NAME)["Parameter"]["Value"])["version"] == "shop.1"
