"""reconcile: nothing waits forever.

A photo can stay `pending` when its S3 notification was lost, when the presigned upload was never used,
or when its object was deleted; a drop-folder photo whose notification was lost has no row at all. On a
schedule, `reconcile` looks at everything pending longer than a threshold and

- re-queues the photo's notification when its object is there (at most `max_requeues` times; then the
  photo ends `failed`, `not_classified`),
- ends it `failed` with `upload_not_received` when a presigned upload expired without the photo, or
  `object_missing` when the object is gone,

and gives drop-folder objects older than the threshold that have no row a pending row, then re-queues them.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from photomod_shared import ids
from photomod_shared.clock import iso, parse_iso
from photomod_shared.prediction import Failure, Prediction
from photomod_shared.verdict_events import NoVerdictEvents, VerdictEvent, VerdictPublisher

# How long after a presigned upload expires before a missing object counts as never sent (as the upload
# function decides when polled).
ARRIVAL_GRACE = timedelta(seconds=60)

UPLOAD_NOT_RECEIVED = Failure("upload_not_received", "the presigned upload expired before the photo arrived")
OBJECT_MISSING = Failure("object_missing", "the photo was deleted before it could be classified")


def not_classified(times: int) -> Failure:
    return Failure(
        "not_classified", f"the photo's notification was sent again {times} times and it was still not classified"
    )


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    etag: str
    last_modified: datetime
    version_id: str | None = None


class Photos(Protocol):
    def head(self, key: str) -> StoredObject | None: ...

    def drop_folder_objects(self) -> Iterable[StoredObject]: ...


class Rows(Protocol):
    def pending(self) -> Iterable[Prediction]: ...

    def known_ids(self, image_ids: list[str]) -> set[str]: ...

    def create_pending(self, prediction: Prediction) -> bool: ...

    def note_requeued(self, image_id: str, times: int, at: str) -> bool: ...

    def fail_if_pending(self, image_id: str, error: Failure, failed_at: str) -> bool: ...


class Notifications(Protocol):
    def requeue(self, photo: StoredObject) -> None: ...


@dataclass
class ReconcileReport:
    requeued: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # image id -> reason code
    created: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"requeued": self.requeued, "failed": self.failed, "created": self.created}


def reconcile(
    *,
    rows: Rows,
    photos: Photos,
    notifications: Notifications,
    now: datetime,
    pending_after: timedelta,
    max_requeues: int,
    verdicts: VerdictPublisher | None = None,
) -> ReconcileReport:
    """`verdicts` announces each photo it ends failed (photomod_shared.verdict_events)."""
    report = ReconcileReport()
    cutoff = now - pending_after
    for row in rows.pending():
        if _looked_at_since(row, cutoff):
            continue
        _settle(row, rows, photos, notifications, now, max_requeues, report, verdicts or NoVerdictEvents())
    _adopt_drop_folder_orphans(rows, photos, notifications, now, cutoff, report)
    return report


def _looked_at_since(row: Prediction, cutoff: datetime) -> bool:
    """Pending for less than the threshold, or re-queued less than the threshold ago."""
    last = row.requeued_at or row.created_at
    return not last or parse_iso(last) > cutoff


def _settle(
    row: Prediction,
    rows: Rows,
    photos: Photos,
    notifications: Notifications,
    now: datetime,
    max_requeues: int,
    report: ReconcileReport,
    verdicts: VerdictPublisher,
) -> None:
    image_id, key = row.image_id, row.s3_key
    photo = photos.head(key) if key else None
    if photo is None:
        expires_at = row.upload_expires_at
        if expires_at and now <= parse_iso(expires_at) + ARRIVAL_GRACE:
            return  # the presigned upload may still arrive
        error = UPLOAD_NOT_RECEIVED if row.source == ids.SOURCE_UPLOAD else OBJECT_MISSING
        _fail(row, error, rows, now, report, verdicts)
        return
    times = int(row.requeue_count or 0)
    if times >= max_requeues:
        _fail(row, not_classified(times), rows, now, report, verdicts)
        return
    # Counted first: a crash after sending leaves an undercount, never an endless loop.
    if rows.note_requeued(image_id, times + 1, iso(now)):
        notifications.requeue(photo)
        report.requeued.append(image_id)


def _fail(
    row: Prediction, error: Failure, rows: Rows, now: datetime, report: ReconcileReport, verdicts: VerdictPublisher
) -> None:
    if rows.fail_if_pending(row.image_id, error, iso(now)):
        report.failed[row.image_id] = error.code
        failed = Prediction.failed(row.image_id, s3_key=row.s3_key or "", error=error, classified_at=iso(now))
        verdicts.publish(VerdictEvent.outcome(failed))


def _adopt_drop_folder_orphans(
    rows: Rows,
    photos: Photos,
    notifications: Notifications,
    now: datetime,
    cutoff: datetime,
    report: ReconcileReport,
) -> None:
    candidates: dict[str, StoredObject] = {}
    for photo in photos.drop_folder_objects():
        if photo.last_modified <= cutoff and ids.is_drop_folder_key(photo.key):
            candidates[ids.image_id_for_key(photo.key)] = photo
    if not candidates:
        return
    known = rows.known_ids(list(candidates))
    for image_id, photo in candidates.items():
        if image_id in known:
            continue
        created = rows.create_pending(
            Prediction.pending(
                image_id,
                s3_key=photo.key,
                source=ids.SOURCE_DROP_FOLDER,
                created_at=iso(photo.last_modified),
                requeue_count=1,
                requeued_at=iso(now),
            )
        )
        if created:  # else the classifier wrote its row meanwhile
            notifications.requeue(photo)
            report.created.append(image_id)
