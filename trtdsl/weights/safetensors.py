"""Zero-copy safetensors reading: a validated header and read-only NumPy views of a memory map.

The format: an 8-byte little-endian u64 header length ``n``, ``n`` bytes of UTF-8 JSON mapping
each tensor name to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets relative to the
data area that follows the header), and an optional ``"__metadata__"`` dict of strings.
Everything is validated against the file size before any view is made, so a corrupt or hostile
file gives a WeightError naming the file and the key, never a crash or a large allocation.
"""

from __future__ import annotations

import json
import mmap
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from trtdsl.errors import FileError, WeightError
from trtdsl.files import open_input

MAX_HEADER_BYTES = 100 * 1024 * 1024
"""Largest JSON header accepted (the safetensors reference implementation uses the same cap)."""

MAX_RANK = 32
"""Largest tensor rank accepted (NumPy allows 64; no weight has more than a handful of axes)."""

MAX_DIM = 1 << 48
"""Largest single dimension accepted, even for empty tensors (a guard against absurd shapes)."""

NUMPY_DTYPES: Mapping[str, np.dtype] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),  # NOTE: NumPy has no bfloat16; the raw bits are exposed as uint16.
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
"""Safetensors dtype names this reader supports and the NumPy dtype each one is viewed as."""

FLOAT_DTYPES = frozenset({"F64", "F32", "F16", "BF16"})
"""Safetensors dtype names of floating-point data."""


@dataclass(frozen=True)
class TensorInfo:
    """One header entry, validated.

    Attributes:
        key: the tensor's name in the file.
        dtype: the safetensors dtype name (``"F32"``, ``"BF16"``, ...).
        shape: the tensor shape.
        begin, end: byte offsets of its data, relative to the start of the data area.
    """

    key: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.begin


class SafetensorsFile(Mapping[str, np.ndarray]):
    """A memory-mapped safetensors file: a read-only Mapping from key to a zero-copy NumPy view.

    Views are made on first access and keep the mapping alive (their ``.base`` chain ends at the
    ``mmap``); nothing is read from the data area until a view's elements are touched. BF16
    tensors are viewed as uint16 (the raw bits); ``info(key).dtype`` says ``"BF16"``.

    Attributes:
        path: the file path as given.
        metadata: the header's ``__metadata__`` (str -> str), empty if absent.
    """

    def __init__(
        self,
        path: str,
        infos: Mapping[str, TensorInfo],
        metadata: Mapping[str, str],
        buffer: mmap.mmap | None,
        data_start: int,
    ) -> None:
        self.path = path
        self.metadata = dict(metadata)
        self._infos = dict(infos)
        self._buffer = buffer
        self._data_start = data_start
        self._views: dict[str, np.ndarray] = {}

    def info(self, key: str) -> TensorInfo:
        """The validated header entry of ``key`` (KeyError if absent)."""
        return self._infos[key]

    def infos(self) -> list[TensorInfo]:
        """All header entries, in file order (by data offset)."""
        return sorted(self._infos.values(), key=lambda i: (i.begin, i.end, i.key))

    @property
    def data_bytes(self) -> int:
        """Total bytes of tensor data described by the header."""
        return sum(i.nbytes for i in self._infos.values())

    def __getitem__(self, key: str) -> np.ndarray:
        view = self._views.get(key)
        if view is None:
            info = self._infos[key]
            dtype = NUMPY_DTYPES[info.dtype]
            count = info.nbytes // dtype.itemsize
            if count == 0 or self._buffer is None:
                view = np.zeros(info.shape, dtype)
            else:
                view = np.frombuffer(
                    self._buffer, dtype, count=count, offset=self._data_start + info.begin
                ).reshape(info.shape)
            view.flags.writeable = False
            self._views[key] = view
        return view

    def __iter__(self) -> Iterator[str]:
        return iter(self._infos)

    def __len__(self) -> int:
        return len(self._infos)

    def __contains__(self, key: object) -> bool:
        return key in self._infos

    def __repr__(self) -> str:
        return f"SafetensorsFile({self.path!r}, {len(self)} tensors, {self.data_bytes} bytes)"


