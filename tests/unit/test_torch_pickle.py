"""classify.torch_pickle: a legacy torch state dict read with numpy alone, and nothing else it may ask for.

The files are written here the way torch's legacy `torch.save` writes them (torch/serialization.py: the magic
number, the protocol version, system information, the state dict with storages as persistent ids, the storage
keys, then each storage's element count and bytes), by a pickler that names torch's globals without torch.
"""

from __future__ import annotations

import io
import pickle
import sys
import types
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from classify.torch_pickle import MAGIC_NUMBER, PROTOCOL_VERSION, UnreadableCheckpoint, read_state_dict


def _global(module: str, name: str) -> object:
    """A stand-in that pickles as `module.name` (what torch's own objects pickle as)."""
    holder = types.ModuleType(module)
    value = type(name, (), {"__module__": module, "__qualname__": name})
    setattr(holder, name, value)
    return value


@pytest.fixture
def torch_names() -> Iterator[dict[str, object]]:
    names = {
        "rebuild": _global("torch._utils", "_rebuild_tensor_v2"),
        "FloatStorage": _global("torch", "FloatStorage"),
        "LongStorage": _global("torch", "LongStorage"),
    }
    modules = {"torch": types.ModuleType("torch"), "torch._utils": types.ModuleType("torch._utils")}
    modules["torch._utils"]._rebuild_tensor_v2 = names["rebuild"]  # type: ignore[attr-defined]
    modules["torch"].FloatStorage = names["FloatStorage"]  # type: ignore[attr-defined]
    modules["torch"].LongStorage = names["LongStorage"]  # type: ignore[attr-defined]
    saved = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    try:
        yield names
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


class _Storage:
    def __init__(self, key: str, kind: object, values: np.ndarray):
        self.key, self.kind, self.values = key, kind, values


class _Tensor:
    def __init__(
        self, rebuild: object, storage: _Storage, offset: int, shape: tuple[int, ...], stride: tuple[int, ...]
    ):
        self.rebuild, self.args = rebuild, (storage, offset, shape, stride, False, OrderedDict())

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return self.rebuild, self.args


class _LegacyPickler(pickle.Pickler):
    def persistent_id(self, obj: object) -> object:
        if isinstance(obj, _Storage):
            return ("storage", obj.kind, obj.key, "cpu", obj.values.size, None)
        return None


def legacy_file(path: Path, state: OrderedDict, storages: list[_Storage]) -> Path:
    buffer = io.BytesIO()
    for header in (MAGIC_NUMBER, PROTOCOL_VERSION, {"protocol_version": 1001, "little_endian": True}):
        pickle.dump(header, buffer, protocol=2)
    _LegacyPickler(buffer, protocol=2).dump(state)
    pickle.dump([storage.key for storage in storages], buffer, protocol=2)
    for storage in storages:
        buffer.write(np.int64(storage.values.size).tobytes())
        buffer.write(storage.values.tobytes())
    path.write_bytes(buffer.getvalue())
    return path


def test_a_state_dict_is_read_with_its_shapes_strides_offsets_and_dtypes(tmp_path, torch_names):
    # Given: a conv weight (4, 3, 1, 1), a bias that is a view at offset 2 of a shared storage, a transposed view
    # (stride) and a 0-d int64 counter, as torch saves them
    weights = _Storage("0", torch_names["FloatStorage"], np.arange(12, dtype="<f4"))
    shared = _Storage("1", torch_names["FloatStorage"], np.array([9, 9, 1.5, 2.5, 3.5], dtype="<f4"))
    count = _Storage("2", torch_names["LongStorage"], np.array([7], dtype="<i8"))
    rebuild = torch_names["rebuild"]
    state = OrderedDict(
        [
            ("conv.weight", _Tensor(rebuild, weights, 0, (4, 3, 1, 1), (3, 1, 1, 1))),
            ("conv.bias", _Tensor(rebuild, shared, 2, (3,), (1,))),
            ("fc.weight_t", _Tensor(rebuild, weights, 0, (3, 4), (1, 3))),
            ("bn.num_batches_tracked", _Tensor(rebuild, count, 0, (), ())),
        ]
    )
    path = legacy_file(tmp_path / "model.pth", state, [weights, shared, count])

    # When
    tensors = read_state_dict(path)

    # Then
    assert list(tensors) == list(state)
    np.testing.assert_array_equal(tensors["conv.weight"], np.arange(12, dtype=np.float32).reshape(4, 3, 1, 1))
    np.testing.assert_array_equal(tensors["conv.bias"], [1.5, 2.5, 3.5])
    np.testing.assert_array_equal(tensors["fc.weight_t"], np.arange(12, dtype=np.float32).reshape(4, 3).T)
    assert tensors["bn.num_batches_tracked"].dtype == np.int64 and int(tensors["bn.num_batches_tracked"]) == 7
    assert tensors["fc.weight_t"].flags.c_contiguous


class _RunsCode:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return exec, ("import sys; sys.modules[__name__].OWNED = True",)


def test_a_checkpoint_that_asks_for_any_other_global_is_refused(tmp_path, torch_names):
    # Given: a "state dict" whose pickle runs code when loaded by pickle.load
    state = OrderedDict([("evil", _RunsCode())])
    path = legacy_file(tmp_path / "evil.pth", state, [])

    # Then: refused, naming what it asked for, and nothing ran
    with pytest.raises(UnreadableCheckpoint, match=r"\.exec, which a state dict does not need"):
        read_state_dict(path)
    assert not hasattr(sys.modules[__name__], "OWNED")


def test_a_file_that_is_not_a_legacy_checkpoint_is_refused(tmp_path):
    path = tmp_path / "not.pth"
    path.write_bytes(pickle.dumps(12345))
    with pytest.raises(UnreadableCheckpoint, match="magic number"):
        read_state_dict(path)


def test_a_truncated_checkpoint_is_refused(tmp_path, torch_names):
    weights = _Storage("0", torch_names["FloatStorage"], np.arange(12, dtype="<f4"))
    state = OrderedDict([("w", _Tensor(torch_names["rebuild"], weights, 0, (12,), (1,)))])
    path = legacy_file(tmp_path / "model.pth", state, [weights])
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(UnreadableCheckpoint, match="truncated"):
        read_state_dict(path)
