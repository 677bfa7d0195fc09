"""The moderation policy: which predicted ImageNet classes, and which safety-model classes, make a photo need
review or get blocked; and, for explicit content, how the two explicit-content models' opinions combine.

Pure Python + numpy; the policy itself is data (``moderation_policy.json``), versioned so every verdict
records which rules produced it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classify.labels import ClassIndex, top_k
from classify.safety import SAFETY_CLASSES
from classify.text_check import parse_text_rules
from photomod_shared.prediction import VerdictReason

DEFAULT_POLICY_PATH = Path(__file__).with_name("moderation_policy.json")

ALLOW = "allow"
REVIEW = "review"
BLOCK = "block"
# Index = severity; a policy may only escalate, so "allow" is not a valid category or class action.
_SEVERITY = (ALLOW, REVIEW, BLOCK)
_POLICY_ACTIONS = (REVIEW, BLOCK)

_DOCUMENT_KEYS = {"version", "description", "top_k", "categories", "checks"}
# A category lists either ImageNet `classes` (ResNet50's top_k) or `safety_classes` (all of the safety model's).
_CATEGORY_KEYS = {"description", "action", "threshold", "classes", "safety_classes", "second_opinion"}
_CLASS_KEYS = {"wnid", "label", "action", "threshold", "note"}
_SAFETY_CLASS_KEYS = {"class", "action", "threshold", "note"}
_COMBINATION_KEYS = {"description", "nsfwjs_classes", "nsfwjs_bands", "open_nsfw_bands", "table"}
# The bands each model's score falls in, lowest first. A band is named by the lowest score in it ("low" starts at 0);
# "absent": no second opinion was given (a local stack without the model), which is no agreement either.
NSFWJS_BANDS = ("low", "uncertain", "likely", "confident")
OPEN_NSFW_BANDS = ("low", "uncertain", "confident")
OPEN_NSFW_ABSENT = "absent"


# checks.faces (classify.faces): the verdict action on a photo with a face (off: faces are only counted and
# recorded), whether the faces are blurred in the displayed rendition, and the lowest confidence that counts as a
# face (from the detector's own 0.6 up: a higher one trades found faces for fewer false flags, bench.evaluate_faces).
FACES_OFF = "off"
FACES_ACTIONS = (FACES_OFF, REVIEW, BLOCK)
FACES_MIN_THRESHOLD = 0.6
_FACES_KEYS = {"action", "blur", "threshold"}


@dataclass(frozen=True)
class FaceRules:
    action: str = FACES_OFF
    blur: bool = False
    threshold: float = FACES_MIN_THRESHOLD


def parse_face_rules(section: Any, where: str) -> FaceRules:
    """`checks.faces`: {"action": "off"|"review"|"block", "blur": true|false, "threshold": 0.6-1}; absent: off, no
    blur, 0.6."""
    if section is None:
        return FaceRules()
    if not isinstance(section, dict):
        raise PolicyError(f"'{where}' must be an object with 'action' and/or 'blur', got {type(section).__name__}")
    unknown = sorted(set(section) - _FACES_KEYS)
    if unknown:
        raise PolicyError(f"'{where}': unknown key(s) {unknown}; the keys are {sorted(_FACES_KEYS)}")
    action = section.get("action", FACES_OFF)
    if action not in FACES_ACTIONS:
        raise PolicyError(f"'{where}.action' must be one of {list(FACES_ACTIONS)}, got {action!r}")
    blur = section.get("blur", False)
    if not isinstance(blur, bool):
        raise PolicyError(f"'{where}.blur' must be true or false, got {blur!r}")
    threshold = section.get("threshold", FACES_MIN_THRESHOLD)
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not FACES_MIN_THRESHOLD <= threshold <= 1
    ):
        raise PolicyError(f"'{where}.threshold' must be a number from {FACES_MIN_THRESHOLD} to 1, got {threshold!r}")
    return FaceRules(action=action, blur=blur, threshold=float(threshold))


# The document's `checks` section: the rules of each check beyond the models (classify.checks), by the check's name.
# Each entry's parser turns its section into the rules that check reads (ModerationPolicy.check_rules); an absent
# section is parsed as None (the check's defaults). Raises PolicyError, naming `where`.
CheckRulesParser = Callable[[Any, str], Any]
CHECK_RULES: Mapping[str, CheckRulesParser] = {
    "text": parse_text_rules,
    "photo_bank": lambda section, where: PhotoBankRules.parse(section, where),
    "faces": parse_face_rules,
}


def severity(action: str) -> int:
    """How strict a verdict's action is: allow < review < block."""
    return _SEVERITY.index(action)


