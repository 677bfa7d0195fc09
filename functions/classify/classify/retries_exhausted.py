"""A notification that exhausted its retries (it reached the dead-letter queue) ends its photos as `failed`."""

from classify.events import PhotoEvent
from photomod_shared import ids
from photomod_shared.prediction import EventStamp, Failure, Prediction
from photomod_shared.tables.roles import Outcomes
from photomod_shared.verdict_events import NoVerdictEvents, VerdictEvent, VerdictPublisher

RETRIES_EXHAUSTED = Failure(
    "retries_exhausted",
    "classification kept failing (e.g. the function timed out or crashed); the photo was not classified",
)


def fail_exhausted_photos(
    events: list[PhotoEvent], predictions: Outcomes, now: str, verdicts: VerdictPublisher | None = None
) -> list[PhotoEvent]:
    """Records a final failure for each photo unless it was classified after all (the same or a newer event).

    Returns the events whose photo it failed.
    """
    failed = []
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
    return failed
