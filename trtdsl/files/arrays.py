"""NumPy ``.npy`` and ``.npz`` files, read header first: a shape and dtype are known (and can
be checked against a model and the memory budget) before a byte of data is allocated, and an
``.npz`` member is decompressed only as far as the rows asked for.

Only plain numeric and boolean arrays are read; object arrays (pickles) and structured
dtypes are refused, as is anything truncated or malformed, with one FileFormatError naming
the file and the member.
"""

from __future__ import annotations

import lzma
import math
import mmap as mmap_module
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import IO

import numpy as np

from trtdsl.errors import FileFormatError
from trtdsl.files.memory import require_memory
from trtdsl.files.reading import open_input

_NPY_MAGIC = b"\x93NUMPY"
_HEADER_LIMIT = 1 << 16
"""The largest ``.npy`` header read (NumPy itself writes a few hundred bytes)."""


@dataclass(frozen=True)
class ArrayHeader:
    """What an ``.npy`` header declares.

    Attributes:
        shape: the array's shape (non-negative ints).
        dtype: a numeric or boolean dtype, with its byte order.
        fortran_order: whether the data is laid out column-major.
        offset: where the data starts, in bytes from the start of the ``.npy`` stream.
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    offset: int

    @property
    def count(self) -> int:
        """Number of elements (a Python int: no overflow for forged shapes)."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes of data the header promises."""
        return self.count * self.dtype.itemsize

    def format_shape(self) -> str:
        """``1x3x224x224`` (``scalar`` for rank 0)."""
        return "x".join(map(str, self.shape)) or "scalar"


HeaderCheck = Callable[[ArrayHeader], None]
"""Raises (a TrtdslError naming the source) when an array's header does not fit its use."""


def read_npy_header(stream: IO[bytes], where: str) -> ArrayHeader:
    """Parse the ``.npy`` header at the current position of ``stream``.

    Raises:
        FileFormatError naming ``where``: not an ``.npy`` stream, a malformed header, a
        negative dimension, or a dtype that is not plain numeric or boolean.
    """
    start = stream.tell() if stream.seekable() else 0
    try:
        magic = stream.read(len(_NPY_MAGIC) + 2)
        if len(magic) < len(_NPY_MAGIC) + 2 or not magic.startswith(_NPY_MAGIC):
            raise FileFormatError(f"{where}: not a NumPy .npy array (no NUMPY header)")
        version = (magic[-2], magic[-1])
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(
                stream, max_header_size=_HEADER_LIMIT
            )
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(
                stream, max_header_size=_HEADER_LIMIT
            )
        else:
            raise FileFormatError(
                f"{where}: .npy format version {version[0]}.{version[1]}; trtdsl reads 1.0 and "
                "2.0 (plain numeric arrays)"
            )
        offset = (stream.tell() if stream.seekable() else 0) - start
    except FileFormatError:
        raise
    except (
        ValueError,
        EOFError,
        OSError,
        SyntaxError,
        TypeError,
        zlib.error,
        lzma.LZMAError,
        zipfile.BadZipFile,
        RuntimeError,
        NotImplementedError,
    ) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise FileFormatError(f"{where}: malformed .npy header ({reason})") from None
    if not all(isinstance(d, int) and d >= 0 for d in shape):
        raise FileFormatError(f"{where}: .npy header has an invalid shape {shape!r}")
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise FileFormatError(
            f"{where}: holds {dtype} values (Python objects or records); trtdsl reads only "
            "numeric arrays and never unpickles"
        )
    if dtype.kind not in "biufc":
        raise FileFormatError(f"{where}: holds {dtype} values; expected a numeric array")
    return ArrayHeader(tuple(shape), dtype, bool(fortran), offset)


_READ_ERRORS = (
    OSError,
    EOFError,
    zlib.error,
    lzma.LZMAError,
    zipfile.BadZipFile,  # a bad CRC-32, at a member's end
    RuntimeError,
    NotImplementedError,
    ValueError,
)
"""What reading a damaged stream or archive member raises."""


def _read_data(
    stream: IO[bytes], header: ArrayHeader, rows: int | None, where: str, first: int = 0
) -> np.ndarray:
    """The array (or ``rows`` rows along axis 0) read from ``stream`` at its position: just
    after the header, or ``first`` rows further on for a forward reader."""
    shape = header.shape
    if rows is not None and shape and not header.fortran_order:
        shape = (max(0, min(rows, shape[0] - first)), *shape[1:])
    count = math.prod(shape)
    nbytes = count * header.dtype.itemsize
    require_memory(nbytes, f"reading {where} ({'x'.join(map(str, shape)) or 'scalar'})")
    buffer = bytearray(nbytes)
    view = memoryview(buffer)
    done = 0
    try:
        while done < nbytes:
            got = stream.readinto(view[done:])  # type: ignore[attr-defined]
            if not got:
                break
            done += got
    except _READ_ERRORS as e:
        raise FileFormatError(f"{where}: cannot read its data ({e})") from None
    if done != nbytes:
        raise FileFormatError(
            f"{where}: truncated: the header promises {header.format_shape()} "
            f"{header.dtype} ({header.nbytes} bytes of data), the file holds fewer"
        )
    array = np.frombuffer(buffer, dtype=header.dtype, count=count)
    return array.reshape(shape, order="F" if header.fortran_order else "C")


