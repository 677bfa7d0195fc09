"""reconcile: nothing waits forever.

A photo can stay `pending` when its S3 notification was lost, when the presigned upload was never used,
or when its object was deleted; a drop-folder photo whose notification was lost has no row at all. On a
schedule, `reconcile` looks at everything pending longer than a threshold and

- re-queues the photo's notification when its object is there (at most `max_requeues` times; then the
  photo ends `failed`, `not_classified`),
- ends it `failed` with `upload_not_received` when a presigned upload expired without the photo, or
  `object_missing` when the object is gone,

and gives drop-folder objects older than the threshold that have no row a pending row, then re-queues them.

Its cost follows the work, not the history:
- pending rows come from the table's sparse index of pending rows, oldest look first, only those due (created
  or last re-queued before the threshold): a settled or re-queued row leaves that range, so a run that stops
  early leaves exactly the rest for the next one;
- the drop folder is listed from where the last run stopped, and only objects modified since the last
  completed pass (less a margin) are looked up in the table: a pass never re-reads the rows of history;
- a run stops before its timeout (`time_left_s`), keeping time for its last writes, and saves its place;
- a row whose settling raises (e.g. a HEAD answering 400 for an SSE-C object) is logged, counted in `errors`
  and postponed behind the others; it never stops the run.
"""

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from photomod_shared import ids
from photomod_shared.clock import iso, parse_iso
from photomod_shared.prediction import Failure, Prediction
from photomod_shared.tables.roles import Intake
from photomod_shared.verdict_events import NoVerdictEvents, VerdictEvent, VerdictPublisher

# How long after a presigned upload expires before a missing object counts as never sent (as the upload
# function decides when polled).
ARRIVAL_GRACE = timedelta(seconds=60)
# Seconds kept back from the timeout for the run's last writes (its place in the drop folder, the report).
RESERVE_S = 10.0
# The pending rows get this share of a run's time when the drop folder has work too; either takes what is left.
PENDING_SHARE = 0.6
# An object modified this long before the last completed pass's cutoff is looked at again (clock skew, and an
# upload whose LastModified is its start).
ADOPTION_MARGIN = timedelta(minutes=5)
PAGE_SIZE = 100
# Objects per ListObjectsV2 request (its maximum).
LIST_PAGE_SIZE = 1000

logger = logging.getLogger(__name__)

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

    def drop_folder_page(self, start_after: str | None, limit: int) -> tuple[list[StoredObject], str | None]:
        """Up to `limit` drop-folder objects in key order after `start_after`, and the key to continue after
        (None at the end of the folder)."""
        ...


class Notifications(Protocol):
    def requeue(self, photo: StoredObject) -> None: ...


@dataclass
class ReconcileReport:
    requeued: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # image id -> reason code
    created: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # image id or key -> what went wrong
    # False when the run stopped for lack of time: the next one goes on from there.
    complete: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "requeued": self.requeued,
            "failed": self.failed,
            "created": self.created,
            "errors": self.errors,
            "complete": self.complete,
        }


# The reconciler's place in the drop folder, kept in the table between runs.
ADOPTED_THROUGH = "adopted_through"  # the cutoff of the last completed pass over the drop folder
LISTED_AFTER = "listed_after"  # the last key an unfinished pass looked at
UNFINISHED_CUTOFF = "unfinished_cutoff"  # the cutoff the unfinished pass started with


def reconcile(
    *,
    rows: Intake,
    photos: Photos,
    notifications: Notifications,
    now: datetime,
    pending_after: timedelta,
    max_requeues: int,
    time_left_s: Callable[[], float] = lambda: math.inf,
    verdicts: VerdictPublisher | None = None,
) -> ReconcileReport:
    """`verdicts` announces each photo it ends failed (photomod_shared.verdict_events)."""
    report = ReconcileReport()
    cutoff = now - pending_after
    started_with = time_left_s()
    # Without a deadline (scripts, tests) the pending rows take what they need.
    pending_until = (
        RESERVE_S + (1 - PENDING_SHARE) * max(0.0, started_with - RESERVE_S)
        if math.isfinite(started_with)
        else -math.inf
    )
    _settle_pending_rows(
        rows,
        photos,
        notifications,
        now,
        cutoff,
        max_requeues,
        report,
        lambda: time_left_s() > pending_until,
        verdicts or NoVerdictEvents(),
    )
    _adopt_drop_folder_orphans(rows, photos, notifications, now, cutoff, report, lambda: time_left_s() > RESERVE_S)
    return report


