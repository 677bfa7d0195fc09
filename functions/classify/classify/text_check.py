"""The text check (issue 20): text read in the rendition, matched against the shop's text rules.

Retailers reject review photos that carry a URL, an e-mail address, a phone number, or a promo code or price
(Bazaarvoice's "URL", "personal information" and "price" codes; Amazon's "links", "promotion", "private
information"). What is read is recorded (`Prediction.text`: lines, boxes in rendition pixels, confidences, the
engine's versions); every rule that matches is recorded with the action the policy in force gives it, and the
rules set to review or block add a verdict reason naming the rule and the text it matched.

The rules are the policy document's `checks.text` section (parse_text_rules). Every rule defaults to `review`:
a person looks before a photo with contact details or a price is shown, and a false positive only costs a look
(the sample photos' only hits are photographers' URL watermarks, which a shop allow-lists by domain). `block` is
for a shop that wants none of it shown, ever.

The reader (OCR) sits behind `TextReader`, so the rules are tested without the model (classify.ocr is rapidocr's).
Plain Python: no AWS. Never log what was read: it is the photo's own text, often personal data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from PIL import Image

from classify.checks import CheckResult, Subject
from photomod_shared.prediction import (
    VERDICT_BLOCK,
    VERDICT_REVIEW,
    TextEngineInfo,
    TextFound,
    TextLine,
    TextMatch,
    VerdictReason,
)

if TYPE_CHECKING:
    from classify.policy import ModerationPolicy

NAME = "text"  # the check's name: Prediction.text, the policy's checks.text, a VerdictReason's category

URL, EMAIL, PHONE, PROMO = "url", "email", "phone", "promo"
RULES = (URL, EMAIL, PHONE, PROMO)
OFF = "off"
ALLOWED = "allowed"  # a match's action where its domain is on the shop's allow-list
RULE_ACTIONS = (OFF, VERDICT_REVIEW, VERDICT_BLOCK)

# Lines the reader is unsure of, and 1-2 character lines, are noise on ordinary photos (issue 20's measurement on
# the 117 sample photos); overlaid review text reads at a median confidence of 0.998.
MIN_CONFIDENCE = 0.8
MIN_CHARACTERS = 3
# What one record stores, so a photo covered in text cannot grow the item without bound (DynamoDB's 400 KB):
# every line is matched whole, only these many (and characters of each) are kept.
MAX_LINES = 40
MAX_MATCHES = 20
MAX_LINE_CHARACTERS = 200
# The allow-list lives in a policy document of at most 8192 bytes (SSM).
MAX_ALLOWED_DOMAINS = 50

_SECTION_KEYS = {"description", "rules", "allowed_domains"}
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@dataclass(frozen=True)
class TextRules:
    """The `checks.text` section: each rule's action (off, review, block) and the domains a shop allows."""

    actions: Mapping[str, str]
    allowed_domains: tuple[str, ...] = ()

    def action(self, rule: str) -> str:
        return self.actions[rule]

    def allows(self, domain: str) -> bool:
        """A domain on the allow-list, or a subdomain of one (photos.example.com under example.com)."""
        domain = domain.lower().rstrip(".")
        return any(domain == allowed or domain.endswith("." + allowed) for allowed in self.allowed_domains)


DEFAULT_TEXT_RULES = TextRules({rule: VERDICT_REVIEW for rule in RULES})


