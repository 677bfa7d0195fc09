"""The explicit-content model's classes, as the API, the stored predictions and the feedback export spell them:
nsfwjs' NSFW_CLASSES in its output order, lower-cased. classify.safety reads the model's output by this order."""

from typing import Literal, get_args

SafetyClass = Literal["drawing", "hentai", "neutral", "porn", "sexy"]
SAFETY_CLASSES: tuple[str, ...] = get_args(SafetyClass)
