"""The served model (LiteRT, converted at build time) against the reference (Keras under TensorFlow), the seeded
untrained weights, and the conversion cache."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from classify.imaging import decode_and_preprocess
from classify.labels import ClassIndex, top_k
from classify.model import (
    RUNTIME_LITERT,
    RUNTIME_TENSORFLOW,
    WEIGHTS_UNTRAINED,
    ModelUnavailable,
    load_classifier,
    load_served_classifier,
    weights_source,
)
from classify.served import ModelCard, ServedModel
from infra.paths import REPO_ROOT
from model_build.convert import is_current

DATA = REPO_ROOT.parent / "shared" / "data"
SAMPLE_PHOTOS = sorted((DATA / "imagenet-samples").iterdir()) + [DATA / "dog.jpeg"]
NO_WEIGHTS = str(REPO_ROOT / "models" / "no-such-weights.h5")  # forces the seeded untrained weights
# The weights `make model` converts (the seeded untrained ones when this file is absent, as on these machines):
# the reference loads the same ones, so both runtimes always carry the same weights.
LOCAL_WEIGHTS = str(REPO_ROOT / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels.h5")


@pytest.fixture(scope="module")
def reference():  # type: ignore[no-untyped-def]
    return load_classifier(RUNTIME_TENSORFLOW, LOCAL_WEIGHTS, allow_untrained=True)


@pytest.fixture(scope="module")
def served(served_model: Path):  # type: ignore[no-untyped-def]
    return load_classifier(RUNTIME_LITERT, LOCAL_WEIGHTS, allow_untrained=True, served_model_path=str(served_model))


def test_served_model_gives_tensorflows_top_5_and_probabilities_on_every_sample_photo(reference, served) -> None:  # type: ignore[no-untyped-def]
    class_index = ClassIndex.from_file()
    worst = 0.0
    for start in range(0, len(SAMPLE_PHOTOS), 16):
        paths = SAMPLE_PHOTOS[start : start + 16]
        batch = np.stack([decode_and_preprocess(path.read_bytes()) for path in paths])

        expected, actual = reference.predict(batch), served.predict(batch)

        for path, want, got in zip(paths, expected, actual, strict=True):
            want_top5 = [label.label for label in top_k(want, class_index, 5)]
            assert [label.label for label in top_k(got, class_index, 5)] == want_top5, path.name
        worst = max(worst, float(np.abs(expected - actual).max()))
    assert worst <= 1e-4
    assert reference.info == served.info  # same name, same (untrained) weights


def test_served_model_runs_any_batch_size_with_the_same_answers(served) -> None:  # type: ignore[no-untyped-def]
    batch = np.random.default_rng(7).normal(0, 60, (3, 224, 224, 3)).astype(np.float32)

    together = served.predict(batch)
    alone = np.concatenate([served.predict(batch[index : index + 1]) for index in range(3)])

    assert together.shape == (3, 1000)
    np.testing.assert_allclose(together, alone, atol=1e-6)
    np.testing.assert_allclose(together.sum(axis=1), 1.0, atol=1e-5)


def test_a_batch_larger_than_max_batch_runs_in_slices_with_the_same_answers(served_model: Path) -> None:
    batch = np.random.default_rng(3).normal(0, 60, (5, 224, 224, 3)).astype(np.float32)

    sliced = ServedModel(served_model, max_batch=2)

    np.testing.assert_allclose(sliced.predict(batch), ServedModel(served_model).predict(batch), atol=1e-6)
    assert sliced._batch_size <= 2  # the interpreter never held more than two inputs


def test_served_model_refuses_a_batch_of_the_wrong_shape(served_model: Path) -> None:
    with pytest.raises(ValueError, match=r"\(n, 224, 224, 3\)"):
        ServedModel(served_model).predict(np.zeros((1, 200, 200, 3), dtype=np.float32))


_PROBABILITIES = """
import json, sys
from pathlib import Path
from classify.imaging import decode_and_preprocess
from classify.model import load_classifier
classifier = load_classifier(sys.argv[1], sys.argv[2], allow_untrained=True, served_model_path=sys.argv[3])
batch = decode_and_preprocess(Path(sys.argv[4]).read_bytes())[None]
print("RESULT " + json.dumps({"weights": classifier.info.weights, "p": classifier.predict(batch)[0].tolist()}))
"""


@pytest.mark.parametrize("runtime", [RUNTIME_TENSORFLOW, RUNTIME_LITERT])
def test_untrained_weights_give_the_same_prediction_in_separately_started_processes(
    runtime: str, served_model: Path
) -> None:
    if runtime == RUNTIME_LITERT and ModelCard.read(served_model).weights != WEIGHTS_UNTRAINED:
        pytest.skip("models/ holds a model converted from ImageNet weights, not the seeded untrained ones")

    def probabilities_in_a_new_process() -> dict:
        environment = {"PYTHONPATH": "functions/classify:functions/shared", "TF_CPP_MIN_LOG_LEVEL": "3"}
        completed = subprocess.run(
            [sys.executable, "-c", _PROBABILITIES, runtime, NO_WEIGHTS, str(served_model), str(DATA / "dog.jpeg")],
            cwd=REPO_ROOT,
            env={**environment, "PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        line = next(line for line in completed.stdout.splitlines() if line.startswith("RESULT "))
        return json.loads(line.removeprefix("RESULT "))

    first, second = probabilities_in_a_new_process(), probabilities_in_a_new_process()

    assert first["weights"] == second["weights"] == WEIGHTS_UNTRAINED
    assert first["p"] == second["p"]
    assert max(first["p"]) < 1.0  # a real probability vector, not a constant


def test_a_converted_model_is_current_only_for_the_weights_it_was_converted_from(tmp_path: Path) -> None:
    weights = tmp_path / "weights.h5"
    weights.write_bytes(b"first weights")
    model = tmp_path / "resnet50.tflite"
    model.write_bytes(b"converted")
    ModelCard(name="ResNet50", weights="imagenet", source=weights_source(weights)).write(model)

    assert is_current(model, weights_source(weights))
    weights.write_bytes(b"other weights")
    assert not is_current(model, weights_source(weights))
    assert not is_current(model, weights_source(None))  # the seeded untrained weights are another source
    ModelCard.path_for(model).write_text("{not json")
    assert not is_current(model, weights_source(None))


def test_the_untrained_source_names_the_seed() -> None:
    assert weights_source(None).startswith("seed:")


def test_an_untrained_converted_model_is_refused_where_untrained_is_not_allowed(served_model: Path) -> None:
    if ModelCard.read(served_model).weights != WEIGHTS_UNTRAINED:
        pytest.skip("models/ holds a model converted from ImageNet weights")
    with pytest.raises(ModelUnavailable, match="untrained"):
        load_served_classifier(served_model, allow_untrained=False)


def test_a_stale_untrained_model_is_refused_once_imagenet_weights_exist(served_model: Path, tmp_path: Path) -> None:
    if ModelCard.read(served_model).weights != WEIGHTS_UNTRAINED:
        pytest.skip("models/ holds a model converted from ImageNet weights")
    weights = tmp_path / "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
    weights.write_bytes(b"weights that arrived after the conversion")
    with pytest.raises(ModelUnavailable, match="make model"):
        load_served_classifier(served_model, allow_untrained=True, weights_path=str(weights))


def test_a_missing_converted_model_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="make model"):
        load_classifier(RUNTIME_LITERT, None, True, str(tmp_path / "missing.tflite"))