class PolicyError(Exception):
    """The policy document is malformed or names classes the model does not have."""


@dataclass(frozen=True)
class PhotoBankRules:
    """The photo-bank check's rules (classify.photo_bank), the policy's `checks.photo_bank` section.

    A photo within `distance` bits (of 256) of a banked photo in any of its 8 orientations gets `bank_action`
    (`matches_blocked_photo`); a photo that `reuse_threshold` or more distinct uploads carry (this one included)
    gets `reuse_action` (`reused_photo`; 0 turns it off). Hashes under `min_quality` (flat, featureless photos,
    whose hashes match each other) are stored but never matched. 31 is Meta's threshold for PDQ; 50 its quality bar.
    """

    bank_action: str = "block"
    distance: int = 31
    reuse_action: str = "review"
    reuse_threshold: int = 5
    min_quality: int = 50

    @classmethod
    def parse(cls, section: Any, where: str) -> PhotoBankRules:
        if section is None:
            return cls()
        if not isinstance(section, dict):
            raise PolicyError(f"'{where}' must be an object, got {type(section).__name__}")
        unknown = sorted(set(section) - set(cls.__dataclass_fields__))
        if unknown:
            raise PolicyError(f"'{where}': unknown key(s) {unknown}; the keys are {sorted(cls.__dataclass_fields__)}")
        rules = cls(**section)
        for key, low, high in (("distance", 0, 64), ("reuse_threshold", 0, 10_000), ("min_quality", 0, 100)):
            value = getattr(rules, key)
            if not _is_int(value) or not low <= value <= high:
                raise PolicyError(f"{where}.{key} must be an integer in [{low}, {high}], got {value!r}")
        _action(rules.bank_action, f"{where}.bank_action")
        _action(rules.reuse_action, f"{where}.reuse_action")
        return rules


@dataclass(frozen=True)
class Verdict:
    """The policy's answer for one photo. Its reasons are the stored record's own (a safety-model class has wnid
    None, as it is no ImageNet class; `rule` is given only by the explicit category's table of both models)."""

    action: str
    reasons: tuple[VerdictReason, ...]
    policy_version: str

    def with_reasons(self, more: Sequence[VerdictReason]) -> Verdict:
        """This verdict with more reasons (classify.checks'): its action becomes the strictest of them all."""
        reasons = (*self.reasons, *more)
        action = max((reason.action for reason in reasons), key=_SEVERITY.index, default=ALLOW)
        return Verdict(
            action=max(self.action, action, key=_SEVERITY.index), reasons=reasons, policy_version=self.policy_version
        )


@dataclass(frozen=True)
class _Rule:
    category: str
    action: str
    threshold: float


@dataclass(frozen=True)
class Combination:
    """Two explicit-content models' opinions -> one action: a table over the band each score falls in.

    nsfwjs' opinion is its highest score among `nsfwjs_classes` (porn, hentai); Open-NSFW's is its P(NSFW). Every
    pair of bands has its action, so the rule that fired is always one named cell ("nsfwjs_<band>+open_nsfw_<band>").
    """

    category: str
    nsfwjs_classes: tuple[str, ...]
    nsfwjs_bands: tuple[float, ...]  # lower bounds of NSFWJS_BANDS[1:]
    open_nsfw_bands: tuple[float, ...]  # lower bounds of OPEN_NSFW_BANDS[1:]
    table: dict[tuple[str, str], str]

    @staticmethod
    def band(score: float, bounds: tuple[float, ...], names: tuple[str, ...], precision: Any = np.float64) -> str:
        position = sum(precision(score) >= precision(bound) for bound in bounds)
        return names[position]

    def reason(self, safety: np.ndarray, second_opinion: float | None) -> VerdictReason | None:
        precision = safety.dtype.type if np.issubdtype(safety.dtype, np.floating) else np.float64
        scores = {name: float(safety[SAFETY_CLASSES.index(name)]) for name in self.nsfwjs_classes}
        label = max(scores, key=scores.__getitem__)
        nsfwjs = self.band(scores[label], self.nsfwjs_bands, NSFWJS_BANDS, precision)
        if second_opinion is None:
            open_nsfw = OPEN_NSFW_ABSENT
        else:
            open_nsfw = self.band(second_opinion, self.open_nsfw_bands, OPEN_NSFW_BANDS, np.float32)
        action = self.table[(nsfwjs, open_nsfw)]
        if action == ALLOW:
            return None
        rule = f"nsfwjs_{nsfwjs}+open_nsfw_{open_nsfw}"
        return VerdictReason(
            category=self.category, action=action, label=label, wnid=None, score=scores[label], rule=rule
        )


