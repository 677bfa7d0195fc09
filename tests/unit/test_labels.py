import json

import numpy as np
import pytest

from classify.labels import ClassIndex, top_k


def vector(class_index: ClassIndex, scores: dict[int, float], rest: float = 0.0) -> np.ndarray:
    probabilities = np.full(len(class_index), rest, dtype=np.float32)
    for index, score in scores.items():
        probabilities[index] = score
    return probabilities


def test_shipped_index_has_the_thousand_imagenet_classes(class_index):
    assert len(class_index) == 1000
    assert (class_index.wnid(0), class_index.label(0)) == ("n01440764", "tench")
    assert (class_index.wnid(999), class_index.label(999)) == ("n15075141", "toilet_tissue")


def test_index_of_resolves_labels_and_wnids(class_index):
    assert class_index.index_of("revolver") == 763
    assert class_index.index_of("n04086273") == 763


def test_index_of_unknown_class_raises_key_error_naming_it(class_index):
    with pytest.raises(KeyError, match="unknown ImageNet class 'flamethrower'"):
        class_index.index_of("flamethrower")


def test_index_of_ambiguous_label_asks_for_the_wnid(class_index):
    # ImageNet-1k has two classes labelled "maillot" (and two "crane").
    with pytest.raises(KeyError, match="n03710637 .* n03710721 .*use the wnid"):
        class_index.index_of("maillot")
    assert class_index.index_of("n03710721") == 639


@pytest.mark.parametrize("index", [-1, 1000])
def test_wnid_and_label_reject_out_of_range_indices(class_index, index):
    with pytest.raises(IndexError):
        class_index.wnid(index)
    with pytest.raises(IndexError):
        class_index.label(index)


def test_from_file_rejects_gaps_in_the_indices(tmp_path):
    path = tmp_path / "index.json"
    path.write_text(json.dumps({"0": ["n1", "a"], "2": ["n2", "b"]}))
    with pytest.raises(ValueError, match="consecutive indices"):
        ClassIndex.from_file(path)


def test_top_k_returns_highest_first_with_labels_wnids_and_float_scores(class_index):
    probabilities = vector(class_index, {763: 0.5, 770: 0.3, 0: 0.2})

    labels = top_k(probabilities, class_index, k=3)

    assert [label.label for label in labels] == ["revolver", "running_shoe", "tench"]
    assert labels[0].model_dump() == {"label": "revolver", "wnid": "n04086273", "score": pytest.approx(0.5)}
    assert all(type(label.score) is float for label in labels)


def test_top_k_defaults_to_five(class_index):
    assert len(top_k(vector(class_index, {}, rest=0.001), class_index)) == 5


def test_top_k_breaks_ties_by_lower_class_index(class_index):
    probabilities = vector(class_index, {900: 0.25, 10: 0.25, 500: 0.25, 3: 0.1})

    labels = top_k(probabilities, class_index, k=4)

    assert [class_index.index_of(label.wnid) for label in labels] == [10, 500, 900, 3]


def test_top_k_of_a_uniform_vector_is_the_first_k_classes(class_index):
    # What an untrained model tends to produce: deterministic, not random.
    labels = top_k(vector(class_index, {}, rest=0.001), class_index, k=3)

    assert [label.label for label in labels] == ["tench", "goldfish", "great_white_shark"]


def test_top_k_accepts_k_equal_to_the_number_of_classes(class_index):
    assert len(top_k(vector(class_index, {}, rest=0.001), class_index, k=1000)) == 1000


@pytest.mark.parametrize("k", [0, -1, 1001])
def test_top_k_rejects_k_out_of_bounds(class_index, k):
    with pytest.raises(ValueError, match="k must be between 1 and 1000"):
        top_k(vector(class_index, {}, rest=0.001), class_index, k=k)


@pytest.mark.parametrize("shape", [(999,), (1001,), (1, 1000), ()])
def test_top_k_rejects_a_vector_of_the_wrong_shape(class_index, shape):
    with pytest.raises(ValueError, match="1-D vector of 1000 probabilities"):
        top_k(np.zeros(shape), class_index)


def test_top_k_rejects_nan(class_index):
    probabilities = vector(class_index, {5: float("nan")})
    with pytest.raises(ValueError, match="NaN"):
        top_k(probabilities, class_index)
