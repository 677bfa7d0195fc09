"""Creates the template's storage resources (buckets, queues, tables), event buses and staff user pools on an emulator.

Only what the functions touch at run time is created; IAM, API Gateway and Lambda are played by the
local function host. Running it twice is harmless.
"""

import contextlib
import json
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infra.template import ResolvedTemplate


def _queue_attributes(properties: dict[str, Any], template: ResolvedTemplate) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for name in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds"):
        if name in properties:
            attributes[name] = str(properties[name])
    if "RedrivePolicy" in properties:
        redrive = properties["RedrivePolicy"]
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": redrive["deadLetterTargetArn"], "maxReceiveCount": int(redrive["maxReceiveCount"])}
        )
    return attributes


def _notification_configuration(properties: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's NotificationConfiguration in the S3 API's shape."""
    queues = []
    for rule in properties.get("NotificationConfiguration", {}).get("QueueConfigurations", []):
        entry: dict[str, Any] = {"QueueArn": rule["Queue"], "Events": [rule["Event"]]}
        key_rules = rule.get("Filter", {}).get("S3Key", {}).get("Rules", [])
        if key_rules:
            entry["Filter"] = {"Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in key_rules]}}
        queues.append(entry)
    return {"QueueConfigurations": queues} if queues else {}


def _cors_configuration(cors: dict[str, Any], origin_aliases: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """CloudFormation's CorsConfiguration in the S3 API's shape; a rule allowing an origin also allows its
    aliases (the other addresses of the same local page)."""
    renamed = {"MaxAge": "MaxAgeSeconds", "ExposedHeaders": "ExposeHeaders", "Id": "ID"}
    rules = []
    for rule in cors["CorsRules"]:
        converted = {renamed.get(key, key): value for key, value in rule.items()}
        origins = list(converted.get("AllowedOrigins", []))
        for origin in list(origins):
            origins += [alias for alias in origin_aliases.get(origin, ()) if alias not in origins]
        if origins:
            converted["AllowedOrigins"] = origins
        rules.append(converted)
    return {"CORSRules": rules}


def _table_definition(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if properties.get("GlobalSecondaryIndexes"):
        definition["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    # Only at creation, as on AWS (a table's LSIs never change).
    if properties.get("LocalSecondaryIndexes"):
        definition["LocalSecondaryIndexes"] = properties["LocalSecondaryIndexes"]
    return definition


def _add_missing_indexes(dynamodb: Any, definition: dict[str, Any]) -> None:
    """A table kept from an earlier run (the emulator's saved state) gets the indexes the template added since,
    as a CloudFormation update would add them: one at a time, existing items indexed by the emulator."""
    name = definition["TableName"]
    present = {
        index["IndexName"]
        for index in dynamodb.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes", [])
    }
    for index in definition.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] in present:
            continue
        dynamodb.update_table(
            TableName=name,
            AttributeDefinitions=definition["AttributeDefinitions"],
            GlobalSecondaryIndexUpdates=[{"Create": index}],
        )
        dynamodb.get_waiter("table_exists").wait(TableName=name)


def provision(
    template: ResolvedTemplate,
    session: Any,
    log: Any = print,
    origin_aliases: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Creates queues first (buckets notify them), then tables, then buckets. `origin_aliases`: see
    `_cors_configuration`."""
    sqs = session.client("sqs")
    queues = template.resources_of_type("AWS::SQS::Queue").items()
    # Dead-letter queues must exist before the queues that redrive to them.
    for logical_id, resource in sorted(queues, key=lambda item: "RedrivePolicy" in item[1].get("Properties", {})):
        properties = template.resolve(resource.get("Properties", {}))
        name = template.physical_name(logical_id)
        attributes = _queue_attributes(properties, template)
        try:
            sqs.create_queue(QueueName=name, Attributes=attributes)
        except sqs.exceptions.QueueNameExists:
            # Kept from an earlier run (the emulator's saved state) with other settings: the template wins.
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        log(f"  queue   {name}")

    dynamodb = session.client("dynamodb")
    existing_tables = set(dynamodb.list_tables()["TableNames"])
    for logical_id, resource in template.resources_of_type("AWS::DynamoDB::Table").items():
        name = template.physical_name(logical_id)
        definition = _table_definition(name, template.resolve(resource["Properties"]))
        if name not in existing_tables:
            dynamodb.create_table(**definition)
            dynamodb.get_waiter("table_exists").wait(TableName=name)
        else:
            _add_missing_indexes(dynamodb, definition)
        log(f"  table   {name}")

    s3 = session.client("s3")
    existing_buckets = {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}
    for logical_id, resource in template.resources_of_type("AWS::S3::Bucket").items():
        properties = template.resolve(resource.get("Properties", {}))
        name = template.physical_name(logical_id)
        if name not in existing_buckets:
            s3.create_bucket(Bucket=name)
        versioning = properties.get("VersioningConfiguration")
        if versioning:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning["Status"]})
        if "CorsConfiguration" in properties:
            s3.put_bucket_cors(
                Bucket=name,
                CORSConfiguration=_cors_configuration(properties["CorsConfiguration"], origin_aliases or {}),
            )
        if "PublicAccessBlockConfiguration" in properties:
            s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=properties["PublicAccessBlockConfiguration"]
            )
        notifications = _notification_configuration(properties)
        if notifications:
            s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration=notifications)
        log(f"  bucket  {name}")

    events = session.client("events")
    existing_buses = {bus["Name"] for bus in events.list_event_buses()["EventBuses"]}
    for logical_id in template.resources_of_type("AWS::Events::EventBus"):
        name = template.physical_name(logical_id)
        if name not in existing_buses:
            events.create_event_bus(Name=name)
        log(f"  bus     {name}")

    secret_resources = template.resources_of_type("AWS::SecretsManager::Secret")
    secretsmanager: Any = session.client("secretsmanager") if secret_resources else None
    for logical_id, resource in secret_resources.items():
        properties = template.resolve(resource.get("Properties", {}))
        name = template.physical_name(logical_id)
        # Kept from an earlier run: its value stays (a receiver configured with it keeps verifying).
        with contextlib.suppress(secretsmanager.exceptions.ResourceExistsException):
            secretsmanager.create_secret(Name=name, SecretString=_generated_secret(properties))
        log(f"  secret  {name}")