def _settle_pending_rows(
    rows: Intake,
    photos: Photos,
    notifications: Notifications,
    now: datetime,
    cutoff: datetime,
    max_requeues: int,
    report: ReconcileReport,
    has_time: Callable[[], bool],
    verdicts: VerdictPublisher,
) -> None:
    start_after: dict[str, Any] | None = None
    while True:
        if not has_time():
            report.complete = False
            logger.warning("stopping before the timeout; the pending rows left are due first next run")
            return
        page, start_after = rows.pending_due(iso(cutoff), PAGE_SIZE, start_after)
        for position, row in enumerate(page):
            if position and not has_time():
                report.complete = False
                return
            if not row.is_pending or _looked_at_since(row, cutoff):
                continue
            try:
                _settle(row, rows, photos, notifications, now, max_requeues, report, verdicts)
            except Exception as error:
                logger.exception("could not settle pending photo %s; skipping it", row.image_id)
                report.errors[row.image_id] = _describe(error)
                _postpone(rows, row.image_id, now)
        if start_after is None:
            return


def _postpone(rows: Intake, image_id: str, now: datetime) -> None:
    try:
        rows.postpone_pending(image_id, iso(now))
    except Exception:
        logger.exception("could not postpone pending photo %s", image_id)


def _describe(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, Mapping):
        details = response.get("Error", {})
        return f"{details.get('Code', type(error).__name__)}: {details.get('Message', '')}".strip()
    return f"{type(error).__name__}: {error}"


def _looked_at_since(row: Prediction, cutoff: datetime) -> bool:
    """Pending for less than the threshold, or re-queued less than the threshold ago (the index says the same;
    this guards a row read just as it was re-queued). A row without either time is due."""
    last = row.requeued_at or row.created_at
    return bool(last) and parse_iso(str(last)) > cutoff


def _settle(
    row: Prediction,
    rows: Intake,
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
    row: Prediction, error: Failure, rows: Intake, now: datetime, report: ReconcileReport, verdicts: VerdictPublisher
) -> None:
    if rows.fail_if_pending(row.image_id, error, iso(now)):
        report.failed[row.image_id] = error.code
        failed = Prediction.failed(row.image_id, s3_key=row.s3_key or "", error=error, classified_at=iso(now))
        verdicts.publish(VerdictEvent.outcome(failed))


def _adopt_drop_folder_orphans(
    rows: Intake,
    photos: Photos,
    notifications: Notifications,
    now: datetime,
    cutoff: datetime,
    report: ReconcileReport,
    has_time: Callable[[], bool],
) -> None:
    """Gives drop-folder objects without a row one, looking up only objects modified since the last completed
    pass (less a margin); lists the folder from where an unfinished pass stopped."""
    state = rows.reconcile_state()
    adopted_through = parse_iso(state[ADOPTED_THROUGH]) if state.get(ADOPTED_THROUGH) else None
    listed_after = state.get(LISTED_AFTER) or None
    # An unfinished pass goes on with its own cutoff, so the objects it listed already stay covered.
    pass_cutoff = parse_iso(state[UNFINISHED_CUTOFF]) if listed_after and state.get(UNFINISHED_CUTOFF) else cutoff
    newer_than = adopted_through - ADOPTION_MARGIN if adopted_through else None
    while True:
        if not has_time():
            report.complete = False
            rows.save_reconcile_state({**state, LISTED_AFTER: listed_after or "", UNFINISHED_CUTOFF: iso(pass_cutoff)})
            logger.warning("stopping before the timeout; the drop folder's pass goes on after %r", listed_after)
            return
        page, next_after = photos.drop_folder_page(listed_after, LIST_PAGE_SIZE)
        candidates: dict[str, StoredObject] = {}
        for photo in page:
            recent = newer_than is None or photo.last_modified > newer_than
            if recent and photo.last_modified <= pass_cutoff and ids.is_drop_folder_key(photo.key):
                candidates[ids.image_id_for_key(photo.key)] = photo
        if candidates:
            _adopt(candidates, rows, notifications, now, report)
        if next_after is None:
            break
        listed_after = next_after
    rows.save_reconcile_state({ADOPTED_THROUGH: iso(pass_cutoff)})


def _adopt(
    candidates: dict[str, StoredObject],
    rows: Intake,
    notifications: Notifications,
    now: datetime,
    report: ReconcileReport,
) -> None:
    known = rows.known_ids(list(candidates))
    for image_id, photo in candidates.items():
        if image_id in known:
            continue
        try:
            created = rows.create_pending_once(
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
        except Exception as error:
            logger.exception("could not adopt drop-folder photo %r; skipping it", photo.key)
            report.errors[photo.key] = _describe(error)