class RowReader:
    """One ``.npz`` member read forward, some rows (along axis 0) at a time: only the bytes
    of the rows asked for are decompressed. C-order arrays only (``NpzArchive.rows``)."""

    def __init__(self, stream: IO[bytes], header: ArrayHeader, where: str) -> None:
        self.header = header
        self.where = where
        self._stream = stream
        self._done = 0

    def read(self, rows: int) -> np.ndarray:
        """The next ``rows`` rows (fewer at the end), checked against the memory budget."""
        array = _read_data(self._stream, self.header, rows, self.where, self._done)
        self._done += int(array.shape[0])
        return array


def load_npy(
    path: str,
    label: str | None = None,
    check: HeaderCheck | None = None,
    rows: int | None = None,
    mmap: bool = False,
) -> np.ndarray:
    """An ``.npy`` file, its header checked (``check``, then the memory budget) before any
    data is read.

    Args:
        path: the file; label: how messages name it (default: the path).
        check: raises when the header does not fit its use (e.g. the model's input shape).
        rows: read only the first ``rows`` along axis 0 (C-order arrays).
        mmap: map the data read-only instead of reading it (no memory is allocated).
    Raises:
        FileError, FileFormatError or ResourceLimitError, naming the file.
    """
    where = label or path
    with open_input(path, label) as f:
        header = read_npy_header(f, where)
        if check is not None:
            check(header)
        size = _file_size(f)
        if size < header.offset + header.nbytes:
            raise FileFormatError(
                f"{where}: truncated: the header promises {header.format_shape()} "
                f"{header.dtype} ({header.nbytes} bytes of data), the file holds "
                f"{max(0, size - header.offset)}"
            )
        if mmap and header.nbytes:
            mapped = mmap_module.mmap(f.fileno(), 0, access=mmap_module.ACCESS_READ)
            flat = np.frombuffer(mapped, header.dtype, header.count, header.offset)
            return flat.reshape(header.shape, order="F" if header.fortran_order else "C")
        return _read_data(f, header, rows, where)


def _file_size(f: IO[bytes]) -> int:
    return os.fstat(f.fileno()).st_size


class NpzArchive:
    """An ``.npz`` archive opened lazily: member names and headers without reading data.

    ``with NpzArchive(path) as npz: npz.names; npz.header(name); npz.read(name, rows=8)``.
    A member is decompressed only up to the bytes its (checked) header and ``rows`` need, so
    a small archive that inflates to gigabytes costs nothing unless asked for.
    """

    def __init__(self, source: str | IO[bytes], label: str | None = None) -> None:
        """Open ``source``: a path (read as a regular file) or a seekable binary stream
        (``label`` then names it in messages)."""
        self.where = label or (source if isinstance(source, str) else "the archive")
        self._stack = ExitStack()
        try:
            if isinstance(source, str):
                stream = self._stack.enter_context(open_input(source, label))
            else:
                stream = source
            try:
                self._zip = zipfile.ZipFile(stream)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
                raise FileFormatError(f"{self.where}: not an .npz archive ({e})") from None
            self._stack.callback(self._zip.close)
            self._members: dict[str, zipfile.ZipInfo] = {}
            for info in self._zip.infolist():
                if info.is_dir() or not info.filename.endswith(".npy"):
                    continue
                name = info.filename[: -len(".npy")]
                if name in self._members:
                    raise FileFormatError(f"{self.where}: member {name!r} appears twice")
                self._members[name] = info
        except BaseException:
            self._stack.close()
            raise

    @property
    def names(self) -> tuple[str, ...]:
        """The arrays' names (members ``NAME.npy``), in archive order."""
        return tuple(self._members)

    def __contains__(self, name: object) -> bool:
        return name in self._members

    def __iter__(self) -> Iterator[str]:
        return iter(self._members)

    def _open(self, name: str) -> IO[bytes]:
        try:
            return self._zip.open(self._members[name])
        except KeyError:
            raise FileFormatError(f"{self.where}: has no array {name!r}") from None
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError) as e:
            raise FileFormatError(f"{self.where}[{name}]: cannot open the member ({e})") from None

    def header(self, name: str) -> ArrayHeader:
        """The header of array ``name`` (only its first bytes are decompressed)."""
        with self._open(name) as member:
            return read_npy_header(member, f"{self.where}[{name}]")

    def read(
        self, name: str, check: HeaderCheck | None = None, rows: int | None = None
    ) -> np.ndarray:
        """Array ``name`` (or its first ``rows``), its header checked first (``check``, then
        the memory budget); FileFormatError for a truncated or corrupt member."""
        where = f"{self.where}[{name}]"
        with self._open(name) as member:
            header = read_npy_header(member, where)
            if check is not None:
                check(header)
            return _read_data(member, header, rows, where)

    def rows(self, name: str) -> RowReader:
        """Array ``name`` read forward (``RowReader``); open until the archive is closed.

        Raises:
            FileFormatError: a Fortran-order array (its first rows are not first in the
                data) or a damaged member.
        """
        where = f"{self.where}[{name}]"
        member = self._stack.enter_context(self._open(name))
        header = read_npy_header(member, where)
        if header.fortran_order and len(header.shape) > 1:
            raise FileFormatError(
                f"{where}: a Fortran-order array; save it in C order (np.ascontiguousarray) "
                "to read it a batch at a time"
            )
        return RowReader(member, header, where)

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> NpzArchive:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
