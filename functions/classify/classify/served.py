"""A converted model served by LiteRT: what the function image runs instead of TensorFlow.

A served model is two files side by side: `<name>.tflite` (converted at build time from the Keras model, see
`model_build`) and `<name>.json`, its card: which network, which weights it was converted from (the cache key of
the conversion) and whether they are trained. Nothing here imports TensorFlow; any LiteRT model with one float
input and one output can be served the same way (e.g. a second classifier).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

# Bumped when the conversion itself changes, so that cached converted models are rebuilt.
CONVERSION_VERSION = 1
_MADV_DONTNEED = 4  # Linux <sys/mman.h>

logger = logging.getLogger(__name__)


def release_mapped_pages(path: Path) -> int:
    """Drops this process's resident pages of `path`'s file mappings; the bytes they held (0 where unsupported).

    LiteRT maps the model file and XNNPACK packs the weights into memory of its own when the tensors are
    allocated, so the mapped copy (ResNet50: 100 MB) stays resident without being read again. The mapping is
    read-only and backed by the file: a page read again later is faulted in from it, so dropping them never
    changes a result (tests/unit/test_served_memory.py).
    """
    target = str(path.resolve())
    try:
        madvise = ctypes.CDLL(None, use_errno=True).madvise
        madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        with open("/proc/self/maps", encoding="utf-8") as maps:
            regions = [line.split() for line in maps]
    except (OSError, AttributeError):
        return 0
    released = 0
    for region in regions:
        if len(region) >= 6 and region[5] == target and "w" not in region[1]:
            start, end = (int(address, 16) for address in region[0].split("-"))
            if madvise(start, end - start, _MADV_DONTNEED) == 0:
                released += end - start
    return released


def file_source(path: Path) -> str:
    """What a conversion is keyed on when it is made from a file: "sha256:<hex>" of its content."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


@dataclass(frozen=True)
class ModelCard:
    """What a converted model file was made from."""

    name: str
    weights: str  # "imagenet" or "untrained" (ResNet50); the package and version of a converted Keras model
    source: str  # "sha256:<hex>" of the weights (or Keras model) file, or "seed:<n>" for seeded untrained weights
    runtime: str = "litert"
    conversion_version: int = CONVERSION_VERSION
    converted_with: str = ""

    @staticmethod
    def path_for(model_path: Path) -> Path:
        return model_path.with_suffix(".json")

    @classmethod
    def read(cls, model_path: Path) -> ModelCard:
        return cls(**json.loads(cls.path_for(model_path).read_text()))

    def write(self, model_path: Path) -> None:
        self.path_for(model_path).write_text(json.dumps(asdict(self), indent=2) + "\n")

    def describes(self, source: str) -> bool:
        """True when a model with this card is the current conversion of `source`."""
        return self.source == source and self.conversion_version == CONVERSION_VERSION


class ServedModel:
    """One LiteRT interpreter over a model file with a dynamic batch dimension.

    `predict` runs one forward pass per batch (per `max_batch` inputs when set); the interpreter is resized only when
    the batch size changes. An interpreter is not thread-safe, so calls are serialised (a forward pass uses every
    core anyway).
    """

    def __init__(self, model_path: Path, threads: int | None = None, max_batch: int | None = None):
        from ai_edge_litert.interpreter import Interpreter  # imported here: only serving needs it

        self.path = model_path
        self._interpreter = Interpreter(model_path=str(model_path), num_threads=threads or os.cpu_count() or 1)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._batch_size = -1
        self._max_batch = max_batch
        self._lock = threading.Lock()

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The input's shape after the batch dimension."""
        return tuple(int(side) for side in self._input["shape"][1:])

    def predict(self, batch: np.ndarray) -> np.ndarray:
        if batch.ndim != 1 + len(self.input_shape) or batch.shape[1:] != self.input_shape:
            raise ValueError(
                f"expected a batch of shape (n, {', '.join(map(str, self.input_shape))}), got {batch.shape}"
            )
        if batch.shape[0] == 0:
            raise ValueError("expected a batch of at least one input")
        if self._max_batch and batch.shape[0] > self._max_batch:
            # Activations grow with the batch; slices of max_batch keep them bounded at the same throughput.
            slices = range(0, batch.shape[0], self._max_batch)
            return np.concatenate([self._forward(batch[start : start + self._max_batch]) for start in slices])
        return self._forward(batch)

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            reallocated = batch.shape[0] != self._batch_size
            if reallocated:
                self._interpreter.resize_tensor_input(self._input["index"], batch.shape, strict=False)
                self._interpreter.allocate_tensors()
                self._batch_size = batch.shape[0]
            self._interpreter.set_tensor(self._input["index"], np.ascontiguousarray(batch, dtype=self._input["dtype"]))
            self._interpreter.invoke()
            if reallocated:  # the weights are packed by now: the file's mapped copy is not read again
                logger.debug("released %d bytes of %s's mapping", release_mapped_pages(self.path), self.path)
            # get_tensor copies: the interpreter's buffer is reused by the next call.
            result: Any = self._interpreter.get_tensor(self._output["index"])
            return np.asarray(result)
