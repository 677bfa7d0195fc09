"""The three roles the functions play with the predictions table, each a Protocol that `PredictionTable` fills
and a test fake can stand in for. Each extends `PredictionLookup` (reading one record) where its callers read.

- `Intake` (upload, reconcile): a photo's row created pending, ended failed when the photo will never be
  classified, and the reconciler's look at the rows still pending;
- `Outcomes` (classify, its dead letters): the model's results, written in the order of their S3 events, and
  the count of a photo's solo attempts (reading a row: what is published follows the stored outcome);
- `Moderation` (reviews, feedback): the review queue, a moderator's decisions, shoppers' reports.
"""

from collections.abc import Mapping
from typing import Any, Protocol

from photomod_shared.prediction import EventStamp, Failure, Prediction, PredictionLookup


class Intake(PredictionLookup, Protocol):
    def create_pending(self, prediction: Prediction) -> None: ...

    def create_pending_once(self, prediction: Prediction) -> bool: ...

    def fail_if_pending(self, image_id: str, error: Failure, failed_at: str) -> bool: ...

    def pending_due(
        self, checked_before: str, limit: int = ..., start_after: Mapping[str, Any] | None = None
    ) -> tuple[list[Prediction], dict[str, Any] | None]: ...

    def known_ids(self, image_ids: list[str]) -> set[str]: ...

    def note_requeued(self, image_id: str, times: int, at: str) -> bool: ...

    def postpone_pending(self, image_id: str, at: str) -> None: ...

    def reconcile_state(self) -> dict[str, str]: ...

    def save_reconcile_state(self, state: Mapping[str, str]) -> None: ...


class Outcomes(PredictionLookup, Protocol):
    def stored_events(self, image_ids: list[str]) -> dict[str, EventStamp]: ...

    def record_outcome(
        self, outcome: Prediction, event: EventStamp | str, created_at: str, *, replace_same_order: bool = True
    ) -> bool: ...

    def count_solo_attempt(self, attempt: str, first: Prediction) -> int: ...

    def forget_solo_attempts(self, image_id: str) -> None: ...


class Moderation(PredictionLookup, Protocol):
    def review_queue_page(
        self, limit: int, start_after: Mapping[str, Any] | None = None
    ) -> tuple[list[Prediction], dict[str, Any] | None]: ...

    def settle_review(
        self,
        image_id: str,
        decision: str,
        note: str,
        decided_at: str,
        object_version: str,
        decided_by: dict[str, str] | None = None,
    ) -> bool: ...

    def undo_review(self, image_id: str, undone_at: str, object_version: str, undone_by: dict[str, str]) -> bool: ...

    def report_by_shopper(self, image_id: str, reported_at: str, *, may_hide: bool = True) -> bool: ...

    def moderations(self, image_ids: list[str]) -> Mapping[str, Mapping[str, Any]]:
        """{image_id: {moderation, review_history}} of the photos that have a record."""
        ...
