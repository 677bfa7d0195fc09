"""The text check (classify.text_check): its rules, the shop's `checks.text` section, the record and the reasons;
with a fake reader, and with rapidocr itself on rendered text (classify.ocr)."""

import copy
import json
import time

import pytest
from PIL import Image, ImageDraw, ImageFont

from classify.checks import Subject, run_checks
from classify.policy import DEFAULT_POLICY_PATH, ModerationPolicy, PolicyError
from classify.text_check import (
    MAX_LINE_CHARACTERS,
    MAX_LINES,
    MAX_MATCHES,
    ReadLine,
    TextCheck,
    find_rules,
    kept_lines,
)
from photomod_shared.prediction import Prediction, TextEngineInfo

BOX = ((10, 20), (200, 20), (200, 50), (10, 50))
ENGINE = TextEngineInfo(name="fake", version="0", detection_model="det", recognition_model="rec", detection_side=512)


class FakeReader:
    info = ENGINE

    def __init__(self, *lines: str | ReadLine) -> None:
        self.lines = [line if isinstance(line, ReadLine) else ReadLine(line, BOX, 0.99) for line in lines]

    def read(self, image):
        return self.lines


def policy_with(class_index, text_section=None) -> ModerationPolicy:
    document = copy.deepcopy(json.loads(DEFAULT_POLICY_PATH.read_text()))
    if text_section is None:
        document.pop("checks", None)
    else:
        document["checks"] = {"text": text_section}
    return ModerationPolicy.from_dict(document, class_index)


def inspect(policy, *lines):
    return TextCheck(FakeReader(*lines)).inspect(Subject("id", "uploads/id.jpg", Image.new("RGB", (8, 8))), policy)


def rules_in(text: str) -> list[tuple[str, str]]:
    return [(found.rule, found.text) for found in find_rules(ReadLine(text, BOX, 0.99))]


# ---------------------------------------------------------------------------- the rules


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call +1 415 555 0199", [("phone", "+1 415 555 0199")]),
        ("(212) 555-0147 ask for Bob", [("phone", "(212) 555-0147")]),
        ("+44 20 7946 0958", [("phone", "+44 20 7946 0958")]),
        ("www.bestdeals-shop.com", [("url", "www.bestdeals-shop.com")]),
        ("see https://bit.ly/3xY9kQ now", [("url", "https://bit.ly/3xY9kQ")]),
        ("great-deals.co.uk/shoes", [("url", "great-deals.co.uk/shoes")]),
        ("mail me: jane.doe77@gmail.com", [("email", "jane.doe77@gmail.com")]),  # not also a URL gmail.com
        ("USE CODE SAVE20", [("promo", "USE CODE SAVE20")]),
        ("only $19.99", [("promo", "$19.99")]),  # a price, not a phone number
        ("49,90 €", [("promo", "49,90 €")]),
        ("20% OFF everything", [("promo", "20% OFF")]),
        # What the reader makes of overlays (bench/text_eval.py): a lost currency sign, lost spaces.
        ("only 49,90", [("promo", "49,90")]),
        ("49,90日", [("promo", "49,90")]),
        ("15 off with code FREESHIP", [("promo", "15 off"), ("promo", "code FREESHIP")]),
        ("call+14155550199", [("phone", "+14155550199")]),
        # Spelt out to slip past a filter.
        ("jane (at) gmail (dot) com", [("email", "jane@gmail.com")]),
        ("jane.doe at gmail dot com", [("url", "gmail.com")]),  # still reviewed, as a link
        ("visit cheapkicks dot net", [("url", "cheapkicks.net")]),
        ("sales[at]outlet-direct[dot]com", [("email", "sales@outlet-direct.com")]),
    ],
)
def test_each_rule_finds_what_retailers_reject(text, expected):
    assert rules_in(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Delivered 2024-01-15",
        "ISO 9001",
        "code review",
        "Size 42 EU",
        "Model X200",
        "100% cotton",
        "e.g. this",
        "1.5 L",
    ],  # fmt: skip
)
def test_ordinary_product_text_matches_no_rule(text):
    assert rules_in(text) == []


@pytest.mark.parametrize(
    "line",
    ["a." * 2500 + "-", "a@" + "a." * 2500, "a" * 5000, "1 " * 2500 + "a", "www." + "a" * 5000],
    ids=["dotted", "e-mail-like", "one word", "digits", "www"],
)
def test_adversarial_lines_are_matched_in_one_pass(line):
    # Before the rules anchored their starts, "a.a.a.…" of 5000 characters took 15 s.
    started = time.perf_counter()

    find_rules(ReadLine(line, BOX, 0.99))

    assert time.perf_counter() - started < 1.0


def test_short_and_unsure_lines_are_dropped():
    lines = [ReadLine("ab", BOX, 0.99), ReadLine("www.x-y.com", BOX, 0.79), ReadLine("  keep me  ", BOX, 0.8)]

    assert [line.text for line in kept_lines(lines)] == ["keep me"]


# ---------------------------------------------------------------------------- the verdict and the record


