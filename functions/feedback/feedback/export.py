"""Feedback as CSV for analysts: one bounded page at a time, safe to open in a spreadsheet.

API Gateway (REST, Lambda proxy) cannot stream, so the export is paged: each page is a complete CSV file
(header row included) and, when more rows follow, an opaque cursor that resumes right after its last row.
Rows come in table order (DynamoDB Scan order), not by time: sort in the spreadsheet.
"""

import csv
import io
import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from photomod_shared import ids
from photomod_shared.cursors import decode_cursor as decode_key
from photomod_shared.cursors import encode_cursor as encode_key
from photomod_shared.errors import InvalidCursor, InvalidInput
from photomod_shared.prediction import SAFETY_CLASSES
from photomod_shared.spreadsheet import neutralise_formula
from photomod_shared.tables.roles import Moderation

COLUMNS = (
    "image_id",
    "s3_key",
    "prediction",
    "score",
    "verdict",
    "safety_class",
    *(f"safety_{name}" for name in SAFETY_CLASSES),
    "second_opinion_nsfw",
    "explicit_rule",
    # The text check: the lines read in the photo (" | " between them) and the rules they matched, with the action
    # the policy gave each ("phone review: +1 415 555 0199").
    "text_lines",
    "text_matches",
    # The faces check's count, and whether the faces were blurred in what was served (empty: judged without it).
    "faces",
    "faces_blurred",
    "correct_label",
    "inappropriate",
    "comment",
    "created_at",
    # What moderators did with the photo, and who (the audit trail: "at action by" per decision, oldest first).
    "moderation_decision",
    "moderated_by",
    "moderated_at",
    "review_history",
    # The photo bank (classify.photo_bank): the hash, the banked photo it copies and how near, its uploads. Last,
    # so the columns before keep their places in analysts' sheets.
    "photo_bank_pdq",
    "photo_bank_match",
    "photo_bank_distance",
    "photo_bank_reuse_count",
)
DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 1000
# Lambda's response payload limit is 6 MB, and the runtime JSON-escapes the body (a quote becomes 2 bytes, an
# emoji 12), so a page also stops at this many escaped bytes, whatever `limit` says. Rows are a few hundred
# bytes in practice, so the budget only cuts pages of pathological rows.
MAX_PAGE_BYTES = 4 * 1024 * 1024
MAX_CURSOR_LENGTH = 512
# The feedback table's key: where a page ended, so the next one can start right after it.
_KEY = ("image_id", "feedback_id")
_MAX_FEEDBACK_ID_LENGTH = 100


class FeedbackReader(Protocol):
    def scan(self, *, max_items: int, start_after: Mapping[str, str] | None) -> Iterable[dict[str, Any]]:
        """Feedback items in table order, after the item with key `start_after`, at most `max_items` of them."""
        ...


@dataclass(frozen=True)
class CsvPage:
    body: str
    rows: int
    next_cursor: str | None