def parse_text_rules(section: Any, where: str) -> TextRules:
    """The policy document's `checks.text` (None: the defaults); PolicyError naming `where` for a bad one."""
    from classify.policy import PolicyError  # here: classify.policy imports this module for CHECK_RULES

    if section is None:
        return DEFAULT_TEXT_RULES
    if not isinstance(section, dict):
        raise PolicyError(f"'{where}' must be an object with 'rules' and 'allowed_domains'")
    unknown = sorted(set(section) - _SECTION_KEYS)
    if unknown:
        raise PolicyError(f"'{where}': unknown key(s) {unknown}; allowed: {sorted(_SECTION_KEYS)}")
    rules = section.get("rules", {})
    if not isinstance(rules, dict):
        raise PolicyError(f"'{where}.rules' must be an object of rule ({', '.join(RULES)}) to action")
    unknown = sorted(set(rules) - set(RULES))
    if unknown:
        raise PolicyError(f"'{where}.rules': unknown rule(s) {unknown}; the rules are {list(RULES)}")
    for rule, action in rules.items():
        if action not in RULE_ACTIONS:
            raise PolicyError(f"'{where}.rules.{rule}' must be one of {list(RULE_ACTIONS)}, got {action!r}")
    domains = section.get("allowed_domains", [])
    if not isinstance(domains, list) or len(domains) > MAX_ALLOWED_DOMAINS:
        raise PolicyError(f"'{where}.allowed_domains' must be a list of at most {MAX_ALLOWED_DOMAINS} domains")
    for domain in domains:
        if not isinstance(domain, str) or not _DOMAIN.match(domain):
            raise PolicyError(
                f"'{where}.allowed_domains': {domain!r} is not a lower-case domain name such as example.com "
                "(no scheme, path or wildcard: its subdomains are allowed with it)"
            )
    return TextRules({**DEFAULT_TEXT_RULES.actions, **rules}, tuple(domains))


# ---------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class ReadLine:
    """One line a reader read: its text, its box (four [x, y] corners in the given image's pixels), confidence."""

    text: str
    box: tuple[tuple[int, int], ...]
    confidence: float


class TextReader(Protocol):
    info: TextEngineInfo

    def read(self, image: Image.Image) -> Sequence[ReadLine]:
        """Every line of text in an RGB image (detection first; recognition only of the boxes it finds)."""
        ...


def kept_lines(lines: Sequence[ReadLine]) -> list[ReadLine]:
    """The lines worth judging: at least MIN_CHARACTERS characters read with at least MIN_CONFIDENCE."""
    return [
        ReadLine(line.text.strip(), line.box, line.confidence)
        for line in lines
        if len(line.text.strip()) >= MIN_CHARACTERS and line.confidence >= MIN_CONFIDENCE
    ]


# ---------------------------------------------------------------------------- the rules

# Top-level domains a review photo's link or address uses (a closed list: an open one reads "a.bc" noise as links).
_TLDS = (
    "com|net|org|info|biz|io|co|shop|store|online|site|website|xyz|top|app|dev|me|ly|gl|to|tv|cc|link|click|club|"
    "vip|live|blog|news|email|us|uk|de|fr|es|it|nl|be|at|ch|se|no|dk|fi|pl|cz|pt|ie|ru|ua|cn|jp|kr|in|au|nz|ca|eu|"
    "br|mx|ar|za|ai|gg"
)
# Each match starts where a name starts (the look-behinds), never again inside one: a line of "a.a.a.a..." the
# uploader wrote to slow the rules down costs one pass, not one per character (test_text_check: adversarial lines).
_EMAIL = re.compile(r"(?<![a-z0-9._%+-])[a-z0-9][a-z0-9._%+-]*@(?:[a-z0-9-]+\.)+[a-z]{2,}", re.IGNORECASE)
_URL = re.compile(
    r"(?:https?://\S+|(?<![a-z0-9.-])www\.\S+|(?<![a-z0-9.-])(?:[a-z0-9-]+\.)+(?:" + _TLDS + r")\b(?:/\S*)?)",
    re.IGNORECASE,
)
# Digits in groups (spaces, dots, dashes, brackets between them), optionally after +: counted as a phone number at
# 7 to 15 digits (E.164's longest), unless it reads as a date or a price.
# OCR drops spaces ("call+14155550199"): a + may follow a word directly.
_PHONE = re.compile(r"(?:(?<=[a-z])\+|(?<![\w+])\+?)\(?\d[\d\s().-]{4,}\d(?![\w])", re.IGNORECASE)
_DATE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")
_CURRENCY = r"[$€£¥₹]"
_PROMO = re.compile(
    r"(?:" + _CURRENCY + r"\s?\d[\d,]*(?:\.\d{1,2})?"  # $19.99, € 49
    r"|\b\d[\d,]*(?:[.,]\d{1,2})?\s?(?:" + _CURRENCY + r"|(?i:usd|eur|gbp|dollars?|euros?)\b)"  # 49,90 €, 20 USD
    # A price without its currency sign (the reader misses € and £ now and then): two decimals, no unit after it.
    # (or reads it as another script's letter: "49,90日").
    r"|(?<![\d.,])\b\d{1,4}[.,]\d{2}(?![.,]?\d|\s?(?i:[a-z%\"'°]))"
    r"|\b\d{1,3}\s?%?\s?(?i:off)\b"  # 20% OFF, 15 off
    r"|\b(?i:promo(?:\s?code)?|coupon(?:\s?code)?|discount\s?code|voucher(?:\s?code)?|(?:use|enter)\s*code|code)"
    r"\s*[:\-]?\s*(?:[A-Z0-9]*\d[A-Z0-9]*|[A-Z]{4,})\b"  # code SAVE20, CODE FREESHIP (not "code review")
    r"|\b(?i:promo|coupon|voucher|discount)\s*[:\-]?\s*[A-Z]{4,}\b)"  # PROMO: SPRING
)


