"""Recording shoppers' feedback on predictions."""

import uuid
from datetime import datetime
from typing import Any, Protocol

from feedback.limits import DEFAULT_HIDES_PER_ADDRESS, HideQuota, may_hide
from photomod_shared.clock import iso
from photomod_shared.prediction import VERDICT_ALLOW, find_prediction
from photomod_shared.publication import NoPublisher, Publisher
from photomod_shared.tables.roles import Moderation
from photomod_shared.verdict_events import NoVerdictEvents, VerdictEvent, VerdictPublisher


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
    predictions: Moderation,
    feedback: FeedbackStore,
    now: datetime,
    verdicts: VerdictPublisher | None = None,
    source_ip: str = "",
    quota: HideQuota | None = None,
    hides_per_address: int = DEFAULT_HIDES_PER_ADDRESS,
    publisher: Publisher | None = None,
) -> dict[str, Any]:
    """Stores the shopper's correction next to what the model said when the shopper saw it.

    A report that the photo is inappropriate also sends a shown photo back to the moderators' queue, within the
    limits of feedback.limits (per client address `source_ip`, counted in `quota`); beyond them, and for a photo
    a moderator already decided on, the report is only counted (see `PredictionTable.report_by_shopper`).
    """
    prediction = find_prediction(image_id, predictions)
    would_hide = (
        request.inappropriate
        and prediction.is_done
        and prediction.verdict == VERDICT_ALLOW
        and not prediction.moderation
    )
    # The quota is spent only by a report that would take a shown photo out of view.
    within_limits = not would_hide or quota is None or may_hide(quota, source_ip, now, hides_per_address)
    created_at = iso(now)
    # Sorts by time within an image; the uuid keeps two reports in the same millisecond apart.
    feedback_id = f"{created_at}#{uuid.uuid4().hex}"
    # What the model said, as the record stores it (its safety scores, reasons and checks' records as plain values).
    said = prediction.model_dump(include={"safety", "verdict_reasons", "text", "photo_bank", "faces"})
    feedback.add(
        {
            "image_id": image_id,
            "feedback_id": feedback_id,
            "s3_key": prediction.s3_key,
            "prediction": prediction.prediction,
            "score": prediction.score,
            "verdict": prediction.verdict,
            "safety": said["safety"],
            # Which rules fired (the export's explicit_rule: the cell of the table of both explicit opinions).
            "verdict_reasons": said["verdict_reasons"] or [],
            # The text read in the photo (the export's text_lines and text_matches).
            "text": said.get("text"),
            # The photo's PDQ hash and what it matched (classify.photo_bank); absent before the check ran.
            **({"photo_bank": said["photo_bank"]} if said.get("photo_bank") else {}),
            # The faces check's record (count, boxes, whether blurred): the export's faces columns.
            "faces": said.get("faces"),
            "status_at_feedback": prediction.status,
            "correct_label": request.correct_label,
            "comment": request.comment,
            "inappropriate": request.inappropriate,
            "over_report_limit": not within_limits,
            "created_at": created_at,
        }
    )
    # After the feedback is stored, so a report is never lost even if the queue update fails.
    sent_to_review = (
        request.inappropriate
        and prediction.is_done
        and predictions.report_by_shopper(image_id, created_at, may_hide=within_limits)
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