def _generated_secret(properties: dict[str, Any]) -> str:
    """What CloudFormation's GenerateSecretString makes of the options the template uses."""
    generate = properties.get("GenerateSecretString")
    if generate is None:
        return str(properties.get("SecretString", ""))
    alphabet = string.ascii_letters + string.digits
    if not generate.get("ExcludePunctuation"):
        alphabet += string.punctuation
    return "".join(secrets.choice(alphabet) for _ in range(int(generate.get("PasswordLength", 32))))


@dataclass(frozen=True)
class UserPools:
    """The provisioned Cognito resources' ids by logical id (Cognito chooses them; the template cannot)."""

    pools: dict[str, str] = field(default_factory=dict)
    clients: dict[str, str] = field(default_factory=dict)


def provision_user_pools(template: ResolvedTemplate, cognito: Any, log: Any = print) -> UserPools:
    """The template's user pools, app clients and groups, found by name when kept from an earlier run."""
    found = UserPools()
    existing = {
        pool["Name"]: pool["Id"]
        for page in cognito.get_paginator("list_user_pools").paginate(MaxResults=60)
        for pool in page["UserPools"]
    }
    for logical_id, resource in template.resources_of_type("AWS::Cognito::UserPool").items():
        properties = template.resolve(resource.get("Properties", {}))
        name = template.physical_name(logical_id)
        if name not in existing:
            existing[name] = cognito.create_user_pool(PoolName=name, **_user_pool_settings(properties))["UserPool"][
                "Id"
            ]
        found.pools[logical_id] = existing[name]
        log(f"  users   {name} ({existing[name]})")
    for logical_id, resource in template.resources_of_type("AWS::Cognito::UserPoolClient").items():
        properties = resource.get("Properties", {})
        pool_id = found.pools[properties["UserPoolId"]["Ref"]]
        name = str(properties.get("ClientName", logical_id))
        clients = {
            client["ClientName"]: client["ClientId"]
            for page in cognito.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool_id)
            for client in page["UserPoolClients"]
        }
        if name not in clients:
            settings = {key: value for key, value in template.resolve(properties).items() if key in _CLIENT_SETTINGS}
            clients[name] = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName=name, **settings)[
                "UserPoolClient"
            ]["ClientId"]
        found.clients[logical_id] = clients[name]
    for logical_id, resource in template.resources_of_type("AWS::Cognito::UserPoolGroup").items():
        properties = resource.get("Properties", {})
        pool_id = found.pools[properties["UserPoolId"]["Ref"]]
        group = template.physical_name(logical_id)
        with contextlib.suppress(cognito.exceptions.GroupExistsException):
            cognito.create_group(UserPoolId=pool_id, GroupName=group, Description=properties.get("Description", ""))
        log(f"  group   {group}")
    return found


# The app client settings the local stack honours (token lifetimes, auth flows); the rest are AWS's business.
_CLIENT_SETTINGS = frozenset(
    {
        "ExplicitAuthFlows",
        "GenerateSecret",
        "PreventUserExistenceErrors",
        "EnableTokenRevocation",
        "AccessTokenValidity",
        "IdTokenValidity",
        "RefreshTokenValidity",
        "TokenValidityUnits",
    }
)


def _user_pool_settings(properties: dict[str, Any]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if "Policies" in properties:
        settings["Policies"] = properties["Policies"]
    if "AdminCreateUserConfig" in properties:
        settings["AdminCreateUserConfig"] = properties["AdminCreateUserConfig"]
    if "UsernameConfiguration" in properties:
        settings["UsernameConfiguration"] = properties["UsernameConfiguration"]
    return settings