def open_safetensors(path: str | os.PathLike[str]) -> SafetensorsFile:
    """Open a safetensors file as zero-copy, read-only NumPy views over a memory map.

    Args:
        path: the ``.safetensors`` file.
    Returns:
        a SafetensorsFile (a ``Mapping[str, np.ndarray]``); each array has the header's shape.
    Raises:
        WeightError naming the file (and the key, for a bad entry) when the file is missing,
        not a regular file, truncated, or its header is malformed or inconsistent.
    """
    name = os.fspath(path)
    try:
        # A regular file only (a FIFO is refused, never waited on), recorded as an input.
        with open_input(name) as f:
            size = os.fstat(f.fileno()).st_size
            if size < 8:
                raise WeightError(
                    f"{name}: not a safetensors file: {size} bytes, expected at least 8"
                )
            head = f.read(9)
            header_len = int.from_bytes(head[:8], "little")
            # A safetensors header is a JSON object: "{" right after its length. Anything else
            # may be a file in another format, which deserves a more useful message.
            if head[8:] != b"{" or header_len > min(size - 8, MAX_HEADER_BYTES):
                foreign = foreign_format(name, head)
                if foreign:
                    raise WeightError(foreign)
            f.seek(8)
            if header_len > size - 8:
                raise WeightError(
                    f"{name}: header length {header_len} exceeds the file size {size} "
                    "(truncated or not a safetensors file)"
                )
            if header_len > MAX_HEADER_BYTES:
                raise WeightError(
                    f"{name}: header length {header_len} exceeds the {MAX_HEADER_BYTES}-byte cap"
                )
            raw = f.read(header_len)
            if len(raw) != header_len:
                raise WeightError(f"{name}: file changed while reading its header")
            data_start = 8 + header_len
            infos, metadata = parse_header(raw, size - data_start, name)
            buffer = None
            if size > data_start and any(i.nbytes for i in infos.values()):
                buffer = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except FileError as e:
        raise WeightError(str(e)) from None
    except (OSError, ValueError) as e:
        raise WeightError(f"{name}: cannot read: {e}") from None
    return SafetensorsFile(name, infos, metadata, buffer, data_start)


_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_PROTOCOLS = range(2, 6)


def foreign_format(path: str, head: bytes) -> str | None:
    """What to say about a file that is not safetensors but a known other format, else None.

    A PyTorch checkpoint (``torch.save``: a zip archive holding ``data.pkl``, or a bare pickle
    from before PyTorch 1.6: PROTO 2..5 and an opcode) and a NumPy ``.npz`` are recognised by
    their first bytes; the message says how to convert them. trtdsl never unpickles anything.
    """
    target = os.path.splitext(path)[0] + ".safetensors"
    if head.startswith(_ZIP_MAGIC):
        names = _zip_names(path)
        if names and all(n.endswith(".npy") for n in names):
            return (
                f"{path}: a NumPy .npz archive, not safetensors; convert it: python -c "
                f'"import numpy as np, safetensors.numpy as st; '
                f'st.save_file(dict(np.load({path!r})), {target!r})"'
            )
        if names is not None and not any(n.endswith("data.pkl") for n in names):
            return f"{path}: a zip archive, not a safetensors file"
        kind = "a PyTorch checkpoint (torch.save zip archive)"
    elif len(head) >= 3 and head[0] == 0x80 and head[1] in _PICKLE_PROTOCOLS and head[2]:
        kind = "a Python pickle (a PyTorch checkpoint from torch.save?)"
    else:
        return None
    return (
        f"{path}: {kind}, not safetensors; trtdsl does not unpickle files. Convert the "
        f'state_dict once with torch: python -c "import torch, safetensors.torch as st; '
        f"sd = torch.load({path!r}, map_location='cpu', weights_only=True); "
        f"sd = sd.get('state_dict', sd); "
        f'st.save_file({{k: v.contiguous() for k, v in sd.items()}}, {target!r})" '
        "(torchvision models: weights/export_torchvision.py)"
    )


def _zip_names(path: str) -> list[str] | None:
    """The member names of a zip archive, or None if it cannot be read as one."""
    import zipfile

    try:
        with open_input(path) as f, zipfile.ZipFile(f) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, FileError):
        return None