# Addresses spelt out to slip past a filter: "jane (at) gmail (dot) com", "shop dot com". A bare " dot " counts only
# before a top-level domain; a bare " at " never ("order at shop.com" is a link, "jane at gmail dot com" is one too).
_SPELT_DOT = re.compile(r"\s*[(\[{]\s*dot\s*[)\]}]\s*|\s+dot\s+(?=(?:" + _TLDS + r")\b)", re.IGNORECASE)
_SPELT_AT = re.compile(r"(?<=[a-z0-9])\s*[(\[{]\s*at\s*[)\]}]\s*(?=[a-z0-9])", re.IGNORECASE)


def _spelt_out(text: str) -> str:
    return _SPELT_AT.sub("@", _SPELT_DOT.sub(".", text))


@dataclass(frozen=True)
class Found:
    rule: str
    text: str
    line: ReadLine
    domain: str | None = None  # a URL's or an e-mail address's domain, which the allow-list reads


def _host(url: str) -> str:
    host = re.sub(r"^(?:https?://)", "", url, flags=re.IGNORECASE).split("/", 1)[0].split(":", 1)[0]
    host = host.lower().strip(".,;:!?)(\"'")
    return host[4:] if host.startswith("www.") else host


def find_rules(line: ReadLine) -> list[Found]:
    """Every rule's matches in one line, in the order url, email, phone, promo (an e-mail's domain is not also a
    URL; a price is not also a phone number)."""
    text = _spelt_out(line.text)
    found: list[Found] = []
    emails = list(_EMAIL.finditer(text))
    for match in emails:
        found.append(Found(EMAIL, match.group(), line, match.group().rsplit("@", 1)[1].lower()))
    rest = _EMAIL.sub(" ", text)
    urls = [Found(URL, match.group().rstrip(".,;:!?)"), line, _host(match.group())) for match in _URL.finditer(rest)]
    rest = _URL.sub(" ", rest)
    promos = [Found(PROMO, match.group().strip(), line) for match in _PROMO.finditer(rest)]
    rest = _PROMO.sub(" ", rest)
    phones = []
    for match in _PHONE.finditer(rest):
        number = match.group().strip(" .-")
        digits = sum(character.isdigit() for character in number)
        if 7 <= digits <= 15 and not _DATE.match(number):
            phones.append(Found(PHONE, number, line))
    return [*urls, *found, *phones, *promos]


def _action(found: Found, rules: TextRules) -> str:
    if found.domain is not None and rules.allows(found.domain):
        return ALLOWED
    return rules.action(found.rule)


def _box(box: Sequence[Sequence[int]]) -> list[list[int]]:
    return [[int(x), int(y)] for x, y in box]


