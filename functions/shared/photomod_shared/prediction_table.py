"""The predictions table (DynamoDB): `PredictionTable` is the only code that knows the item's storage format.

The record itself (`photomod_shared.prediction.Prediction`) says which attributes an item has; this adapter
adds its own bookkeeping: the S3 event a result came from (its order), the solo-attempt counter and the
review-queue attribute.

The review queue is a sparse global secondary index: only an item whose verdict is `review` carries its
partition attribute, so the index holds exactly the photos waiting for a moderator, newest first by
`classified_at`. `record_outcome` and `settle_review` keep that attribute in step with the verdict.

The pending rows are a second sparse index, for the reconciler: only a pending item carries `pending_queue`,
sorted by `pending_checked_at` (when it was created or last re-queued), so a query for the rows due for a look
reads only those, however many photos the table holds. Every write that creates a pending item sets both;
every write that ends one (`record_outcome`, `fail_if_pending`) removes them.

One more item, keyed `RECONCILE_STATE_KEY` (never an image id, so no API can reach it), keeps the reconciler's
place in the drop folder between runs.
"""

import contextlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from photomod_shared.prediction import (
    SHOPPER_REPORT_REASON,
    STATUS_DONE,
    STATUS_FAILED,
    STATUS_PENDING,
    VERDICT_ALLOW,
    VERDICT_BLOCK,
    VERDICT_REVIEW,
    EventStamp,
    Failure,
    Prediction,
)

REVIEW_QUEUE_INDEX = "review_queue"
REVIEW_QUEUE_ATTRIBUTE = "review_queue"
# One partition: a moderation queue stays small; the sort key (`classified_at`) orders it.
REVIEW_QUEUE_PARTITION = "review"
PENDING_INDEX = "pending_rows"
PENDING_ATTRIBUTE = "pending_queue"
PENDING_PARTITION = "pending"
PENDING_SINCE_ATTRIBUTE = "pending_checked_at"
# What the reconciler needs of a pending row (the index projects these, and its keys).
PENDING_ROW_ATTRIBUTES = (
    "status",
    "s3_key",
    "source",
    "created_at",
    "upload_expires_at",
    "requeue_count",
    "requeued_at",
)
RECONCILE_STATE_KEY = "reconcile-state"


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