class ModerationPolicy:
    def __init__(
        self,
        version: str,
        description: str,
        k: int,
        rules: dict[str, _Rule],
        class_index: ClassIndex,
        safety_rules: dict[str, _Rule] | None = None,
        combination: Combination | None = None,
        check_rules: Mapping[str, Any] | None = None,
    ) -> None:
        self.version = version
        self.description = description
        self.k = k
        self._rules = rules
        self._class_index = class_index
        self._safety_rules = safety_rules or {}
        self.combination = combination
        self._check_rules = dict(check_rules) if check_rules is not None else _check_rules({}, "checks")

    def check_rules(self, name: str) -> Any:
        """The rules the check of this name reads (classify.checks), as CHECK_RULES parsed them."""
        return self._check_rules[name]

    def current(self) -> ModerationPolicy:
        """The policy to judge with (this one; classify.live_policy.LivePolicy answers the one in force)."""
        return self

    @property
    def listed_classes(self) -> dict[str, str]:
        """{wnid: category} of every ImageNet class the policy lists (what `make eval` calls "flagged")."""
        return {wnid: rule.category for wnid, rule in self._rules.items()}

    @classmethod
    def from_file(cls, path: Path | None = None, class_index: ClassIndex | None = None) -> ModerationPolicy:
        path = path or DEFAULT_POLICY_PATH
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise PolicyError(f"{path}: not valid JSON: {error}") from error
        try:
            return cls.from_dict(document, class_index or ClassIndex.from_file())
        except PolicyError as error:
            raise PolicyError(f"{path}: {error}") from error

    @classmethod
    def from_dict(cls, document: dict[str, Any], class_index: ClassIndex) -> ModerationPolicy:
        _require_object(document, "policy", _DOCUMENT_KEYS, required={"version", "top_k", "categories"})
        version = document["version"]
        if not isinstance(version, str) or not version.strip():
            raise PolicyError(f"'version' must be a non-empty string, got {version!r}")
        description = document.get("description", "")
        if not isinstance(description, str):
            raise PolicyError(f"'description' must be a string, got {description!r}")
        k = document["top_k"]
        if not _is_int(k) or not 1 <= k <= len(class_index):
            raise PolicyError(f"'top_k' must be an integer between 1 and {len(class_index)}, got {k!r}")
        categories = document["categories"]
        if not isinstance(categories, dict) or not categories:
            raise PolicyError("'categories' must be a non-empty object of category name to rules")

        rules: dict[str, _Rule] = {}
        safety_rules: dict[str, _Rule] = {}
        combination: Combination | None = None
        for category, spec in categories.items():
            where = f"category {category!r}"
            _require_object(spec, where, _CATEGORY_KEYS, required={"action", "threshold"})
            action = _action(spec["action"], where)
            threshold = _threshold(spec["threshold"], where)
            if ("classes" in spec) == ("safety_classes" in spec):
                raise PolicyError(f"{where}: needs exactly one of 'classes' (ImageNet) and 'safety_classes'")
            if "second_opinion" in spec:
                if "safety_classes" not in spec or combination is not None:
                    raise PolicyError(f"{where}: 'second_opinion' belongs to the one category of 'safety_classes'")
                combination = _combination(spec["second_opinion"], category)
            if "safety_classes" in spec:
                _add_safety_rules(spec["safety_classes"], category, action, threshold, safety_rules)
                if combination is not None:
                    twice = sorted(set(combination.nsfwjs_classes) & set(safety_rules))
                    if twice:
                        raise PolicyError(f"{where}: {twice} are read by 'second_opinion' and 'safety_classes' both")
                continue
            classes = spec["classes"]
            if not isinstance(classes, list) or not classes:
                raise PolicyError(f"{where}: 'classes' must be a non-empty list")
            for position, entry in enumerate(classes):
                entry_where = f"{where} class #{position}"
                _require_object(entry, entry_where, _CLASS_KEYS, required={"wnid", "label"})
                wnid, label = entry["wnid"], entry["label"]
                _check_class(wnid, label, class_index, entry_where)
                if wnid in rules:
                    raise PolicyError(
                        f"{entry_where}: {wnid} ({label}) is already listed in category {rules[wnid].category!r}"
                    )
                rules[wnid] = _Rule(
                    category=category,
                    action=_action(entry["action"], entry_where) if "action" in entry else action,
                    threshold=_threshold(entry["threshold"], entry_where) if "threshold" in entry else threshold,
                )
        return cls(
            version=version,
            description=description,
            k=k,
            rules=rules,
            class_index=class_index,
            safety_rules=safety_rules,
            combination=combination,
            check_rules=_check_rules(document.get("checks", {}), "checks"),
        )

    def decide(
        self, probabilities: np.ndarray, safety: np.ndarray | None = None, second_opinion: float | None = None
    ) -> Verdict:
        """Verdict for one image from its full ImageNet probability vector (one entry per class in the index),
        the safety model's probabilities (SAFETY_CLASSES order) and the second opinion's P(NSFW) (None: absent);
        without the safety model's probabilities, safety categories cannot fire.
        """
        scores = np.asarray(probabilities)
        # Compare at the model's own precision: float32(0.7) < 0.7 in float64, yet it is "exactly 0.7".
        precision = scores.dtype.type if np.issubdtype(scores.dtype, np.floating) else np.float64
        reasons = [] if safety is None else self._safety_reasons(np.asarray(safety), second_opinion)
        for prediction in top_k(scores, self._class_index, self.k):
            rule = self._rules.get(prediction.wnid)
            if rule is not None and precision(prediction.score) >= precision(rule.threshold):
                reasons.append(
                    VerdictReason(
                        category=rule.category,
                        action=rule.action,
                        label=prediction.label,
                        wnid=prediction.wnid,
                        score=prediction.score,
                    )
                )
        action = max((reason.action for reason in reasons), key=_SEVERITY.index, default=ALLOW)
        return Verdict(action=action, reasons=tuple(reasons), policy_version=self.version)

    def category_of(self, wnid: str) -> str | None:
        """The category that lists this ImageNet class, if one does."""
        rule = self._rules.get(wnid)
        return rule.category if rule else None

    def safety_threshold(self, name: str) -> float | None:
        """The threshold of a safety class listed on its own (e.g. sexy), or None where it is not."""
        rule = self._safety_rules.get(name)
        return rule.threshold if rule else None

    def _safety_reasons(self, scores: np.ndarray, second_opinion: float | None) -> list[VerdictReason]:
        if scores.shape != (len(SAFETY_CLASSES),):
            raise ValueError(f"expected {len(SAFETY_CLASSES)} safety probabilities, got shape {scores.shape}")
        if second_opinion is not None and not 0 <= second_opinion <= 1:
            raise ValueError(f"the second opinion is a probability, got {second_opinion!r}")
        precision = scores.dtype.type if np.issubdtype(scores.dtype, np.floating) else np.float64
        reasons = []
        if self.combination is not None:
            combined = self.combination.reason(scores, second_opinion)
            if combined is not None:
                reasons.append(combined)
        for name, score in zip(SAFETY_CLASSES, scores, strict=True):
            rule = self._safety_rules.get(name)
            if rule is not None and precision(score) >= precision(rule.threshold):
                reasons.append(
                    VerdictReason(category=rule.category, action=rule.action, label=name, wnid=None, score=float(score))
                )
        return reasons


