"""Corrupt and hostile safetensors files: always a WeightError naming the file, never a crash."""

from __future__ import annotations

import json
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

from trtdsl.errors import WeightError
from trtdsl.weights import open_safetensors
from trtdsl.weights.safetensors import parse_header


def raw_file(path: Path, header: bytes, data: bytes = b"", length: int | None = None) -> Path:
    n = len(header) if length is None else length
    path.write_bytes(struct.pack("<Q", n) + header + data)
    return path


def entry(dtype: str = "F32", shape: object = (2,), offsets: object = (0, 8)) -> dict[str, object]:
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}  # type: ignore[call-overload]


def test_truncated_at_every_byte(tmp_path: Path) -> None:
    full = tmp_path / "full.safetensors"
    save_file(
        {"a": np.arange(6, dtype=np.float32), "b": np.ones((2, 2), np.int64)},
        str(full),
        metadata={"k": "v"},
    )
    blob = full.read_bytes()
    cut = tmp_path / "cut.safetensors"
    for size in range(len(blob)):
        cut.write_bytes(blob[:size])
        with pytest.raises(WeightError, match=r"cut\.safetensors: "):
            open_safetensors(cut)
    assert len(open_safetensors(full)) == 2


CASES = {
    "huge header length": (
        b"{}",
        2**63,
        r"header length 9223372036854775808 exceeds the file size",
    ),
    "header longer than file": (b"{}", 3, r"header length 3 exceeds the file size 10"),
    "not utf-8": (b'{"\xff": 1}', None, r"header is not valid UTF-8"),
    "not json": (b"{not json", None, r"header is not valid JSON"),
    "empty header": (b"", None, r"header is not valid JSON"),
    "json array": (b"[1, 2]", None, r"header must be a JSON object, got an array"),
    "json number": (b"42", None, r"header must be a JSON object, got a number"),
    "json null": (b"null", None, r"header must be a JSON object, got null"),
    "json string": (b'"x"', None, r"header must be a JSON object, got a string"),
    "deep nesting": (b"[" * 100000 + b"]" * 100000, None, r"(nested too deeply|not valid JSON)"),
    "duplicate key": (b'{"a": 1, "a": 2}', None, r"duplicate key 'a'"),
    "huge int": (b'{"a": ' + b"9" * 5000 + b"}", None, r"not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_headers(tmp_path: Path, case: str) -> None:
    header, length, message = CASES[case]
    path = raw_file(tmp_path / "bad.safetensors", header, length=length)
    with pytest.raises(WeightError, match=r"bad\.safetensors: .*" + message):
        open_safetensors(path)


ENTRY_CASES = {
    "entry not object": ([1, 2], r"tensor 'w': entry must be an object, got an array"),
    "no dtype": ({"shape": [2], "data_offsets": [0, 8]}, r"tensor 'w': entry has no 'dtype'"),
    "no shape": ({"dtype": "F32", "data_offsets": [0, 8]}, r"entry has no 'shape'"),
    "no offsets": ({"dtype": "F32", "shape": [2]}, r"entry has no 'data_offsets'"),
    "bad dtype": (
        entry("F8_E4M3"),
        r"tensor 'w': unsupported dtype 'F8_E4M3'; expected one of F64",
    ),
    "dtype not str": (entry(7), r"unsupported dtype a number"),  # type: ignore[arg-type]
    "shape not list": ({**entry(), "shape": 2}, r"shape must be a list of ints, got a number"),
    "negative shape": (entry(shape=(-2,)), r"must hold ints in \[0, 2\*\*48\], got -2"),
    "float shape": (entry(shape=(2.0,)), r"got 2\.0"),
    "bool shape": (entry(shape=(True, 2)), r"got true"),
    "huge shape": (entry(shape=(2**62, 0)), r"got 4611686018427387904"),
    "huge rank": (entry(shape=(1,) * 40), r"rank 40 exceeds the maximum 32"),
    "shape offset mismatch": (
        entry(shape=(3,)),
        r"shape 3 of F32 needs 12 bytes, data_offsets \[0, 8\] span 8",
    ),
    "absurd product": (
        entry(shape=(2**40, 2**40, 2**40)),
        r"needs more than \d+ bytes, data_offsets \[0, 8\] span 8",
    ),
    "offsets not pair": (entry(offsets=(0,)), r"data_offsets must be \[begin, end\]"),
    "negative offsets": (entry(offsets=(-8, 0)), r"data_offsets must be \[begin, end\]"),
    "float offsets": (entry(offsets=(0.0, 8)), r"data_offsets must be \[begin, end\]"),
    "begin after end": (entry(offsets=(8, 0)), r"data_offsets \[8, 0\] has begin > end"),
    "span outside file": (
        entry(offsets=(8, 16)),
        r"data_offsets \[8, 16\] lie outside the 8-byte data area",
    ),
    "metadata not object": (None, r"__metadata__ must be an object, got a number"),
}


@pytest.mark.parametrize("case", sorted(ENTRY_CASES))
def test_bad_entries(tmp_path: Path, case: str) -> None:
    value, message = ENTRY_CASES[case]
    header = {"__metadata__": 3} if value is None else {"w": value}
    path = raw_file(tmp_path / "bad.safetensors", json.dumps(header).encode(), b"\0" * 8)
    with pytest.raises(WeightError, match=r"bad\.safetensors: .*" + message):
        open_safetensors(path)


def test_metadata_values_must_be_strings(tmp_path: Path) -> None:
    header = {"__metadata__": {"epoch": 3}}
    path = raw_file(tmp_path / "bad.safetensors", json.dumps(header).encode())
    with pytest.raises(
        WeightError, match=r"__metadata__\['epoch'\] must be a string, got a number"
    ):
        open_safetensors(path)


def test_overlapping_spans(tmp_path: Path) -> None:
    header = {"a": entry(offsets=(0, 8)), "b": entry(offsets=(4, 12))}
    path = raw_file(tmp_path / "bad.safetensors", json.dumps(header).encode(), b"\0" * 12)
    with pytest.raises(
        WeightError, match=r"tensor 'b' data \[4, 12\] overlaps tensor 'a' \[0, 8\]"
    ):
        open_safetensors(path)


def test_empty_tensors_may_share_an_offset(tmp_path: Path) -> None:
    header = {"a": entry(shape=(0,), offsets=(4, 4)), "b": entry(offsets=(0, 8))}
    f = open_safetensors(
        raw_file(tmp_path / "ok.safetensors", json.dumps(header).encode(), b"\0" * 8)
    )
    assert f["a"].shape == (0,) and f["b"].shape == (2,)


def test_claimed_sizes_allocate_nothing(tmp_path: Path) -> None:
    """A header claiming terabytes is rejected before anything proportional is allocated."""
    header = {
        "big": entry(shape=(2**40,), offsets=(0, 2**42)),
        "huge_empty": entry(shape=(0, 2**48, 2**48), offsets=(0, 0)),
    }
    path = raw_file(tmp_path / "big.safetensors", json.dumps(header).encode(), b"\0" * 8)
    tracemalloc.start()
    try:
        with pytest.raises(WeightError, match="lie outside the 8-byte data area"):
            open_safetensors(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)
DIMS = st.integers(min_value=-3, max_value=2**64) | st.sampled_from([0, 1, 2, 3, 4])
ENTRIES = st.fixed_dictionaries(
    {
        "dtype": st.sampled_from(["F32", "F16", "BF16", "I64", "U8", "BOOL", "F8", "f32"]) | JSON,
        "shape": st.lists(DIMS, max_size=4) | JSON,
        "data_offsets": st.lists(
            st.integers(min_value=-2, max_value=80) | DIMS, min_size=0, max_size=3
        )
        | JSON,
    }
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=st.dictionaries(st.text(max_size=6), ENTRIES | JSON, max_size=4),
    data_size=st.integers(0, 64),
)
def test_random_headers_open_or_raise_weight_error(
    header: dict[str, object], data_size: int
) -> None:
    raw = json.dumps(header).encode()
    try:
        infos, _ = parse_header(raw, data_size, "fuzz.safetensors")
    except WeightError as e:
        assert str(e).startswith("fuzz.safetensors: ")
        return
    spans = sorted((i.begin, i.end) for i in infos.values() if i.nbytes)
    assert all(0 <= b <= e <= data_size for b, e in spans)
    assert all(prev[1] <= cur[0] for prev, cur in zip(spans, spans[1:], strict=False))


@settings(max_examples=200, deadline=None)
@given(blob=st.binary(max_size=200))
def test_random_bytes_open_or_raise_weight_error(
    tmp_path_factory: pytest.TempPathFactory, blob: bytes
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "blob.safetensors"
    path.write_bytes(blob)
    try:
        f = open_safetensors(path)
    except WeightError as e:
        assert "blob.safetensors: " in str(e)
        return
    for key in f:
        assert f[key].nbytes == f.info(key).nbytes


@settings(max_examples=200, deadline=None)
@given(header=JSON)
def test_random_json_values_as_headers(header: object) -> None:
    try:
        parse_header(json.dumps(header).encode(), 16, "fuzz.safetensors")
    except WeightError as e:
        assert str(e).startswith("fuzz.safetensors: ")
