"""The safetensors reader: zero-copy views, metadata, dtypes, and file-level errors."""

from __future__ import annotations

import json
import mmap
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from trtdsl.errors import WeightError
from trtdsl.weights import open_safetensors
from trtdsl.weights.safetensors import NUMPY_DTYPES


def write_raw(
    path: Path, header: object, data: bytes = b"", header_bytes: bytes | None = None
) -> Path:
    raw = header_bytes if header_bytes is not None else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


def test_reads_values_shapes_and_metadata(tmp_path: Path) -> None:
    tensors = {
        "a.weight": np.arange(24, dtype=np.float32).reshape(2, 3, 4),
        "a.bias": np.array([1.5, -2.0], np.float32),
        "count": np.array(7, np.int64),
        "flags": np.array([True, False]),
        "empty": np.zeros((0, 3), np.float16),
    }
    path = tmp_path / "w.safetensors"
    save_file(tensors, str(path), metadata={"format": "pt", "model": "tiny"})
    f = open_safetensors(path)
    assert sorted(f) == sorted(tensors)
    assert f.metadata == {"format": "pt", "model": "tiny"}
    for key, expected in tensors.items():
        assert f[key].dtype == expected.dtype
        assert f[key].shape == expected.shape
        np.testing.assert_array_equal(f[key], expected)
    assert f.info("count").dtype == "I64" and f.info("count").shape == ()
    assert f.data_bytes == sum(t.nbytes for t in tensors.values())


def test_views_are_read_only_and_share_the_memory_map(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_file({"w": np.ones((64, 64), np.float32)}, str(path))
    view = open_safetensors(path)["w"]
    assert not view.flags.writeable
    with pytest.raises(ValueError):
        view[0, 0] = 2.0
    base = view
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    assert isinstance(base, mmap.mmap)
    assert view.ctypes.data != 0


def test_bf16_is_exposed_as_raw_uint16(tmp_path: Path) -> None:
    bits = np.array([0x3F80, 0xC000, 0x0000], np.uint16)  # 1.0, -2.0, 0.0
    header = {"x": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}
    f = open_safetensors(write_raw(tmp_path / "bf.safetensors", header, bits.tobytes()))
    assert f.info("x").dtype == "BF16"
    assert f["x"].dtype == np.uint16
    np.testing.assert_array_equal(f["x"], bits)


@pytest.mark.parametrize("name", sorted(NUMPY_DTYPES))
def test_every_supported_dtype_reads_back(tmp_path: Path, name: str) -> None:
    dtype = NUMPY_DTYPES[name]
    values = np.arange(6).astype(dtype).reshape(2, 3)
    header = {"t": {"dtype": name, "shape": [2, 3], "data_offsets": [0, values.nbytes]}}
    f = open_safetensors(write_raw(tmp_path / "t.safetensors", header, values.tobytes()))
    np.testing.assert_array_equal(f["t"], values)


def test_header_padding_and_holes_are_accepted(tmp_path: Path) -> None:
    data = np.array([1, 2], np.float32).tobytes()
    header = {"t": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}
    raw = json.dumps(header).encode() + b"   "
    f = open_safetensors(write_raw(tmp_path / "t.safetensors", None, b"\0" * 4 + data, raw))
    np.testing.assert_array_equal(f["t"], [1, 2])


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(WeightError, match=r"nope\.safetensors: no such file"):
        open_safetensors(tmp_path / "nope.safetensors")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(WeightError, match="is a directory"):
        open_safetensors(tmp_path)


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(WeightError, match=r"pipe\.safetensors: is a FIFO"):
        open_safetensors(fifo)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    with pytest.raises(WeightError, match=r"empty\.safetensors: not a safetensors file: 0 bytes"):
        open_safetensors(path)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import trtdsl.files.reading as reading

    path = tmp_path / "locked.safetensors"
    save_file({"w": np.ones(2, np.float32)}, str(path))

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(reading.os, "open", denied)  # root could read a chmod 0 file
    with pytest.raises(WeightError, match=r"locked\.safetensors: permission denied"):
        open_safetensors(path)


def test_a_file_with_no_tensors(tmp_path: Path) -> None:
    f = open_safetensors(write_raw(tmp_path / "none.safetensors", {"__metadata__": {"a": "b"}}))
    assert len(f) == 0 and f.metadata == {"a": "b"}