def csv_cell(value: Any) -> str:
    """One cell: empty for a missing value, true/false for flags, numbers as they are, any text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)  # a number (even a negative one) is data, not a formula
    return neutralise_formula(str(value))


def csv_row(item: Mapping[str, Any], moderated: Mapping[str, Any] | None = None) -> list[str]:
    # Feedback recorded before the flag existed counts as not flagged.
    values: dict[str, Any] = {"inappropriate": False, **item}
    moderation = (moderated or {}).get("moderation") or {}
    values["moderation_decision"] = moderation.get("decision")
    values["moderated_by"] = (moderation.get("decided_by") or {}).get("username")
    values["moderated_at"] = moderation.get("decided_at")
    history = (moderated or {}).get("review_history") or []
    values["review_history"] = (
        " | ".join(
            f"{entry.get('at', '')} {entry.get('action', '')} {(entry.get('by') or {}).get('username', '')}".strip()
            for entry in history
        )
        or None
    )
    # The safety model's result, flattened: its top class and the five probabilities (empty cells without it).
    safety = item.get("safety") or {}
    values["safety_class"] = safety.get("top_class")
    for name, probability in (safety.get("probabilities") or {}).items():
        values[f"safety_{name}"] = probability
    # The second explicit-content model's P(NSFW), and the cell of the policy's table of both opinions that fired.
    values["second_opinion_nsfw"] = (safety.get("second_opinion") or {}).get("nsfw")
    rules = [reason.get("rule") for reason in item.get("verdict_reasons") or [] if isinstance(reason, dict)]
    # Only the explicit table's cells (nsfwjs_<band>+open_nsfw_<band>): the checks' reasons have rules of their own.
    values["explicit_rule"] = next(
        (rule for rule in rules if isinstance(rule, str) and rule.startswith("nsfwjs_")), None
    )
    text = item.get("text") or {}
    values["text_lines"] = " | ".join(str(line.get("text", "")) for line in text.get("lines") or []) or None
    values["text_matches"] = (
        " | ".join(
            f"{match.get('rule', '')} {match.get('action', '')}: {match.get('text', '')}"
            for match in text.get("matches") or []
        )
        or None
    )
    bank = item.get("photo_bank") or {}
    values["photo_bank_pdq"] = bank.get("pdq")
    values["photo_bank_match"] = (bank.get("matched") or {}).get("image_id")
    values["photo_bank_distance"] = (bank.get("matched") or {}).get("distance")
    values["photo_bank_reuse_count"] = bank.get("reuse_count")
    faces = item.get("faces") or {}
    values["faces"], values["faces_blurred"] = faces.get("count"), faces.get("blurred")
    return [csv_cell(values.get(column)) for column in COLUMNS]


def encode_cursor(item: Mapping[str, Any]) -> str:
    """The cursor of the page that starts right after `item`."""
    return encode_key({name: item[name] for name in _KEY})


def decode_cursor(cursor: str) -> dict[str, str]:
    """The key a cursor resumes after; InvalidCursor for anything this module did not write."""
    message = "cursor is not one this API returned; start again without it"
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor(message)
    key = decode_key(cursor, _KEY, message=message)
    if not ids.is_image_id(key["image_id"]) or not 0 < len(key["feedback_id"]) <= _MAX_FEEDBACK_ID_LENGTH:
        raise InvalidCursor(message)
    return key


def _escaped_size(text: str) -> int:
    """Bytes `text` takes once the Lambda runtime has JSON-encoded the response."""
    return len(json.dumps(text)) - 2


def export_feedback_page(
    feedback: FeedbackReader,
    *,
    limit: int = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
    max_bytes: int = MAX_PAGE_BYTES,
    moderations: Moderation | None = None,
) -> CsvPage:
    """One page of the feedback export: a header row and up to `limit` rows, and the cursor of the next page."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}", code="invalid_limit")
    start_after = decode_cursor(cursor) if cursor else None
    # One item more than the page holds tells whether another page follows, without an empty last page.
    items = list(itertools.islice(feedback.scan(max_items=limit + 1, start_after=start_after), limit + 1))
    moderated = moderations.moderations([item["image_id"] for item in items[:limit]]) if moderations and items else {}

    buffer = io.StringIO()
    writer = csv.writer(buffer)  # minimal quoting, CRLF line ends: RFC 4180
    writer.writerow(COLUMNS)
    size = _escaped_size(buffer.getvalue())
    written: list[Mapping[str, Any]] = []
    line = io.StringIO()
    line_writer = csv.writer(line)
    for item in items[:limit]:
        line.seek(0)
        line.truncate()
        line_writer.writerow(csv_row(item, moderated.get(item["image_id"])))
        text = line.getvalue()
        if written and size + _escaped_size(text) > max_bytes:
            break
        buffer.write(text)
        size += _escaped_size(text)
        written.append(item)

    more = len(written) < len(items)
    return CsvPage(body=buffer.getvalue(), rows=len(written), next_cursor=encode_cursor(written[-1]) if more else None)
