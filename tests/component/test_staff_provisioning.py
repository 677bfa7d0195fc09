"""The local stack's staff user pool under moto: provisioned from template.yaml, kept across runs, and accounts an
administrator adds sign in with USER_PASSWORD_AUTH and carry their group."""

import base64
import json

import boto3
import pytest
from moto import mock_aws

from infra.local.provision import provision_user_pools
from infra.local.staff import add_staff, new_password
from infra.template import LocalNames, ResolvedTemplate, load_template


@pytest.fixture
def cognito():
    with mock_aws():
        yield boto3.client("cognito-idp", region_name="us-east-1")


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_the_pool_its_client_and_groups_come_from_the_template_and_a_second_run_finds_them(cognito):
    template = ResolvedTemplate(load_template(), LocalNames())

    first = provision_user_pools(template, cognito, log=lambda line: None)
    again = provision_user_pools(template, cognito, log=lambda line: None)

    assert first == again
    pool = first.pools["StaffUserPool"]
    groups = {group["GroupName"] for group in cognito.list_groups(UserPoolId=pool)["Groups"]}
    assert groups == {"moderators", "analysts"}
    client = cognito.describe_user_pool_client(UserPoolId=pool, ClientId=first.clients["StaffUserPoolClient"])
    assert set(client["UserPoolClient"]["ExplicitAuthFlows"]) == {
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    }


def test_an_added_moderator_signs_in_and_the_id_token_names_the_group(cognito):
    pools = provision_user_pools(ResolvedTemplate(load_template(), LocalNames()), cognito, log=lambda line: None)
    pool, client = pools.pools["StaffUserPool"], pools.clients["StaffUserPoolClient"]

    password = add_staff(cognito, pool, "alice", ["moderators"])
    tokens = cognito.initiate_auth(
        ClientId=client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "alice", "PASSWORD": password}
    )["AuthenticationResult"]

    claims = _claims(tokens["IdToken"])
    assert claims["cognito:groups"] == ["moderators"] and claims["cognito:username"] == "alice"
    assert claims["token_use"] == "id" and claims["aud"] == client


def test_adding_someone_to_a_group_the_pool_lacks_is_refused(cognito):
    pools = provision_user_pools(ResolvedTemplate(load_template(), LocalNames()), cognito, log=lambda line: None)

    with pytest.raises(ValueError, match="no such group: admins"):
        add_staff(cognito, pools.pools["StaffUserPool"], "mallory", ["admins"])


def test_generated_passwords_meet_the_pools_policy():
    for _ in range(50):
        password = new_password()
        assert len(password) >= 12
        assert any(c.islower() for c in password) and any(c.isupper() for c in password)
        assert any(c.isdigit() for c in password)
