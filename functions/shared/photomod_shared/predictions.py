"""The predictions table: one item per image, from `pending` to `done` or `failed`.

`PredictionTable` is the only code that knows DynamoDB's item format. `prediction_view` turns an item
into the API's body.

The review queue is a sparse global secondary index: only an item whose verdict is `review` carries its
partition attribute, so the index holds exactly the photos waiting for a moderator, newest first by
`classified_at`. `record_outcome` and `settle_review` keep that attribute in step with the verdict.
"""

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

STATUS_PENDING = "pending"
STATUS_DONE = "done"
STATUS_FAILED = "failed"

VERDICT_ALLOW = "allow"
VERDICT_REVIEW = "review"
VERDICT_BLOCK = "block"

# The verdict reason of a photo a shopper reported (the policy's reasons name a category of classes instead).
REASON_REPORTED_BY_SHOPPER = "reported_by_shopper"

REVIEW_QUEUE_INDEX = "review_queue"
REVIEW_QUEUE_ATTRIBUTE = "review_queue"
# One partition: a moderation queue stays small; the sort key (`classified_at`) orders it.
REVIEW_QUEUE_PARTITION = "review"

# S3 sequencers differ in length; AWS says to right-pad the shorter with zeros before comparing them.
SEQUENCER_WIDTH = 40


def comparable_sequencer(sequencer: str) -> str:
    return sequencer.upper().ljust(SEQUENCER_WIDTH, "0")


def comparable_event_time(event_time: str) -> str:
    """An S3 `eventTime` as fixed-width UTC text, so that text order is time order; "" when unreadable."""
    try:
        moment = datetime.fromisoformat(event_time)
    except (TypeError, ValueError):
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class EventStamp:
    """Which upload of a key a result belongs to: the S3 event's order and the object version it created.

    Ordering rule (why: a replayed presigned POST writes a new version under the same key, and its verdict
    must replace the old one, never the reverse):
    1. different sequencers: the larger (right-padded) sequencer is newer. AWS orders a key's events so.
    2. equal sequencers (LocalStack sends one constant sequencer): the later `eventTime` is newer.
    3. equal sequencer and time: the same version is the same event (a duplicate delivery); a different
       version is decided by the bucket itself: the classifier judges it only if it is the key's current
       version (see classify.service), and the table then lets it replace the stored one.
    Whatever the order, a result only ever names the version that was judged, and the display gate serves
    exactly that version: a mistake in ordering can show an older judged photo, never unjudged bytes.
    """

    sequencer: str
    event_time: str = ""
    object_version: str | None = None

    @property
    def order(self) -> tuple[str, str]:
        return comparable_sequencer(self.sequencer), comparable_event_time(self.event_time)

    def compare(self, stored: "EventStamp") -> int:
        """1 if this event is newer than `stored`, -1 if older, 0 when only the versions can tell (rule 3)."""
        if self.order != stored.order:
            return 1 if self.order > stored.order else -1
        return 0

    def is_duplicate_of(self, stored: "EventStamp") -> bool:
        """The same event delivered again: same order and the same (or an unknown) version."""
        return self.order == stored.order and (
            self.object_version is None or self.object_version == stored.object_version
        )


