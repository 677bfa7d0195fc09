"""The checks beyond the models: what else a photo is judged by (text in it, known photos, faces).

A check sees the rendition's pixels as shoppers will see them, before they are encoded (upright, sRGB, flattened,
at most the rendition's long side), once per upload. It answers a record (stored on the prediction under the
check's own name, with the versions of what produced it), the verdict reasons the policy in force gives its
findings, and optionally the pixels to serve instead (a check that retouches, e.g. blurs faces): the models then
judge the retouched rendition, so what is served is still what was judged.

A check that raises never loses the photo: the photo is judged without that check's record and goes to review
with a `check_failed` reason naming the check (unknown is not allowed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from PIL import Image

from photomod_shared.prediction import VERDICT_REVIEW, CheckRecord, VerdictReason

if TYPE_CHECKING:
    from classify.policy import ModerationPolicy

logger = logging.getLogger(__name__)

CHECK_FAILED = "check_failed"  # a VerdictReason's rule: the check named by its category raised


@dataclass(frozen=True)
class Subject:
    """What a check looks at: one upload's rendition pixels before encoding, and which upload it is."""

    image_id: str
    s3_key: str
    image: Image.Image  # RGB


@dataclass(frozen=True)
class CheckResult:
    record: CheckRecord | None = None  # stored as Prediction.<check name>; None: nothing to store
    reasons: tuple[VerdictReason, ...] = ()
    retouched: Image.Image | None = None  # the pixels to serve (and judge) instead, same size and mode


class Check(Protocol):
    # The Prediction field its record is stored in (and the policy document's `checks` section it reads).
    name: str

    def inspect(self, subject: Subject, policy: ModerationPolicy) -> CheckResult: ...


@dataclass
class CheckReport:
    """Every check's answer for one upload."""

    records: dict[str, CheckRecord] = field(default_factory=dict)
    reasons: list[VerdictReason] = field(default_factory=list)
    # Milliseconds each check took (telemetry and benchmarks), by name.
    timings_ms: dict[str, float] = field(default_factory=dict)


def run_checks(checks: Sequence[Check], subject: Subject, policy: ModerationPolicy) -> tuple[CheckReport, Image.Image]:
    """Runs every check in order (a retouching check's pixels are what the next one sees); returns the report and
    the pixels to serve."""
    report = CheckReport()
    image = subject.image
    for check in checks:
        started = time.perf_counter()
        try:
            result = check.inspect(Subject(subject.image_id, subject.s3_key, image), policy)
            if result.retouched is not None and result.retouched.size != image.size:
                raise ValueError(f"retouched to {result.retouched.size}, not the rendition's {image.size}")
        except Exception:
            logger.exception("the %s check failed on %s; the photo goes to review", check.name, subject.s3_key)
            report.reasons.append(VerdictReason(category=check.name, action=VERDICT_REVIEW, rule=CHECK_FAILED))
            continue
        finally:
            report.timings_ms[check.name] = (time.perf_counter() - started) * 1000
        if result.record is not None:
            report.records[check.name] = result.record
        report.reasons.extend(result.reasons)
        if result.retouched is not None:
            image = result.retouched.convert("RGB")
    return report, image
