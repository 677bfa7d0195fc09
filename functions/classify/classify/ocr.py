"""The text check's reader: rapidocr (Apache-2.0) running PP-OCRv6's small ONNX models on ONNX Runtime.

The models ship inside the rapidocr package; each is served only if its SHA-256 is the one pinned here (the one
rapidocr 3.10.0 publishes for it), and is named to rapidocr by its path, so rapidocr never downloads anything.
Detection runs with the rendition shrunk to DETECTION_SIDE on its long side (rapidocr's own default would enlarge
a photo until its *short* side is 736 px: a 500 px photo would be detected at 1105 px); recognition then reads only
the boxes detection found, cropped from the full rendition, so a photo without text never pays for recognition.
The angle classifier is off: overlaid review text is upright (the rendition is), and it costs a pass per box.
rapidocr loads each model on its first use: `load_reader` warms both up, so the first photo does not pay for it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import rapidocr
from PIL import Image, ImageDraw, ImageFont
from rapidocr import RapidOCR

from classify.text_check import ReadLine
from photomod_shared.prediction import TextEngineInfo

# Measured (docs/benchmark.md#text-check, bench/text_eval.py on 1600 px renditions): 512 px reads the overlaid lines
# 736 px reads, large (1/14 of the height) or small (1/30), at 0.6 of its CPU; 384 px starts to miss small ones.
DETECTION_SIDE = 512
DETECTION_MODEL = "PP-OCRv6_det_small"
RECOGNITION_MODEL = "PP-OCRv6_rec_small"
# rapidocr 3.10.0's default_models.yaml (multi_PP-OCRv6_*_small): the files the package ships.
MODEL_SHA256 = {
    DETECTION_MODEL: "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f",
    RECOGNITION_MODEL: "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884",
}


class TextModelRefused(RuntimeError):
    """A text model file is missing or is not the pinned one."""


class RapidOcrReader:
    """classify.text_check.TextReader on rapidocr; one per process (the sessions are not cheap to build)."""

    def __init__(self, engine: Any, info: TextEngineInfo) -> None:
        self._engine = engine
        self.info = info

    def read(self, image: Image.Image) -> Sequence[ReadLine]:
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])  # OpenCV's channel order
        result = self._engine(bgr)
        if result.boxes is None or result.txts is None or result.scores is None:
            return []  # detection found nothing: recognition did not run
        return [
            ReadLine(text, tuple((round(float(x)), round(float(y))) for x, y in box), float(score))
            for box, text, score in zip(result.boxes, result.txts, result.scores, strict=True)
        ]


def load_reader(detection_side: int = DETECTION_SIDE) -> RapidOcrReader:
    """rapidocr with both models loaded (a warm-up read of a line of text: the first call loads them)."""
    package = Path(rapidocr.__file__).parent / "models"
    for model, pinned in MODEL_SHA256.items():
        path = package / f"{model}.onnx"
        if not path.is_file():
            raise TextModelRefused(f"rapidocr {metadata.version('rapidocr')} does not ship {path.name}")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != pinned:
            raise TextModelRefused(f"{path} has SHA-256 {digest}, not the pinned {pinned}: refused")
    engine = RapidOCR(
        params={
            "Global.log_level": "error",  # its warning for every photo without text is no news
            "Global.use_cls": False,
            # The rendition is at most 1600 px: recognition crops it at full resolution.
            "Global.max_side_len": 2000,
            # One thread per call: photos are read in parallel by the decode threads (the checks run inside the
            # decode), and ORT's own pool only spins beside them (detection of a 500 px photo on 2 busy cores:
            # 86 ms wall, 57 ms CPU on one thread; 179 ms wall, 112 ms CPU on ORT's default pool).
            "EngineConfig.onnxruntime.intra_op_num_threads": 1,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            "Det.limit_type": "max",
            "Det.limit_side_len": detection_side,
            "Det.model_path": str(package / f"{DETECTION_MODEL}.onnx"),
            "Rec.model_path": str(package / f"{RECOGNITION_MODEL}.onnx"),
        }
    )
    logging.getLogger("RapidOCR").setLevel(logging.ERROR)
    info = TextEngineInfo(
        name="rapidocr",
        version=metadata.version("rapidocr"),
        detection_model=DETECTION_MODEL,
        recognition_model=RECOGNITION_MODEL,
        detection_side=detection_side,
    )
    reader = RapidOcrReader(engine, info)
    if not reader.read(_warm_up_image()):
        raise RuntimeError("rapidocr read nothing in its warm-up line: the text check would find no text")
    return reader


def _warm_up_image() -> Image.Image:
    image = Image.new("RGB", (320, 64), "white")
    ImageDraw.Draw(image).text((10, 12), "warm up 12345", font=ImageFont.load_default(size=32), fill="black")
    return image
