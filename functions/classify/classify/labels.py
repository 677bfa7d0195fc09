"""ImageNet class names and top-k selection over a model's probability vector.

Pure Python + numpy: no TensorFlow and no boto3, so it is unit-tested without weights.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from photomod_shared.prediction import Label

DEFAULT_CLASS_INDEX_PATH = Path(__file__).with_name("imagenet_class_index.json")


class ClassIndex:
    """The model's output positions mapped to WordNet ids and human-readable labels.

    ImageNet-1k has two labels that name two different classes ("crane" the bird and the machine,
    "maillot" twice), so a label only resolves to an index when it is unique; the wnid always does.
    """

    def __init__(self, entries: Sequence[tuple[str, str]]) -> None:
        if not entries:
            raise ValueError("a class index needs at least one class")
        self._wnids = [wnid for wnid, _ in entries]
        self._labels = [label for _, label in entries]
        self._index_by_wnid: dict[str, int] = {}
        self._indices_by_label: dict[str, list[int]] = {}
        for index, (wnid, label) in enumerate(entries):
            if wnid in self._index_by_wnid:
                raise ValueError(f"wnid {wnid!r} appears twice (indices {self._index_by_wnid[wnid]} and {index})")
            self._index_by_wnid[wnid] = index
            self._indices_by_label.setdefault(label, []).append(index)

    @classmethod
    def from_file(cls, path: Path | None = None) -> ClassIndex:
        """Load a Keras-format index: ``{"0": ["n01440764", "tench"], ...}`` with keys 0..n-1."""
        path = path or DEFAULT_CLASS_INDEX_PATH
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            raise ValueError(f"{path}: expected a JSON object mapping index to [wnid, label]")
        expected_keys = {str(index) for index in range(len(document))}
        if set(document) != expected_keys:
            raise ValueError(f"{path}: keys must be the consecutive indices 0..{len(document) - 1}")
        entries: list[tuple[str, str]] = []
        for index in range(len(document)):
            entry = document[str(index)]
            if not (
                isinstance(entry, list) and len(entry) == 2 and all(isinstance(part, str) and part for part in entry)
            ):
                raise ValueError(f"{path}: entry {index} must be [wnid, label], got {entry!r}")
            entries.append((entry[0], entry[1]))
        return cls(entries)

    def __len__(self) -> int:
        return len(self._wnids)

    def wnid(self, index: int) -> str:
        return self._wnids[self._checked(index)]

    def label(self, index: int) -> str:
        return self._labels[self._checked(index)]

    def index_of(self, label_or_wnid: str) -> int:
        """Resolve a wnid (always unique) or a label (only if unique) to its output index."""
        if label_or_wnid in self._index_by_wnid:
            return self._index_by_wnid[label_or_wnid]
        indices = self._indices_by_label.get(label_or_wnid)
        if indices is None:
            raise KeyError(f"unknown ImageNet class {label_or_wnid!r}: not a wnid or label among {len(self)} classes")
        if len(indices) > 1:
            candidates = ", ".join(f"{self._wnids[index]} (index {index})" for index in indices)
            raise KeyError(f"label {label_or_wnid!r} names {len(indices)} classes: {candidates}; use the wnid")
        return indices[0]

    def _checked(self, index: int) -> int:
        # Reject negative indices rather than let Python count from the end.
        if not 0 <= index < len(self):
            raise IndexError(f"class index {index} out of range 0..{len(self) - 1}")
        return index


def top_k(probabilities: np.ndarray, class_index: ClassIndex, k: int = 5) -> list[Label]:
    """The k most probable classes, highest first; equal scores keep the lower class index first."""
    scores = np.asarray(probabilities)
    if scores.ndim != 1 or scores.shape[0] != len(class_index):
        raise ValueError(f"expected a 1-D vector of {len(class_index)} probabilities, got shape {scores.shape}")
    if not np.issubdtype(scores.dtype, np.number) or np.issubdtype(scores.dtype, np.complexfloating):
        raise ValueError(f"probabilities must be real numbers, got dtype {scores.dtype}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("probabilities contain NaN or infinity")
    if not 1 <= k <= len(class_index):
        raise ValueError(f"k must be between 1 and {len(class_index)}, got {k}")
    # A stable sort on the negated scores keeps ties in ascending index order (float64 so unsigned ints can't wrap).
    order = np.argsort(-scores.astype(np.float64), kind="stable")[:k]
    return [
        Label(label=class_index.label(int(index)), wnid=class_index.wnid(int(index)), score=float(scores[index]))
        for index in order
    ]