def rows(lines: Sequence[ReadLine]) -> list[ReadLine]:
    """Lines side by side on one row, joined left to right, where a row has more than one: text spread out with
    wide gaps ("call   415   555   0199") is detected as several boxes, none of which alone is a phone number."""
    spans = sorted(
        ((min(ys), max(ys), min(x for x, _ in line.box), line) for line in lines if (ys := [y for _, y in line.box])),
        key=lambda span: span[:3],
    )
    groups: list[list[tuple[int, int, int, ReadLine]]] = []
    for span in spans:
        top, bottom = span[0], span[1]
        if groups:
            last_top, last_bottom = groups[-1][0][0], groups[-1][0][1]
            overlap = min(bottom, last_bottom) - max(top, last_top)
            if overlap >= 0.5 * min(bottom - top, last_bottom - last_top):
                groups[-1].append(span)
                continue
        groups.append([span])
    joined = []
    for group in groups:
        if len(group) < 2:
            continue
        group.sort(key=lambda span: span[2])
        boxes = [point for *_, line in group for point in line.box]
        left, right = min(x for x, _ in boxes), max(x for x, _ in boxes)
        top, bottom = min(y for _, y in boxes), max(y for _, y in boxes)
        joined.append(
            ReadLine(
                " ".join(line.text for *_, line in group),
                ((left, top), (right, top), (right, bottom), (left, bottom)),
                min(line.confidence for *_, line in group),
            )
        )
    return joined


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def judge_text(lines: Sequence[ReadLine], rules: TextRules, engine: TextEngineInfo) -> CheckResult:
    """The record and the reasons for the lines read in one photo (after kept_lines): each line's matches, then what
    only a row of lines joined together matches."""
    found = [match for line in lines for match in find_rules(line)]
    seen = [(match.rule, _squeezed(match.text)) for match in found]
    for row in rows(lines):
        for match in find_rules(row):
            text = _squeezed(match.text)
            if not any(rule == match.rule and text in earlier for rule, earlier in seen):
                found.append(match)
                seen.append((match.rule, text))
    matches = [(match, _action(match, rules)) for match in found]
    reasons: dict[str, VerdictReason] = {}
    for match, action in matches:
        if action in (VERDICT_REVIEW, VERDICT_BLOCK) and match.rule not in reasons:
            # One reason per rule, naming its first match (the record has every match).
            reasons[match.rule] = VerdictReason(
                category=NAME,
                action=action,
                label=match.rule,
                rule=f"text_{match.rule}",
                score=round(match.line.confidence, 4),
                text=match.text[:MAX_LINE_CHARACTERS],
            )
    record = TextFound(
        lines=[
            TextLine(text=line.text[:MAX_LINE_CHARACTERS], box=_box(line.box), confidence=round(line.confidence, 4))
            for line in lines[:MAX_LINES]
        ],
        matches=[
            TextMatch(rule=match.rule, text=match.text[:MAX_LINE_CHARACTERS], box=_box(match.line.box), action=action)
            for match, action in matches[:MAX_MATCHES]
        ],
        engine=engine,
        **({"truncated": True} if _truncated(lines, matches) else {}),
    )
    ordered = tuple(reasons[rule] for rule in RULES if rule in reasons)
    return CheckResult(record=record, reasons=ordered)


def _truncated(lines: Sequence[ReadLine], matches: Sequence[tuple[Found, str]]) -> bool:
    longest = max((len(line.text) for line in lines), default=0)
    return len(lines) > MAX_LINES or len(matches) > MAX_MATCHES or longest > MAX_LINE_CHARACTERS


class TextCheck:
    """classify.checks' check `text`: reads the rendition, judges what it read by the policy's `checks.text`."""

    name = NAME

    def __init__(self, reader: TextReader) -> None:
        self.reader = reader

    def inspect(self, subject: Subject, policy: ModerationPolicy) -> CheckResult:
        lines = kept_lines(self.reader.read(subject.image))
        return judge_text(lines, policy.check_rules(NAME), self.reader.info)