def test_a_phone_number_goes_to_review_with_a_reason_naming_the_rule_and_the_text(class_index):
    result = inspect(policy_with(class_index), "call +1 415 555 0199")

    assert [reason.model_dump() for reason in result.reasons] == [
        {
            "category": "text",
            "action": "review",
            "label": "phone",
            "rule": "text_phone",
            "score": 0.99,
            "text": "+1 415 555 0199",
        }
    ]
    record = result.record.model_dump()
    assert record["lines"] == [
        {"text": "call +1 415 555 0199", "box": [[10, 20], [200, 20], [200, 50], [10, 50]], "confidence": 0.99}
    ]
    assert record["matches"] == [
        {"rule": "phone", "text": "+1 415 555 0199", "box": record["lines"][0]["box"], "action": "review"}
    ]
    assert record["engine"] == ENGINE.model_dump()


def test_the_record_is_stored_on_the_prediction_and_answered_by_the_api(class_index):
    result = inspect(policy_with(class_index), "www.spam-shop.com")
    done = Prediction.done(
        "a" * 32,
        s3_key="uploads/a.jpg",
        prediction="tabby",
        score=0.9,
        labels=[],
        verdict="review",
        verdict_reasons=list(result.reasons),
        policy_version="p",
        model=None,  # type: ignore[arg-type]
        safety=None,
        checks={"text": result.record},
    )

    stored = Prediction.from_item(done.to_item())
    assert stored.text == result.record
    assert stored.view().model_dump(mode="json")["text"]["matches"][0]["text"] == "www.spam-shop.com"
    assert done.outcome()["text"]["lines"][0]["text"] == "www.spam-shop.com"


def test_a_shop_can_block_a_rule_and_turn_another_off(class_index):
    policy = policy_with(class_index, {"rules": {"phone": "block", "promo": "off"}})

    result = inspect(policy, "call 415 555 0199 for 20% OFF")

    assert [(reason.label, reason.action) for reason in result.reasons] == [("phone", "block")]
    assert [(match.rule, match.action) for match in result.record.matches] == [("phone", "block"), ("promo", "off")]
    assert policy.check_rules("text").action("url") == "review"  # rules left out keep their default


def test_an_allow_listed_domain_and_its_subdomains_pass_and_lookalikes_do_not(class_index):
    policy = policy_with(class_index, {"allowed_domains": ["janedoe-photo.com"]})

    result = inspect(
        policy,
        "www.janedoe-photo.com",
        "prints.janedoe-photo.com",
        "hello@janedoe-photo.com",
        "janedoe-photo.com.cheap-pills.io",
        "notjanedoe-photo.com",
    )

    assert [(match.text, match.action) for match in result.record.matches] == [
        ("www.janedoe-photo.com", "allowed"),
        ("prints.janedoe-photo.com", "allowed"),
        ("hello@janedoe-photo.com", "allowed"),
        ("janedoe-photo.com.cheap-pills.io", "review"),
        ("notjanedoe-photo.com", "review"),
    ]
    assert [(reason.label, reason.text) for reason in result.reasons] == [("url", "janedoe-photo.com.cheap-pills.io")]


def at(text: str, left: int, top: int, height: int = 30) -> ReadLine:
    right = left + 20 * len(text)
    return ReadLine(text, ((left, top), (right, top), (right, top + height), (left, top + height)), 0.99)


def test_a_phone_number_spread_over_several_boxes_on_one_row_is_found_on_the_row(class_index):
    # Wide gaps: the reader detects "call   415   555   0199" as four boxes (classify.ocr on rendered text).
    lines = [at("555", 430, 252), at("call", 26, 248), at("0199", 628, 246), at("415", 223, 251), at("Nice", 26, 400)]

    result = inspect(policy_with(class_index), *lines)

    assert [(reason.label, reason.text) for reason in result.reasons] == [("phone", "415 555 0199")]
    (match,) = result.record.matches
    assert match.box == [[26, 246], [708, 246], [708, 282], [26, 282]]  # the row's box


def test_a_match_within_one_line_is_not_counted_again_for_its_row(class_index):
    result = inspect(policy_with(class_index), at("www.spam-shop.com", 10, 10), at("Great shoes", 500, 12))

    assert [(match.rule, match.text) for match in result.record.matches] == [("url", "www.spam-shop.com")]


def test_a_photo_without_matching_text_keeps_its_record_and_adds_no_reason(class_index):
    result = inspect(policy_with(class_index), "Nike", ReadLine("zz", BOX, 0.99))

    assert result.reasons == ()
    assert [line.text for line in result.record.lines] == ["Nike"]
    assert result.record.matches == []


def test_a_photo_covered_in_text_is_judged_on_every_line_and_stores_a_bounded_record(class_index):
    lines = [f"line number {n}" for n in range(MAX_LINES + 30)] + ["call +1 415 555 0199"] * (MAX_MATCHES + 5)

    result = inspect(policy_with(class_index), *lines)

    assert [reason.label for reason in result.reasons] == ["phone"]  # the last line still counts
    assert len(result.record.lines) == MAX_LINES and len(result.record.matches) == MAX_MATCHES
    assert result.record.truncated is True


