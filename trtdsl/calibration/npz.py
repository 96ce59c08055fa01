"""Reading the members of an ``.npz`` forward, batch by batch: calibration decompresses
only the samples it uses (a small archive can inflate to gigabytes).

``trtdsl.files.NpzArchive`` opens and checks the archive; it reads a member's first rows only,
so the forward reading is here (a row-range reader there would replace this module)."""

from __future__ import annotations

import lzma
import math
import zipfile
import zlib
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import IO

import numpy as np

from trtdsl.errors import FileFormatError
from trtdsl.files import ArrayHeader, open_input, read_npy_header, require_memory

_READ_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile, RuntimeError)
"""What inflating a damaged member raises (a bad CRC-32 is a BadZipFile at the member's end)."""


class NpzRows:
    """The members of an ``.npz`` read forward, a given number of rows at a time: only the
    compressed bytes of the rows asked for are inflated.

    Each member's header is read again and must equal the one checked when the data was
    opened (the file could have changed since).
    """

    def __init__(self, path: Path, headers: Mapping[str, ArrayHeader]) -> None:
        self.where = str(path)
        self.headers = dict(headers)
        self._stack = ExitStack()
        self._streams: dict[str, IO[bytes]] = {}
        self._done = dict.fromkeys(headers, 0)
        try:
            stream = self._stack.enter_context(open_input(path, self.where))
            try:
                archive = self._stack.enter_context(zipfile.ZipFile(stream))
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
                raise FileFormatError(f"{self.where}: not an .npz archive ({e})") from None
            for name, header in self.headers.items():
                member = f"{self.where}[{name}]"
                try:
                    opened = self._stack.enter_context(archive.open(f"{name}.npy"))
                except (
                    KeyError,
                    zipfile.BadZipFile,
                    OSError,
                    ValueError,
                    RuntimeError,
                    NotImplementedError,
                ) as e:
                    raise FileFormatError(f"{member}: cannot open the member ({e})") from None
                _same_header(header, read_npy_header(opened, member), member)
                self._streams[name] = opened
        except BaseException:
            self._stack.close()
            raise

    def read(self, name: str, rows: int) -> np.ndarray:
        """The next ``rows`` rows of member ``name``."""
        header = self.headers[name]
        where = f"{self.where}[{name}]"
        start = self._done[name]
        self._done[name] += rows
        shape = (rows, *header.shape[1:])
        dtype = header.dtype
        nbytes = math.prod(shape) * dtype.itemsize
        require_memory(nbytes, f"reading samples {start}..{start + rows - 1} of {where}")
        buffer = bytearray(nbytes)
        view = memoryview(buffer)
        done = 0
        try:
            while done < nbytes:
                got = self._streams[name].readinto(view[done:])  # type: ignore[attr-defined]
                if not got:
                    break
                done += got
        except _READ_ERRORS as e:
            raise FileFormatError(f"{where}: cannot read its data ({e})") from None
        if done != nbytes:
            raise FileFormatError(
                f"{where}: truncated: the header promises {header.format_shape()} "
                f"{dtype}, the member ends before sample {start + done // max(1, nbytes // rows)}"
            )
        array = np.frombuffer(buffer, dtype=dtype).reshape(shape)
        return array.astype(dtype.newbyteorder("="), copy=False)

    def __enter__(self) -> NpzRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


def _same_header(checked: ArrayHeader, header: ArrayHeader, where: str) -> None:
    if (header.shape, header.dtype, header.fortran_order) != (
        checked.shape,
        checked.dtype,
        checked.fortran_order,
    ):
        raise FileFormatError(f"{where}: the array changed while it was read")
