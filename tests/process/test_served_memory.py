"""classify.served: a served model keeps no resident copy of its file once its weights are packed, and still answers
exactly as before."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from classify.served import ServedModel
from infra.paths import REPO_ROOT

MODEL = REPO_ROOT / "models" / "nsfwjs_mobilenet_v2.litert.tflite"
pytestmark = [
    pytest.mark.skipif(not MODEL.is_file(), reason="needs the converted safety model (run `make models`)"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps (Linux, as on Lambda)"),
]


def resident_kb_of(path: Path) -> int:
    """Resident KiB of this process's mappings of `path` (/proc/self/smaps)."""
    target, inside, total = str(path.resolve()), False, 0
    with open("/proc/self/smaps", encoding="utf-8") as smaps:
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5 and ":" not in fields[0]:
                inside = len(fields) >= 6 and fields[5] == target
            elif inside and fields[0] == "Rss:":
                total += int(fields[1])
    return total


def test_a_served_models_file_is_not_kept_resident_and_its_answers_do_not_change() -> None:
    batch = np.random.default_rng(7).uniform(0, 1, (4, 224, 224, 3)).astype(np.float32)
    reference = ServedModel(MODEL)
    model = ServedModel(MODEL)

    first = model.predict(batch)

    # Then: the 10 MB file's mapped pages are no longer resident (the weights live packed in XNNPACK's memory) ...
    assert resident_kb_of(MODEL) < 512, resident_kb_of(MODEL)
    # ... and every answer is the same as before, also after the interpreter is resized for another batch size
    np.testing.assert_array_equal(model.predict(batch), first)
    np.testing.assert_array_equal(model.predict(batch[:1]), first[:1])
    np.testing.assert_array_equal(model.predict(batch), first)
    np.testing.assert_allclose(reference.predict(batch), first, rtol=0, atol=1e-6)
