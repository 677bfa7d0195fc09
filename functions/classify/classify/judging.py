"""One photo's bytes judged at once, for callers that wait for the answer (DetectModerationLabels).

The same decode, models and policy as the queue's path (classify.service): one decode, each model's own
preprocessing, the policy's verdict. Nothing is stored.
"""

from dataclasses import dataclass

import numpy as np

from classify.imaging import decode_image
from classify.labels import Label, top_k
from classify.model import WEIGHTS_UNTRAINED, ModelInfo
from classify.policy import Verdict
from classify.service import Classification, draft_to


@dataclass(frozen=True)
class JudgedPhoto:
    top: list[Label]  # the ImageNet classifier's top_k (the policy's k)
    # The policy category of each top label the policy lists (wnid -> category), from the policy that judged.
    categories: dict[str, str]
    safety: np.ndarray | None  # the safety model's probabilities (SAFETY_CLASSES order); None without the model
    verdict: Verdict
    model: ModelInfo

    @property
    def model_version(self) -> str:
        """What judged it: the policy's version, marked when the ImageNet classifier ran on untrained weights."""
        untrained = "+untrained-weights" if self.model.weights == WEIGHTS_UNTRAINED else ""
        return f"photomod-{self.verdict.policy_version}{untrained}"


def judge_photo(data: bytes, work: Classification) -> JudgedPhoto:
    """Raises classify.imaging.ImageRejected for bytes that can never be classified."""
    image = decode_image(data, work.limits, draft_to(work))
    probabilities = work.model.predict(np.stack([work.model.preprocess(image)]))[0]
    safety = None
    if work.safety is not None:
        safety = work.safety.predict(np.stack([work.safety.preprocess(image)]))[0]
    policy = work.policy.current()  # one policy for the whole judgement, even if a new one arrives meanwhile
    top = top_k(probabilities, work.class_index, policy.k)
    categories = {label.wnid: category for label in top if (category := policy.category_of(label.wnid))}
    return JudgedPhoto(top, categories, safety, policy.decide(probabilities, safety), work.model.info)
