"""One photo's bytes judged at once, for callers that wait for the answer (DetectModerationLabels).

The same decode, frames, models and policy as the queue's path (classify.service): one decode by the rendition
rules, each model's own preprocessing of every frame a browser would show, and the strictest frame's verdict.
Nothing is stored (no rendition is written: nothing is served from this answer).
"""

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from classify.checks import CheckReport, Subject, run_checks
from classify.labels import top_k
from classify.model import WEIGHTS_UNTRAINED
from classify.policy import Verdict, severity
from classify.rendition import make_rendition
from classify.service import Classification, model_inputs
from photomod_shared.prediction import Label, ModelInfo


@dataclass(frozen=True)
class JudgedPhoto:
    top: list[Label]  # the ImageNet classifier's top_k (the policy's k), of the strictest frame
    # The policy category of each top label the policy lists (wnid -> category), from the policy that judged.
    categories: dict[str, str]
    safety: np.ndarray | None  # the safety model's probabilities (SAFETY_CLASSES order); None without the model
    verdict: Verdict
    model: ModelInfo
    # The checks' records and reasons (their reasons are in `verdict` too).
    checks: CheckReport = field(default_factory=CheckReport)

    @property
    def model_version(self) -> str:
        """What judged it: the policy's version, marked when the ImageNet classifier ran on untrained weights."""
        untrained = "+untrained-weights" if self.model.weights == WEIGHTS_UNTRAINED else ""
        return f"photomod-{self.verdict.policy_version}{untrained}"


def judge_photo(data: bytes, work: Classification, image_id: str = "", s3_key: str = "") -> JudgedPhoto:
    """Raises classify.imaging.ImageRejected for bytes that can never be classified. `image_id` and `s3_key` name
    the photo to the checks (classify.checks), where the caller has them."""
    policy = work.policy.current()  # one policy for the whole judgement, even if a new one arrives meanwhile
    report = CheckReport()

    def inspect(shown: Image.Image) -> Image.Image:
        nonlocal report
        # The caller shows its own photo, not a rendition of ours: a check's retouch (blurred faces) is not what
        # will be shown, so the models judge the photo's own pixels and the retouched ones are dropped.
        report, _ = run_checks(work.checks, Subject(image_id, s3_key, shown), policy)
        return shown

    rendition = make_rendition(
        data, lambda image: model_inputs(image, work), work.limits, work.renditions, inspect=inspect
    )
    rows = work.model.predict(np.stack([pixels for pixels, _, _ in rendition.judged]))
    safety_rows = None
    if work.safety is not None:
        safety_rows = work.safety.predict(np.stack([safety for _, safety, _ in rendition.judged]))  # type: ignore[misc]
    second_scores = None
    if work.second_opinion is not None:
        second_scores = work.second_opinion.predict(
            np.stack([second for _, _, second in rendition.judged])  # type: ignore[misc]
        )
    judged = []
    for frame, probabilities in enumerate(rows):
        safety = safety_rows[frame] if safety_rows is not None else None
        second = float(second_scores[frame]) if second_scores is not None else None
        judged.append((policy.decide(probabilities, safety, second), probabilities, safety))
    # The strictest frame (the first of equals: the rendition itself), as classify.service judges an upload.
    verdict, probabilities, safety = max(judged, key=lambda entry: severity(entry[0].action))
    verdict = verdict.with_reasons(report.reasons)
    top = top_k(probabilities, work.class_index, policy.k)
    categories = {label.wnid: category for label in top if (category := policy.category_of(label.wnid))}
    return JudgedPhoto(top, categories, safety, verdict, work.model.info, report)