def parse_header(
    raw: bytes, data_size: int, name: str = "<header>"
) -> tuple[dict[str, TensorInfo], dict[str, str]]:
    """Parse and validate a safetensors JSON header against a data area of ``data_size`` bytes.

    Returns:
        (tensor infos by key, metadata).
    Raises:
        WeightError naming ``name`` and the offending key.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        reason = f"{e.reason} at byte {e.start}"
        raise WeightError(f"{name}: header is not valid UTF-8 ({reason})") from None
    try:
        header = json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKeyError as e:
        raise WeightError(f"{name}: header has duplicate key {e.args[0]!r}") from None
    except RecursionError:
        raise WeightError(f"{name}: header JSON is nested too deeply") from None
    except ValueError as e:
        raise WeightError(f"{name}: header is not valid JSON ({_short(e)})") from None
    if not isinstance(header, dict):
        raise WeightError(f"{name}: header must be a JSON object, got {_json_kind(header)}")
    metadata: dict[str, str] = {}
    infos: dict[str, TensorInfo] = {}
    for key, entry in header.items():
        if key == "__metadata__":
            metadata = _check_metadata(entry, name)
        else:
            infos[key] = _check_entry(key, entry, data_size, name)
    _check_overlaps(infos, name)
    return infos, metadata


class _DuplicateKeyError(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(key)
        result[key] = value
    return result


def _short(e: object, limit: int = 120) -> str:
    text = str(e)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_kind(value: object) -> str:
    kinds = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "a number"
    return kinds.get(type(value), type(value).__name__)


def _is_int(value: object) -> bool:
    return type(value) is int  # JSON gives int or bool (a subclass), never other ints


def _check_metadata(entry: object, name: str) -> dict[str, str]:
    if not isinstance(entry, dict):
        raise WeightError(f"{name}: __metadata__ must be an object, got {_json_kind(entry)}")
    for k, v in entry.items():
        if not isinstance(v, str):
            raise WeightError(f"{name}: __metadata__[{k!r}] must be a string, got {_json_kind(v)}")
    return dict(entry)


def _check_entry(key: str, entry: object, data_size: int, name: str) -> TensorInfo:
    where = f"{name}: tensor {_short_key(key)}"
    if not isinstance(entry, dict):
        raise WeightError(f"{where}: entry must be an object, got {_json_kind(entry)}")
    for field in ("dtype", "shape", "data_offsets"):
        if field not in entry:
            raise WeightError(f"{where}: entry has no {field!r}")
    dtype = entry["dtype"]
    if not isinstance(dtype, str) or dtype not in NUMPY_DTYPES:
        shown = repr(dtype) if isinstance(dtype, str) else _json_kind(dtype)
        raise WeightError(
            f"{where}: unsupported dtype {_short(shown, 40)}; expected one of "
            f"{', '.join(NUMPY_DTYPES)}"
        )
    shape = entry["shape"]
    if not isinstance(shape, list):
        raise WeightError(f"{where}: shape must be a list of ints, got {_json_kind(shape)}")
    if len(shape) > MAX_RANK:
        raise WeightError(f"{where}: rank {len(shape)} exceeds the maximum {MAX_RANK}")
    for d in shape:
        if not _is_int(d) or d < 0 or d > MAX_DIM:
            raise WeightError(
                f"{where}: shape {_short(json.dumps(shape), 80)} must hold ints in "
                f"[0, 2**48], got {_short(json.dumps(d), 40)}"
            )
    offsets = entry["data_offsets"]
    if (
        type(offsets) is not list
        or len(offsets) != 2
        or type(offsets[0]) is not int
        or type(offsets[1]) is not int
        or offsets[0] < 0
        or offsets[1] < 0
    ):
        raise WeightError(
            f"{where}: data_offsets must be [begin, end] with non-negative ints, "
            f"got {_short(json.dumps(offsets), 80)}"
        )
    begin, end = offsets
    if begin > end:
        raise WeightError(f"{where}: data_offsets [{begin}, {end}] has begin > end")
    if end > data_size:
        raise WeightError(
            f"{where}: data_offsets [{begin}, {end}] lie outside the {data_size}-byte data area "
            "(truncated file?)"
        )
    itemsize = NUMPY_DTYPES[dtype].itemsize
    # The product is bounded by the span (<= file size) before it can grow large: no overflow,
    # no allocation proportional to the claimed shape.
    numel = 0 if 0 in shape else 1
    partial = False
    for i, d in enumerate(shape):
        numel *= d
        if numel * itemsize > end - begin:
            partial = i < len(shape) - 1
            break
    if numel * itemsize != end - begin:
        shown = "x".join(map(str, shape)) or "scalar"
        if len(shown) > 80:
            shown = shown[:77] + "..."
        needs = f"more than {numel * itemsize}" if partial else f"{numel * itemsize}"
        raise WeightError(
            f"{where}: shape {shown} of {dtype} needs {needs} bytes, "
            f"data_offsets [{begin}, {end}] span {end - begin}"
        )
    return TensorInfo(key, dtype, tuple(shape), begin, end)


def _check_overlaps(infos: Mapping[str, TensorInfo], name: str) -> None:
    ordered = sorted((i for i in infos.values() if i.nbytes), key=lambda i: (i.begin, i.end))
    for previous, current in zip(ordered, ordered[1:], strict=False):
        if current.begin < previous.end:
            raise WeightError(
                f"{name}: tensor {_short_key(current.key)} data [{current.begin}, {current.end}] "
                f"overlaps tensor {_short_key(previous.key)} "
                f"[{previous.begin}, {previous.end}]"
            )


def _short_key(key: str) -> str:
    return repr(key) if len(key) <= 120 else repr(key[:117] + "...")