def to_dynamo(value: Any) -> Any:
    """Floats become Decimals (DynamoDB has no float type), recursively."""
    if isinstance(value, float):
        return Decimal(str(round(value, 6)))
    if isinstance(value, Mapping):
        return {key: to_dynamo(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_dynamo(item) for item in value]
    return value


def from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, Mapping):
        return {key: from_dynamo(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_dynamo(item) for item in value]
    return value


def prediction_view(item: Mapping[str, Any]) -> dict[str, Any]:
    """The API body for one image. Absent fields are null so clients see one stable shape."""
    return {
        "image_id": item["image_id"],
        "status": item["status"],
        "prediction": item.get("prediction"),
        "score": item.get("score"),
        "labels": item.get("labels", []),
        "verdict": item.get("verdict"),
        "verdict_reasons": item.get("verdict_reasons", []),
        "policy_version": item.get("policy_version"),
        "model": item.get("model"),
        "safety": item.get("safety"),
        "source": item.get("source"),
        "s3_key": item.get("s3_key"),
        # The S3 version of the key that was judged; the display gate serves exactly this version.
        "object_version": item.get("object_version"),
        "created_at": item.get("created_at"),
        "classified_at": item.get("classified_at"),
        "error": item.get("error"),
    }


class PredictionTable:
    """Adapter over the DynamoDB predictions table (a boto3 `Table` resource)."""

    def __init__(self, table: Any):
        self._table = table

    def create_pending(self, item: Mapping[str, Any]) -> None:
        self._table.put_item(
            Item=to_dynamo({**item, "status": STATUS_PENDING}),
            ConditionExpression="attribute_not_exists(image_id)",
        )

    def get(self, image_id: str) -> dict[str, Any] | None:
        response = self._table.get_item(Key={"image_id": image_id}, ConsistentRead=True)
        item = response.get("Item")
        return from_dynamo(item) if item else None

    def stored_events(self, image_ids: list[str]) -> dict[str, EventStamp]:
        """The event behind each stored result, for many images in one round trip per 100."""
        # The resource's client takes and returns plain Python values, like the Table itself.
        client, name, found = self._table.meta.client, self._table.name, {}
        for start in range(0, len(image_ids), 100):
            request = {
                name: {
                    "Keys": [{"image_id": image_id} for image_id in image_ids[start : start + 100]],
                    "ProjectionExpression": "image_id, #sequencer, #event_time, #version",
                    "ExpressionAttributeNames": {
                        "#sequencer": "sequencer",
                        "#event_time": "event_time",
                        "#version": "object_version",
                    },
                    "ConsistentRead": True,
                }
            }
            while request:
                response = client.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(name, []):
                    if "sequencer" in item:
                        found[item["image_id"]] = EventStamp(
                            item["sequencer"], item.get("event_time", ""), item.get("object_version")
                        )
                request = response.get("UnprocessedKeys") or {}
        return found

    def record_outcome(
        self,
        image_id: str,
        event: EventStamp | str,
        attributes: Mapping[str, Any],
        created_at: str,
        *,
        replace_same_order: bool = True,
    ) -> bool:
        """Writes a final state unless a result for the same or a newer S3 event is already there
        (EventStamp's ordering rule; `event` may be a bare sequencer).

        `replace_same_order=False` also keeps a result of another version with the same sequencer and event
        time (rule 3): for writers that do not know which version their event created (the dead letters).
        Returns False when the write was skipped: a duplicate notification or a late, older one.
        """
        event = EventStamp(event) if isinstance(event, str) else event
        sequencer, event_time = event.order
        names = {
            "#sequencer": "sequencer",
            "#created_at": "created_at",
            "#event_time": "event_time",
            "#version": "object_version",
            "#attempts": "solo_attempts",
            "#attempt": "solo_attempt_of",
        }
        values: dict[str, Any] = {
            ":sequencer": sequencer,
            ":event_time": event_time,
            ":version": event.object_version,
            ":created_at": created_at,
        }
        assignments = [
            "#sequencer = :sequencer",
            "#event_time = :event_time",
            "#version = :version",
            "#created_at = if_not_exists(#created_at, :created_at)",
        ]
        for index, (name, value) in enumerate(attributes.items()):
            names[f"#a{index}"] = name
            values[f":a{index}"] = to_dynamo(value)
            assignments.append(f"#a{index} = :a{index}")
        # A newer photo under the same key starts over: it joins the review queue only for its own verdict,
        # and a moderator's decision on the earlier photo no longer applies.
        names.update({"#queue": REVIEW_QUEUE_ATTRIBUTE, "#model_verdict": "model_verdict", "#moderation": "moderation"})
        removals = ["#model_verdict", "#moderation", "#attempts", "#attempt"]
        if attributes.get("verdict") == VERDICT_REVIEW:
            values[":queue"] = REVIEW_QUEUE_PARTITION
            assignments.append("#queue = :queue")
        else:
            removals.append("#queue")
        same_order = (
            " OR (#event_time = :event_time AND (attribute_not_exists(#version) OR #version <> :version))"
            if replace_same_order
            else ""
        )
        condition = (
            "attribute_not_exists(#sequencer) OR #sequencer < :sequencer OR (#sequencer = :sequencer AND ("
            f"attribute_not_exists(#event_time) OR #event_time < :event_time{same_order}))"
        )
        try:
            self._table.update_item(
                Key={"image_id": image_id},
                UpdateExpression="SET " + ", ".join(assignments) + " REMOVE " + ", ".join(removals),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def fail_if_pending(self, image_id: str, error: Mapping[str, str], failed_at: str) -> bool:
        """Ends a still-pending image as failed; returns False if it had already reached a final state."""
        try:
            self._table.update_item(
                Key={"image_id": image_id},
                UpdateExpression="SET #status = :failed, #error = :error, classified_at = :failed_at",
                ConditionExpression="attribute_exists(image_id) AND #status = :pending",
                ExpressionAttributeNames={"#status": "status", "#error": "error"},
                ExpressionAttributeValues={
                    ":failed": STATUS_FAILED,
                    ":pending": STATUS_PENDING,
                    ":error": dict(error),
                    ":failed_at": failed_at,
                },
            )
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def review_queue_page(
        self, limit: int, start_after: Mapping[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Up to `limit` photos in review, newest first, and the key to continue after (None at the end).

        The index is eventually consistent: a photo settled a moment ago may still be listed once.
        """
        request: dict[str, Any] = {
            "IndexName": REVIEW_QUEUE_INDEX,
            "KeyConditionExpression": "#queue = :queue",
            "ExpressionAttributeNames": {"#queue": REVIEW_QUEUE_ATTRIBUTE},
            "ExpressionAttributeValues": {":queue": REVIEW_QUEUE_PARTITION},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start_after:
            request["ExclusiveStartKey"] = dict(start_after)
        response = self._table.query(**request)
        return [from_dynamo(item) for item in response.get("Items", [])], response.get("LastEvaluatedKey")

    def settle_review(self, image_id: str, decision: str, note: str, decided_at: str, object_version: str) -> bool:
        """A moderator's decision on the version they saw: it becomes the verdict and the photo leaves the queue.

        Returns False if the photo is unknown, not in review (e.g. another moderator settled it first) or its
        judged version is no longer `object_version` (a newer upload replaced it).
        """
        try:
            self._table.update_item(
                Key={"image_id": image_id},
                # A photo a shopper reported already keeps the model's verdict (allow) in model_verdict.
                UpdateExpression=(
                    "SET #verdict = :decision, #model_verdict = if_not_exists(#model_verdict, :review),"
                    " #moderation = :moderation REMOVE #queue"
                ),
                ConditionExpression=(
                    "attribute_exists(image_id) AND #status = :done AND #verdict = :review AND #version = :version"
                ),
                ExpressionAttributeNames={
                    "#version": "object_version",
                    "#verdict": "verdict",
                    "#model_verdict": "model_verdict",
                    "#moderation": "moderation",
                    "#queue": REVIEW_QUEUE_ATTRIBUTE,
                    "#status": "status",
                },
                ExpressionAttributeValues={
                    ":decision": decision,
                    ":review": VERDICT_REVIEW,
                    ":done": STATUS_DONE,
                    ":version": object_version,
                    ":moderation": {"decision": decision, "note": note, "decided_at": decided_at},
                },
            )
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def count_solo_attempt(self, image_id: str, attempt: str, item: Mapping[str, Any]) -> int:
        """Counts one more attempt at classifying this photo on its own and returns the count, this one included.

        `attempt` names the upload (its event); a count for another upload starts over. Only photos whose batch
        ended without an answer are tried alone, so a count that is already 1 means the previous attempt
        crashed too. `item` gives the row's fields should this be the first write for the image.
        """
        names = {"#attempt": "solo_attempt_of", "#attempts": "solo_attempts", "#status": "status"}
        first = {f"#f{index}": name for index, name in enumerate(item)}
        values: dict[str, Any] = {":attempt": attempt, ":one": 1, ":pending": STATUS_PENDING}
        values.update({f":f{index}": to_dynamo(value) for index, value in enumerate(item.values())})
        initial = ", ".join(f"{name} = if_not_exists({name}, :{name[1:]})" for name in first)
        client_errors = self._table.meta.client.exceptions
        try:
            response = self._table.update_item(
                Key={"image_id": image_id},
                UpdateExpression="ADD #attempts :one",
                ConditionExpression="#attempt = :attempt",
                ExpressionAttributeNames={"#attempt": "solo_attempt_of", "#attempts": "solo_attempts"},
                ExpressionAttributeValues={":attempt": attempt, ":one": 1},
                ReturnValues="UPDATED_NEW",
            )
            return int(response["Attributes"]["solo_attempts"])
        except client_errors.ConditionalCheckFailedException:
            pass
        assignments = ["#attempt = :attempt", "#attempts = :one", "#status = if_not_exists(#status, :pending)"]
        self._table.update_item(
            Key={"image_id": image_id},
            UpdateExpression="SET " + ", ".join(assignments + ([initial] if initial else [])),
            ExpressionAttributeNames={**names, **first},
            ExpressionAttributeValues=values,
        )
        return 1

    def forget_solo_attempts(self, image_id: str) -> None:
        """The last solo attempt ended without a crash (e.g. a transient read error): it does not count."""
        # An unknown image has nothing to forget: the condition keeps REMOVE from creating an empty item.
        with contextlib.suppress(self._table.meta.client.exceptions.ConditionalCheckFailedException):
            self._table.update_item(
                Key={"image_id": image_id},
                UpdateExpression="REMOVE #attempt, #attempts",
                ConditionExpression="attribute_exists(image_id)",
                ExpressionAttributeNames={"#attempt": "solo_attempt_of", "#attempts": "solo_attempts"},
            )

    def report_by_shopper(self, image_id: str, reported_at: str) -> bool:
        """A shopper's report that a photo is inappropriate; every report is counted in `shopper_reports`.

        A photo the model allowed and no moderator has judged goes back to review: its verdict becomes `review`
        (so the display gate hides it until a moderator decides) with the reason `reported_by_shopper`, and the
        model's verdict is kept in `model_verdict`. A photo a moderator already decided on is not queued again by
        more reports (they are only counted); a photo in review or blocked is hidden already.
        Returns True when this report sent the photo to review; False when it was only counted.
        """
        names = {"#reports": "shopper_reports", "#reported_at": "last_reported_at"}
        values: dict[str, Any] = {":one": 1, ":reported_at": reported_at}
        try:
            self._table.update_item(
                Key={"image_id": image_id},
                UpdateExpression=(
                    "SET #verdict = :review, #model_verdict = :allow, #queue = :queue,"
                    " #reasons = list_append(if_not_exists(#reasons, :none), :reason), #reported_at = :reported_at"
                    " ADD #reports :one"
                ),
                ConditionExpression=(
                    "attribute_exists(image_id) AND #status = :done AND #verdict = :allow"
                    " AND attribute_not_exists(#moderation)"
                ),
                ExpressionAttributeNames={
                    **names,
                    "#verdict": "verdict",
                    "#model_verdict": "model_verdict",
                    "#queue": REVIEW_QUEUE_ATTRIBUTE,
                    "#reasons": "verdict_reasons",
                    "#status": "status",
                    "#moderation": "moderation",
                },
                ExpressionAttributeValues={
                    **values,
                    ":review": VERDICT_REVIEW,
                    ":allow": VERDICT_ALLOW,
                    ":done": STATUS_DONE,
                    ":queue": REVIEW_QUEUE_PARTITION,
                    ":none": [],
                    ":reason": [{"category": REASON_REPORTED_BY_SHOPPER, "action": VERDICT_REVIEW}],
                },
            )
            return True
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            pass
        # The photo's record may be gone (it was looked up a moment ago): then there is nothing to count.
        with contextlib.suppress(self._table.meta.client.exceptions.ConditionalCheckFailedException):
            self._table.update_item(
                Key={"image_id": image_id},
                UpdateExpression="SET #reported_at = :reported_at ADD #reports :one",
                ConditionExpression="attribute_exists(image_id)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        return False
