"""The moderation policy: which predicted ImageNet classes, and which safety-model classes, make a photo need
review or get blocked.

Pure Python + numpy; the policy itself is data (``moderation_policy.json``), versioned so every verdict
records which rules produced it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classify.labels import ClassIndex, top_k
from classify.safety import SAFETY_CLASSES

DEFAULT_POLICY_PATH = Path(__file__).with_name("moderation_policy.json")

ALLOW = "allow"
REVIEW = "review"
BLOCK = "block"
# Index = severity; a policy may only escalate, so "allow" is not a valid category or class action.
_SEVERITY = (ALLOW, REVIEW, BLOCK)
_POLICY_ACTIONS = (REVIEW, BLOCK)

_DOCUMENT_KEYS = {"version", "description", "top_k", "categories"}
# A category lists either ImageNet `classes` (ResNet50's top_k) or `safety_classes` (all of the safety model's).
_CATEGORY_KEYS = {"description", "action", "threshold", "classes", "safety_classes"}
_CLASS_KEYS = {"wnid", "label", "action", "threshold", "note"}
_SAFETY_CLASS_KEYS = {"class", "action", "threshold", "note"}


def severity(action: str) -> int:
    """How strict a verdict's action is: allow < review < block."""
    return _SEVERITY.index(action)


class PolicyError(Exception):
    """The policy document is malformed or names classes the model does not have."""


@dataclass(frozen=True)
class Reason:
    category: str
    action: str
    label: str
    wnid: str | None  # None for a safety-model class, which is no ImageNet class
    score: float


@dataclass(frozen=True)
class Verdict:
    action: str
    reasons: tuple[Reason, ...]
    policy_version: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "reasons": [
                {
                    "category": reason.category,
                    "action": reason.action,
                    "label": reason.label,
                    "wnid": reason.wnid,
                    "score": reason.score,
                }
                for reason in self.reasons
            ],
            "policy_version": self.policy_version,
        }


@dataclass(frozen=True)
class _Rule:
    category: str
    action: str
    threshold: float


class ModerationPolicy:
    def __init__(
        self,
        version: str,
        description: str,
        k: int,
        rules: dict[str, _Rule],
        class_index: ClassIndex,
        safety_rules: dict[str, _Rule] | None = None,
    ) -> None:
        self.version = version
        self.description = description
        self.k = k
        self._rules = rules
        self._class_index = class_index
        self._safety_rules = safety_rules or {}

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
        for category, spec in categories.items():
            where = f"category {category!r}"
            _require_object(spec, where, _CATEGORY_KEYS, required={"action", "threshold"})
            action = _action(spec["action"], where)
            threshold = _threshold(spec["threshold"], where)
            if ("classes" in spec) == ("safety_classes" in spec):
                raise PolicyError(f"{where}: needs exactly one of 'classes' (ImageNet) and 'safety_classes'")
            if "safety_classes" in spec:
                _add_safety_rules(spec["safety_classes"], category, action, threshold, safety_rules)
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
        )

    def decide(self, probabilities: np.ndarray, safety: np.ndarray | None = None) -> Verdict:
        """Verdict for one image from its full ImageNet probability vector (one entry per class in the index)
        and the safety model's probabilities (SAFETY_CLASSES order); without those, safety categories cannot fire.
        """
        scores = np.asarray(probabilities)
        # Compare at the model's own precision: float32(0.7) < 0.7 in float64, yet it is "exactly 0.7".
        precision = scores.dtype.type if np.issubdtype(scores.dtype, np.floating) else np.float64
        reasons = [] if safety is None else self._safety_reasons(np.asarray(safety))
        for prediction in top_k(scores, self._class_index, self.k):
            rule = self._rules.get(prediction.wnid)
            if rule is not None and precision(prediction.score) >= precision(rule.threshold):
                reasons.append(
                    Reason(
                        category=rule.category,
                        action=rule.action,
                        label=prediction.label,
                        wnid=prediction.wnid,
                        score=prediction.score,
                    )
                )
        action = max((reason.action for reason in reasons), key=_SEVERITY.index, default=ALLOW)
        return Verdict(action=action, reasons=tuple(reasons), policy_version=self.version)

    def _safety_reasons(self, scores: np.ndarray) -> list[Reason]:
        if scores.shape != (len(SAFETY_CLASSES),):
            raise ValueError(f"expected {len(SAFETY_CLASSES)} safety probabilities, got shape {scores.shape}")
        precision = scores.dtype.type if np.issubdtype(scores.dtype, np.floating) else np.float64
        reasons = []
        for name, score in zip(SAFETY_CLASSES, scores, strict=True):
            rule = self._safety_rules.get(name)
            if rule is not None and precision(score) >= precision(rule.threshold):
                reasons.append(Reason(rule.category, rule.action, label=name, wnid=None, score=float(score)))
        return reasons


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
