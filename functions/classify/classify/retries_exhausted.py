"""A notification that exhausted its retries (it reached the dead-letter queue) ends its photos as `failed`, and
unpublished: a photo that failed shows nothing (an older version's published rendition included)."""

from classify.events import PhotoEvent
from photomod_shared import ids
from photomod_shared.prediction import EventStamp, Failure, Prediction
from photomod_shared.publication import NoPublisher, Publisher, may_be_shown
from photomod_shared.tables.roles import Outcomes
from photomod_shared.verdict_events import NoVerdictEvents, VerdictEvent, VerdictPublisher

RETRIES_EXHAUSTED = Failure(
    "retries_exhausted",
    "classification kept failing (e.g. the function timed out or crashed); the photo was not classified",
)


def fail_exhausted_photos(
    events: list[PhotoEvent],
    predictions: Outcomes,
    now: str,
    verdicts: VerdictPublisher | None = None,
    publisher: Publisher | None = None,
) -> list[PhotoEvent]:
    """Records a final failure for each photo unless it was classified after all (the same or a newer event), then
    unpublishes every photo whose stored row does not allow it, in one request (an error raises: the dead letter
    stays and is retried, and the retry reads the same rows again, so a failed photo never stays shown). A photo
    classified after all keeps what its classification published.

    Returns the events whose photo it failed.
    """
    failed = []
    settled: dict[str, None] = {}  # each photo once, in order
    for event in events:
        try:
            image_id = ids.image_id_for_key(event.key)
        except ids.UnrecognisedKey:
            continue
        outcome = Prediction.failed(image_id, s3_key=event.key, error=RETRIES_EXHAUSTED, classified_at=now)
        stamp = EventStamp(event.sequencer, event.event_time, event.version_id)
        # This event's own result (whatever version it judged) stays: only an older upload's is replaced.
        if predictions.record_outcome(outcome, stamp, now, replace_same_order=False):
            (verdicts or NoVerdictEvents()).publish(VerdictEvent.outcome(outcome))
            failed.append(event)
        settled[image_id] = None
    hidden = [image_id for image_id in settled if not may_be_shown(predictions.get(image_id))]
    if hidden:
        (publisher or NoPublisher()).unpublish_many(hidden)
    return failed
