"""Moderation: the review queue (a sparse index of the photos whose verdict is `review`, newest first by
`classified_at`), a moderator's decision and its undo, and shoppers' reports that send a shown photo back to it.

Only an item whose verdict is `review` carries the index's partition attribute; `OutcomeTable.record_outcome`,
`settle_review`, `undo_review` and `report_by_shopper` keep it in step with the verdict.
"""

from collections.abc import Mapping
from typing import Any

from photomod_shared.prediction import (
    SHOPPER_REPORT_REASON,
    STATUS_DONE,
    VERDICT_ALLOW,
    VERDICT_BLOCK,
    VERDICT_REVIEW,
    Prediction,
)
from photomod_shared.prediction_table import (
    REVIEW_QUEUE_ATTRIBUTE,
    REVIEW_QUEUE_INDEX,
    REVIEW_QUEUE_PARTITION,
    from_dynamo,
)
from photomod_shared.tables._access import TableAccess, read_prediction


class ModerationTable(TableAccess):
    def moderations(self, image_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Each photo's moderation and audit trail ({moderation, review_history}), one round trip per 100."""
        items = self._batch_get(
            list(dict.fromkeys(image_ids)),
            ProjectionExpression="image_id, #moderation, #history",
            ExpressionAttributeNames={"#moderation": "moderation", "#history": "review_history"},
        )
        return {item["image_id"]: from_dynamo(item) for item in items}

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
        page = [read_prediction(item) for item in response.get("Items", [])]
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
        return self._update_if(
            image_id,
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

    def undo_review(self, image_id: str, undone_at: str, object_version: str, undone_by: dict[str, str]) -> bool:
        """Takes back a moderator's decision on `object_version`: the photo is in review (hidden) again, and the
        undo joins `review_history`. False if there is no decision on that version to take back."""
        return self._update_if(
            image_id,
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
            self._update_if(
                image_id,
                UpdateExpression="SET #reported_at = :reported_at ADD #reports :one, #over :one",
                ConditionExpression="attribute_exists(image_id)",
                ExpressionAttributeNames={**names, "#over": "reports_over_limit"},
                ExpressionAttributeValues=values,
            )
            return False
        if self._update_if(
            image_id,
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
        ):
            return True
        # The photo's record may be gone (it was looked up a moment ago): then there is nothing to count.
        self._update_if(
            image_id,
            UpdateExpression="SET #reported_at = :reported_at ADD #reports :one",
            ConditionExpression="attribute_exists(image_id)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        return False