# SSM Parameter Store's limit on an advanced parameter's value (standard ones hold 4 KB).
MAX_DOCUMENT_BYTES = 8192


def parse_document(text: str, class_index: ClassIndex) -> ModerationPolicy:
    """A policy document as kept in AWS (JSON text), validated; PolicyError says why it is refused."""
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        raise PolicyError(f"the document is {len(text.encode())} bytes; at most {MAX_DOCUMENT_BYTES} fit")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise PolicyError(f"not valid JSON: {error}") from error
    return ModerationPolicy.from_dict(document, class_index)


def _check_rules(section: Any, where: str) -> dict[str, Any]:
    if not isinstance(section, dict):
        raise PolicyError(f"'{where}' must be an object of check name to its rules, got {type(section).__name__}")
    unknown = sorted(set(section) - set(CHECK_RULES))
    if unknown:
        raise PolicyError(f"'{where}': unknown check(s) {unknown}; the checks are {sorted(CHECK_RULES)}")
    return {name: parse(section.get(name), f"{where}.{name}") for name, parse in CHECK_RULES.items()}


def _add_safety_rules(classes: Any, category: str, action: str, threshold: float, rules: dict[str, _Rule]) -> None:
    where = f"category {category!r}"
    if not isinstance(classes, list) or not classes:
        raise PolicyError(f"{where}: 'safety_classes' must be a non-empty list")
    for position, entry in enumerate(classes):
        entry_where = f"{where} safety class #{position}"
        _require_object(entry, entry_where, _SAFETY_CLASS_KEYS, required={"class"})
        name = entry["class"]
        if name not in SAFETY_CLASSES:
            raise PolicyError(f"{entry_where}: unknown safety class {name!r}; the model has {list(SAFETY_CLASSES)}")
        if name in rules:
            raise PolicyError(f"{entry_where}: {name!r} is already listed in category {rules[name].category!r}")
        rules[name] = _Rule(
            category=category,
            action=_action(entry["action"], entry_where) if "action" in entry else action,
            threshold=_threshold(entry["threshold"], entry_where) if "threshold" in entry else threshold,
        )


