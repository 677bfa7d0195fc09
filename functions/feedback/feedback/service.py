"""Recording shoppers' feedback on predictions."""

import uuid
from datetime import datetime
from typing import Any, Protocol

from photomod_shared.clock import iso
from photomod_shared.prediction import PredictionLookup, find_prediction
from photomod_shared.publication import NoPublisher, Publisher
from photomod_shared.verdict_events import NoVerdictEvents, VerdictEvent, VerdictPublisher


class Predictions(PredictionLookup, Protocol):
    def report_by_shopper(self, image_id: str, reported_at: str) -> bool: ...


class FeedbackRequest(Protocol):
    """What the shopper says (the HTTP layer has validated each field)."""

    @property
    def correct_label(self) -> str: ...

    @property
    def comment(self) -> str: ...

    @property
    def inappropriate(self) -> bool: ...


class FeedbackStore(Protocol):
    def add(self, item: dict[str, Any]) -> None: ...


def record_feedback(
    image_id: str,
    request: FeedbackRequest,
    *,
    predictions: Predictions,
    feedback: FeedbackStore,
    now: datetime,
    verdicts: VerdictPublisher | None = None,
    publisher: Publisher | None = None,
) -> dict[str, Any]:
    """Stores the shopper's correction next to what the model said when the shopper saw it.

    A report that the photo is inappropriate also sends a classified photo back to the moderators' queue
    (see `PredictionTable.report_by_shopper` for when it is only counted).
    """
    prediction = find_prediction(image_id, predictions)
    created_at = iso(now)
    # Sorts by time within an image; the uuid keeps two reports in the same millisecond apart.
    feedback_id = f"{created_at}#{uuid.uuid4().hex}"
    feedback.add(
        {
            "image_id": image_id,
            "feedback_id": feedback_id,
            "s3_key": prediction.s3_key,
            "prediction": prediction.prediction,
            "score": prediction.score,
            "verdict": prediction.verdict,
            "safety": prediction.safety,
            # Which rules fired (the export's explicit_rule: the cell of the table of both explicit opinions).
            "verdict_reasons": prediction.verdict_reasons or [],
            "status_at_feedback": prediction.status,
            "correct_label": request.correct_label,
            "comment": request.comment,
            "inappropriate": request.inappropriate,
            "created_at": created_at,
        }
    )
    # After the feedback is stored, so a report is never lost even if the queue update fails.
    sent_to_review = (
        request.inappropriate and prediction.is_done and predictions.report_by_shopper(image_id, created_at)
    )
    if sent_to_review:
        (publisher or NoPublisher()).unpublish(image_id)  # hidden from shoppers until a moderator decides
    if request.inappropriate:
        (verdicts or NoVerdictEvents()).publish(VerdictEvent.reported(prediction, created_at, bool(sent_to_review)))
    return {
        "feedback_id": feedback_id,
        "image_id": image_id,
        "created_at": created_at,
        "sent_to_review": sent_to_review,
    }