class PredictionTable:
    """Adapter over the DynamoDB predictions table (a boto3 `Table` resource)."""

    def __init__(self, table: Any):
        self._table = table

    def create_pending(self, prediction: Prediction) -> None:
        """Records a new image as pending; ConditionalCheckFailedException if its id already has an item.

        The record needs its `created_at` (or `requeued_at`): it is where the reconciler's index sorts it.
        """
        since = prediction.requeued_at or prediction.created_at
        if not since:
            raise ValueError(f"a pending record needs created_at: {prediction.image_id}")
        self._table.put_item(
            Item=to_dynamo(
                {
                    **prediction.to_item(),
                    "status": STATUS_PENDING,
                    PENDING_ATTRIBUTE: PENDING_PARTITION,
                    PENDING_SINCE_ATTRIBUTE: since,
                }
            ),
            ConditionExpression="attribute_not_exists(image_id)",
        )

    def create_pending_once(self, prediction: Prediction) -> bool:
        """`create_pending`, answering False instead of raising when the id already has an item."""
        try:
            self.create_pending(prediction)
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def known_ids(self, image_ids: list[str]) -> set[str]:
        """Which of these images have an item, in one round trip per 100."""
        client, name = self._table.meta.client, self._table.name
        found: set[str] = set()
        for start in range(0, len(image_ids), 100):
            request = {
                name: {
                    "Keys": [{"image_id": image_id} for image_id in image_ids[start : start + 100]],
                    "ProjectionExpression": "image_id",
                }
            }
            while request:
                response = client.batch_get_item(RequestItems=request)
                found.update(item["image_id"] for item in response["Responses"].get(name, []))
                request = response.get("UnprocessedKeys") or {}
        return found

    def pending_due(
        self, checked_before: str, limit: int = 100, start_after: Mapping[str, Any] | None = None
    ) -> tuple[list[Prediction], dict[str, Any] | None]:
        """Pending photos created or last re-queued at `checked_before` or earlier, oldest first, up to `limit`,
        and the key to continue after (None at the end). Reads the sparse index: only pending rows are there.

        The index is eventually consistent: a row ended a moment ago may still be listed (the writes that settle
        it are conditional on `pending`, so it is left alone).
        """
        names = {"#queue": PENDING_ATTRIBUTE, "#since": PENDING_SINCE_ATTRIBUTE}
        request: dict[str, Any] = {
            "IndexName": PENDING_INDEX,
            "KeyConditionExpression": "#queue = :queue AND #since <= :before",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {":queue": PENDING_PARTITION, ":before": checked_before},
            "ScanIndexForward": True,
            "Limit": limit,
        }
        if start_after:
            request["ExclusiveStartKey"] = dict(start_after)
        response = self._table.query(**request)
        rows = []
        for item in response.get("Items", []):
            row = Prediction.from_item(from_dynamo(item))
            # A row from before created_at was always written (count_solo_attempt): its index time stands in.
            rows.append(row if row.created_at else row.replaced(created_at=item.get(PENDING_SINCE_ATTRIBUTE)))
        return rows, response.get("LastEvaluatedKey")

    def note_requeued(self, image_id: str, times: int, at: str) -> bool:
        """The reconciler re-sent a pending photo's notification: counted, and due again a threshold later."""
        try:
            self._table.update_item(
                Key={"image_id": image_id},
                UpdateExpression="SET requeue_count = :times, requeued_at = :at, #since = :at",
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={"#status": "status", "#since": PENDING_SINCE_ATTRIBUTE},
                ExpressionAttributeValues={":times": times, ":at": at, ":pending": STATUS_PENDING},
            )
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def postpone_pending(self, image_id: str, at: str) -> None:
        """A pending row the reconciler could not settle now (e.g. its object's HEAD failed): due again a
        threshold after `at`, behind the others, so one bad row never holds up the rest."""
        with contextlib.suppress(self._table.meta.client.exceptions.ConditionalCheckFailedException):
            self._table.update_item(
                Key={"image_id": image_id},
                UpdateExpression="SET #since = :at",
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={"#status": "status", "#since": PENDING_SINCE_ATTRIBUTE},
                ExpressionAttributeValues={":at": at, ":pending": STATUS_PENDING},
            )

    def reconcile_state(self) -> dict[str, str]:
        """The reconciler's place in the drop folder ({} before its first run)."""
        response = self._table.get_item(Key={"image_id": RECONCILE_STATE_KEY}, ConsistentRead=True)
        item = response.get("Item") or {}
        return {name: str(value) for name, value in item.items() if name != "image_id"}

    def save_reconcile_state(self, state: Mapping[str, str]) -> None:
        self._table.put_item(
            Item={**{name: value for name, value in state.items() if value}, "image_id": RECONCILE_STATE_KEY}
        )

    def get(self, image_id: str) -> Prediction | None:
        response = self._table.get_item(Key={"image_id": image_id}, ConsistentRead=True)
        item = response.get("Item")
        return Prediction.from_item(from_dynamo(item)) if item else None

    def moderations(self, image_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Each photo's moderation and audit trail ({moderation, review_history}), one round trip per 100."""
        client, name, found = self._table.meta.client, self._table.name, {}
        unique_ids = list(dict.fromkeys(image_ids))
        for start in range(0, len(unique_ids), 100):
            request: dict[str, Any] = {
                name: {
                    "Keys": [{"image_id": image_id} for image_id in unique_ids[start : start + 100]],
                    "ProjectionExpression": "image_id, #moderation, #history",
                    "ExpressionAttributeNames": {"#moderation": "moderation", "#history": "review_history"},
                }
            }
            while request:
                response = client.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(name, []):
                    found[item["image_id"]] = from_dynamo(item)
                request = response.get("UnprocessedKeys") or {}
        return found

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
        outcome: Prediction,
        event: EventStamp | str,
        created_at: str,
        *,
        replace_same_order: bool = True,
    ) -> bool:
        """Writes a final state unless a result for the same version, or of the same or a newer S3 event, is already
        there (`EventStamp.replaces`, as a condition; `event` may be a bare sequencer).

        `replace_same_order=False` also keeps a result of another version with the same sequencer and event
        time (rule 3): for writers that do not know which version their event created (the dead letters).
        Returns False when the write was skipped: a duplicate notification or a late, older one.
        """
        image_id, attributes = outcome.image_id, outcome.outcome()
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
        # A final state leaves the reconciler's index of pending rows.
        names.update({"#pending": PENDING_ATTRIBUTE, "#pending_since": PENDING_SINCE_ATTRIBUTE})
        removals = ["#model_verdict", "#moderation", "#attempts", "#attempt", "#pending", "#pending_since"]
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
        if event.object_version is not None:
            # Rule 0: a version already judged keeps its result (and a moderator's decision on it), whatever
            # order a re-delivery or a re-send claims.
            condition = f"({condition}) AND (attribute_not_exists(#version) OR #version <> :version)"
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

    def fail_if_pending(self, image_id: str, error: Failure, failed_at: str) -> bool:
        """Ends a still-pending image as failed; returns False if it had already reached a final state."""
        try:
            self._table.update_item(
                Key={"image_id": image_id},
                UpdateExpression=(
                    "SET #status = :failed, #error = :error, classified_at = :failed_at REMOVE #pending, #since"
                ),
                ConditionExpression="attribute_exists(image_id) AND #status = :pending",
                ExpressionAttributeNames={
                    "#status": "status",
                    "#error": "error",
                    "#pending": PENDING_ATTRIBUTE,
                    "#since": PENDING_SINCE_ATTRIBUTE,
                },
                ExpressionAttributeValues={
                    ":failed": STATUS_FAILED,
                    ":pending": STATUS_PENDING,
                    ":error": error.to_dict(),
                    ":failed_at": failed_at,
                },
            )
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def review_queue_page(
        self, limit: int, start_after: Mapping[str, Any] | None = None
    ) -> tuple[list[Prediction], dict[str, Any] | None]:
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
        page = [Prediction.from_item(from_dynamo(item)) for item in response.get("Items", [])]
        return page, response.get("LastEvaluatedKey")

    def settle_review(
        self,
        image_id: str,
        decision: str,
        note: str,
        decided_at: str,
        object_version: str,
        decided_by: dict[str, str] | None = None,
    ) -> bool:
        """A moderator's decision on the version they saw: it becomes the verdict and the photo leaves the queue.
        `decided_by` ({sub, username}) is stored with it and appended, in the same write, to `review_history`.

        Returns False if the photo is unknown, not in review (e.g. another moderator settled it first) or its
        judged version is no longer `object_version` (a newer upload replaced it).
        """
        try:
            self._table.update_item(
                Key={"image_id": image_id},
                # A photo a shopper reported already keeps the model's verdict (allow) in model_verdict.
                UpdateExpression=(
                    "SET #verdict = :decision, #model_verdict = if_not_exists(#model_verdict, :review),"
                    " #moderation = :moderation,"
                    " #history = list_append(if_not_exists(#history, :no_history), :entry) REMOVE #queue"
                ),
                ConditionExpression=(
                    "attribute_exists(image_id) AND #status = :done AND #verdict = :review AND #version = :version"
                ),
                ExpressionAttributeNames={
                    "#version": "object_version",
                    "#verdict": "verdict",
                    "#model_verdict": "model_verdict",
                    "#moderation": "moderation",
                    "#history": "review_history",
                    "#queue": REVIEW_QUEUE_ATTRIBUTE,
                    "#status": "status",
                },
                ExpressionAttributeValues={
                    ":decision": decision,
                    ":review": VERDICT_REVIEW,
                    ":done": STATUS_DONE,
                    ":version": object_version,
                    ":moderation": {
                        "decision": decision,
                        "note": note,
                        "decided_at": decided_at,
                        **({"decided_by": dict(decided_by)} if decided_by else {}),
                    },
                    ":no_history": [],
                    ":entry": [
                        {
                            "action": decision,
                            "note": note,
                            "at": decided_at,
                            "object_version": object_version,
                            **({"by": dict(decided_by)} if decided_by else {}),
                        }
                    ],
                },
            )
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def undo_review(self, image_id: str, undone_at: str, object_version: str, undone_by: dict[str, str]) -> bool:
        """Takes back a moderator's decision on `object_version`: the photo is in review (hidden) again, and the
        undo joins `review_history`. False if there is no decision on that version to take back."""
        try:
            self._table.update_item(
                Key={"image_id": image_id},
                UpdateExpression=(
                    "SET #verdict = :review, #queue = :queue,"
                    " #history = list_append(if_not_exists(#history, :no_history), :entry) REMOVE #moderation"
                ),
                ConditionExpression=(
                    "attribute_exists(#moderation) AND #status = :done AND #version = :version"
                    " AND #verdict IN (:allow, :block)"
                ),
                ExpressionAttributeNames={
                    "#verdict": "verdict",
                    "#queue": REVIEW_QUEUE_ATTRIBUTE,
                    "#history": "review_history",
                    "#moderation": "moderation",
                    "#status": "status",
                    "#version": "object_version",
                },
                ExpressionAttributeValues={
                    ":review": VERDICT_REVIEW,
                    ":queue": REVIEW_QUEUE_PARTITION,
                    ":no_history": [],
                    ":entry": [
                        {"action": "undo", "at": undone_at, "object_version": object_version, "by": dict(undone_by)}
                    ],
                    ":done": STATUS_DONE,
                    ":version": object_version,
                    ":allow": VERDICT_ALLOW,
                    ":block": VERDICT_BLOCK,
                },
            )
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def count_solo_attempt(self, attempt: str, first: Prediction) -> int:
        """Counts one more attempt at classifying this photo on its own and returns the count, this one included.

        `attempt` names the upload (its event); a count for another upload starts over. Only photos whose batch
        ended without an answer are tried alone, so a count that is already 1 means the previous attempt
        crashed too. `first` is the record (pending, with its `created_at`) should this be the first write for
        the image; it then joins the reconciler's index like any pending row.
        """
        image_id = first.image_id
        item = {name: value for name, value in first.to_item().items() if name not in ("image_id", "status")}
        names = {"#attempt": "solo_attempt_of", "#attempts": "solo_attempts", "#status": "status"}
        first_names = {f"#f{index}": name for index, name in enumerate(item)}
        values: dict[str, Any] = {":attempt": attempt, ":one": 1, ":pending": STATUS_PENDING}
        values.update({f":f{index}": to_dynamo(value) for index, value in enumerate(item.values())})
        initial = ", ".join(f"{name} = if_not_exists({name}, :{name[1:]})" for name in first_names)
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
        if first.created_at:
            # The first write for the image: a pending row like any other, in the reconciler's index.
            with contextlib.suppress(client_errors.ConditionalCheckFailedException):
                names_new = {**names, **first_names, "#pending": PENDING_ATTRIBUTE, "#since": PENDING_SINCE_ATTRIBUTE}
                values_new = {**values, ":queue": PENDING_PARTITION, ":since": first.created_at}
                plain = ", ".join(f"{name} = :{name[1:]}" for name in first_names)
                self._table.update_item(
                    Key={"image_id": image_id},
                    UpdateExpression="SET #attempt = :attempt, #attempts = :one, #status = :pending,"
                    " #pending = :queue, #since = :since" + (f", {plain}" if plain else ""),
                    ConditionExpression="attribute_not_exists(image_id)",
                    ExpressionAttributeNames=names_new,
                    ExpressionAttributeValues=values_new,
                )
                return 1
        assignments = ["#attempt = :attempt", "#attempts = :one", "#status = if_not_exists(#status, :pending)"]
        self._table.update_item(
            Key={"image_id": image_id},
            UpdateExpression="SET " + ", ".join(assignments + ([initial] if initial else [])),
            ExpressionAttributeNames={**names, **first_names},
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

    def report_by_shopper(self, image_id: str, reported_at: str, *, may_hide: bool = True) -> bool:
        """A shopper's report that a photo is inappropriate; every report is counted in `shopper_reports`.

        A photo the model allowed and no moderator has judged goes back to review: its verdict becomes `review`
        (so the display gate hides it until a moderator decides) with the reason `reported_by_shopper`, and the
        model's verdict is kept in `model_verdict`. A photo a moderator already decided on is not queued again by
        more reports (they are only counted); a photo in review or blocked is hidden already.
        Returns True when this report sent the photo to review; False when it was only counted.
        `may_hide=False` (the reporter is over the limits of feedback.limits): only counted, also in
        `reports_over_limit`.
        """
        names = {"#reports": "shopper_reports", "#reported_at": "last_reported_at"}
        values: dict[str, Any] = {":one": 1, ":reported_at": reported_at}
        if not may_hide:
            with contextlib.suppress(self._table.meta.client.exceptions.ConditionalCheckFailedException):
                self._table.update_item(
                    Key={"image_id": image_id},
                    UpdateExpression="SET #reported_at = :reported_at ADD #reports :one, #over :one",
                    ConditionExpression="attribute_exists(image_id)",
                    ExpressionAttributeNames={**names, "#over": "reports_over_limit"},
                    ExpressionAttributeValues=values,
                )
            return False
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
                    ":reason": [SHOPPER_REPORT_REASON.model_dump()],
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