def test_a_number_hidden_at_the_end_of_a_long_line_is_found_and_the_stored_line_is_cut(class_index):
    line = "lorem ipsum " * 40 + "call +1 415 555 0199"

    result = inspect(policy_with(class_index), line)

    assert [(reason.label, reason.text) for reason in result.reasons] == [("phone", "+1 415 555 0199")]
    assert len(result.record.lines[0].text) == MAX_LINE_CHARACTERS and result.record.truncated is True


def test_a_reader_that_fails_sends_the_photo_to_review(class_index):
    class Broken(FakeReader):
        def read(self, image):
            raise RuntimeError("onnxruntime died")

    report, _ = run_checks(
        (TextCheck(Broken()),), Subject("id", "k", Image.new("RGB", (8, 8))), policy_with(class_index)
    )

    assert [(r.category, r.action, r.rule) for r in report.reasons] == [("text", "review", "check_failed")]
    assert report.records == {}


# ---------------------------------------------------------------------------- the shop's policy section


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"rules": {"fax": "review"}}, r"checks\.text\.rules': unknown rule\(s\) \['fax'\]"),
        ({"rules": {"url": "allow"}}, r"checks\.text\.rules\.url' must be one of \['off', 'review', 'block'\]"),
        ({"allowed_domains": ["https://example.com"]}, "not a lower-case domain name"),
        ({"allowed_domains": ["*.example.com"]}, "not a lower-case domain name"),
        ({"allowed_domains": "example.com"}, "must be a list"),
        ({"allow": ["example.com"]}, r"unknown key\(s\) \['allow'\]"),
        (["url"], "must be an object"),
    ],
)
def test_a_bad_text_section_is_refused_naming_where(class_index, section, message):
    with pytest.raises(PolicyError, match=message):
        policy_with(class_index, section)


def test_the_built_in_policy_reviews_all_four_rules(policy):
    rules = policy.check_rules("text")

    assert dict(rules.actions) == {"url": "review", "email": "review", "phone": "review", "promo": "review"}
    assert rules.allowed_domains == ()


# ---------------------------------------------------------------------------- rapidocr itself


@pytest.fixture(scope="module")
def reader():
    from classify.ocr import load_reader

    return load_reader()


def overlaid(text: str, size=(1200, 900)) -> Image.Image:
    image = Image.new("RGB", size, (90, 120, 60))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, size[0], size[1] // 2), fill=(200, 180, 150))
    draw.text((60, size[1] // 2 - 30), text, font=ImageFont.load_default(size=56), fill="white",
              stroke_width=2, stroke_fill="black")  # fmt: skip
    return image


def test_rapidocr_reads_an_overlaid_phone_number_and_the_check_reviews_it(reader, policy):
    result = TextCheck(reader).inspect(Subject("id", "k", overlaid("call +1 415 555 0199")), policy)

    assert [(reason.label, reason.text) for reason in result.reasons] == [("phone", "+1 415 555 0199")]
    (line,) = result.record.lines
    assert line.confidence >= 0.9
    xs, ys = [x for x, _ in line.box], [y for _, y in line.box]
    assert 40 <= min(xs) < max(xs) <= 1200 and 380 <= min(ys) < max(ys) <= 540  # rendition pixels, not 512 px ones
    assert result.record.engine.name == "rapidocr" and result.record.engine.version == "3.10.0"


def test_rapidocr_and_the_rows_find_a_phone_number_spread_out_to_dodge_the_rule(reader, policy):
    spread = "call" + " " * 12 + "415" + " " * 12 + "555" + " " * 12 + "0199"

    result = TextCheck(reader).inspect(Subject("id", "k", overlaid(spread)), policy)

    assert len(result.record.lines) > 1  # read as separate boxes ...
    assert [(reason.label, reason.text) for reason in result.reasons] == [("phone", "415 555 0199")]  # ... joined


def test_a_photo_without_text_never_runs_recognition(reader, monkeypatch):
    recognitions = []
    recognizer = reader._engine.text_rec
    monkeypatch.setattr(reader._engine, "text_rec", lambda *args: recognitions.append(1) or recognizer(*args))

    assert reader.read(Image.new("RGB", (1200, 900), (90, 120, 60))) == []
    assert recognitions == []
    assert reader.read(overlaid("www.spam-shop.com")) and recognitions == [1]


def test_a_text_model_other_than_the_pinned_one_is_never_served(monkeypatch):
    from classify import ocr

    monkeypatch.setitem(ocr.MODEL_SHA256, ocr.RECOGNITION_MODEL, "0" * 64)

    with pytest.raises(ocr.TextModelRefused, match="not the pinned"):
        ocr.load_reader()


def test_the_decode_threads_can_share_one_reader(reader):
    # classify runs the checks inside the decode, on DecodeThreads (4) threads at once, with one reader per process.
    from concurrent.futures import ThreadPoolExecutor

    photos = [overlaid(text) for text in ("call +1 415 555 0199", "www.spam-shop.com", "USE CODE SAVE20", "hello")] * 2
    alone = [[line.text for line in reader.read(photo)] for photo in photos]

    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda photo: [line.text for line in reader.read(photo)], photos))

    assert together == alone
