"""Outcomes and their order: the classifier's results (and the dead letters' failures), written only over an
older S3 event's (`EventStamp.replaces`, as a condition), and the count of a photo's solo attempts.

The review queue is a sparse index kept in step with the verdict here: an outcome whose verdict is `review` joins
it; any other leaves it (moderation.py settles what is in it).
"""

from typing import Any

from photomod_shared.prediction import STATUS_PENDING, VERDICT_REVIEW, EventStamp, Prediction
from photomod_shared.prediction_table import (
    PENDING_ATTRIBUTE,
    PENDING_PARTITION,
    PENDING_SINCE_ATTRIBUTE,
    REVIEW_QUEUE_ATTRIBUTE,
    REVIEW_QUEUE_PARTITION,
    to_dynamo,
)
from photomod_shared.tables._access import TableAccess


class OutcomeTable(TableAccess):
    def stored_events(self, image_ids: list[str]) -> dict[str, EventStamp]:
        """The event behind each stored result, for many images in one round trip per 100."""
        items = self._batch_get(
            image_ids,
            ProjectionExpression="image_id, #sequencer, #event_time, #version",
            ExpressionAttributeNames={
                "#sequencer": "sequencer",
                "#event_time": "event_time",
                "#version": "object_version",
            },
            ConsistentRead=True,
        )
        return {
            item["image_id"]: EventStamp(item["sequencer"], item.get("event_time", ""), item.get("object_version"))
            for item in items
            if "sequencer" in item
        }

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
        return self._update_if(
            image_id,
            UpdateExpression="SET " + ", ".join(assignments) + " REMOVE " + ", ".join(removals),
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

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
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            pass
        if first.created_at:
            # The first write for the image: a pending row like any other, in the reconciler's index.
            plain = ", ".join(f"{name} = :{name[1:]}" for name in first_names)
            if self._update_if(
                image_id,
                UpdateExpression="SET #attempt = :attempt, #attempts = :one, #status = :pending,"
                " #pending = :queue, #since = :since" + (f", {plain}" if plain else ""),
                ConditionExpression="attribute_not_exists(image_id)",
                ExpressionAttributeNames={
                    **names,
                    **first_names,
                    "#pending": PENDING_ATTRIBUTE,
                    "#since": PENDING_SINCE_ATTRIBUTE,
                },
                ExpressionAttributeValues={**values, ":queue": PENDING_PARTITION, ":since": first.created_at},
            ):
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
        self._update_if(
            image_id,
            UpdateExpression="REMOVE #attempt, #attempts",
            ConditionExpression="attribute_exists(image_id)",
            ExpressionAttributeNames={"#attempt": "solo_attempt_of", "#attempts": "solo_attempts"},
        )