def _combination(spec: Any, category: str) -> Combination:
    where = f"category {category!r} second_opinion"
    _require_object(spec, where, _COMBINATION_KEYS, required=_COMBINATION_KEYS - {"description"})
    classes = spec["nsfwjs_classes"]
    if not isinstance(classes, list) or not classes or any(name not in SAFETY_CLASSES for name in classes):
        raise PolicyError(f"{where}: 'nsfwjs_classes' must be a non-empty list of {list(SAFETY_CLASSES)}")
    nsfwjs_bands = _bands(spec["nsfwjs_bands"], NSFWJS_BANDS, f"{where} nsfwjs_bands")
    open_nsfw_bands = _bands(spec["open_nsfw_bands"], OPEN_NSFW_BANDS, f"{where} open_nsfw_bands")
    table = spec["table"]
    columns = (*OPEN_NSFW_BANDS, OPEN_NSFW_ABSENT)
    if not isinstance(table, dict) or sorted(table) != sorted(NSFWJS_BANDS):
        raise PolicyError(f"{where}: 'table' must have one row per nsfwjs band {list(NSFWJS_BANDS)}")
    cells: dict[tuple[str, str], str] = {}
    for row in NSFWJS_BANDS:
        if not isinstance(table[row], dict) or sorted(table[row]) != sorted(columns):
            raise PolicyError(f"{where}: table row {row!r} must have one action per Open-NSFW band {list(columns)}")
        for column in columns:
            action = table[row][column]
            if action not in _SEVERITY:
                raise PolicyError(
                    f"{where}: table[{row!r}][{column!r}] must be one of {list(_SEVERITY)}, got {action!r}"
                )
            cells[(row, column)] = action
    for (row, column), action in cells.items():
        # Only agreement blocks: a block needs both models confident.
        if action == BLOCK and (row, column) != (NSFWJS_BANDS[-1], OPEN_NSFW_BANDS[-1]):
            raise PolicyError(f"{where}: table[{row!r}][{column!r}] blocks, but only agreement of both may block")
    return Combination(category, tuple(classes), nsfwjs_bands, open_nsfw_bands, cells)


def _bands(spec: Any, names: tuple[str, ...], where: str) -> tuple[float, ...]:
    """Lower bounds of every band above the lowest, rising."""
    if not isinstance(spec, dict) or sorted(spec) != sorted(names[1:]):
        raise PolicyError(f"{where}: must give the lowest score of each band {list(names[1:])}")
    bounds = tuple(_threshold(spec[name], f"{where} {name}") for name in names[1:])
    if list(bounds) != sorted(set(bounds)):
        raise PolicyError(f"{where}: bands must rise in the order {list(names[1:])}, got {list(bounds)}")
    return bounds


def _require_object(value: Any, where: str, allowed: set[str], required: set[str]) -> None:
    if not isinstance(value, dict):
        raise PolicyError(f"{where}: expected an object, got {type(value).__name__}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise PolicyError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    missing = sorted(required - set(value))
    if missing:
        raise PolicyError(f"{where}: missing key(s) {missing}")


def _action(value: Any, where: str) -> str:
    if value not in _POLICY_ACTIONS:
        raise PolicyError(f"{where}: action must be one of {list(_POLICY_ACTIONS)}, got {value!r}")
    return str(value)


def _threshold(value: Any, where: str) -> float:
    # bool is an int subclass; `true` is not a threshold.
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise PolicyError(f"{where}: threshold must be a number in (0, 1], got {value!r}")
    return float(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_class(wnid: Any, label: Any, class_index: ClassIndex, where: str) -> None:
    if not isinstance(wnid, str) or not isinstance(label, str):
        raise PolicyError(f"{where}: 'wnid' and 'label' must be strings")
    try:
        index = class_index.index_of(wnid)
    except KeyError:
        raise PolicyError(f"{where}: unknown wnid {wnid!r} (label {label!r})") from None
    if class_index.wnid(index) != wnid:
        # index_of also accepts labels; the policy must name classes by wnid.
        raise PolicyError(f"{where}: {wnid!r} is a label, not a wnid; use {class_index.wnid(index)!r}")
    expected = class_index.label(index)
    if label != expected:
        raise PolicyError(f"{where}: label {label!r} does not match {wnid}, which is {expected!r}")
