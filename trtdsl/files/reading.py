"""Reading a user's file: only regular files, opened without blocking, bounded in size, and
recorded as an input of the current command (``scope``) so no output lands on it.

A path that is missing, a directory, a device, a FIFO or a socket is one FileError naming
it; a FIFO is never waited on (it is opened non-blocking and refused after ``fstat``), and
``/dev/zero`` is never read until memory runs out.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from trtdsl.errors import FileError, FileFormatError
from trtdsl.files.memory import format_bytes, require_memory
from trtdsl.files.scope import note_input

MiB = 1 << 20

JSON_LIMIT = 256 * MiB
"""The largest JSON file trtdsl reads (a sidecar with the builder's layer information of a
large model is a few MiB)."""

TEXT_LIMIT = 64 * MiB
"""The largest model (YAML) or other text file trtdsl reads."""


def describe_kind(mode: int) -> str:
    """``"a directory"``, ``"a FIFO"``, ... for a non-regular ``st_mode``."""
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _label(path: str | os.PathLike[str], label: str | None) -> str:
    return label if label is not None else os.fspath(path)


@contextmanager
def open_input(
    path: str | os.PathLike[str],
    label: str | None = None,
    limit: int | None = None,
    updated: bool = False,
) -> Iterator[IO[bytes]]:
    """Open a regular file for reading (binary), as a context manager.

    Args:
        path: the file.
        label: how messages name it (default: the path), e.g. ``"--against acts.npz"``.
        limit: the largest size accepted, in bytes (None: no bound of its kind; callers that
            read it whole use ``read_bytes``, which checks the memory budget).
        updated: the file is read to be rewritten by this command (a timing cache), so it
            is not recorded as an input that writes must not touch.
    Raises:
        FileError: missing, not a regular file, unreadable, or larger than ``limit``.
    """
    name = _label(path, label)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(os.fspath(path), flags)
    except FileNotFoundError:
        raise FileError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise FileError(f"{name}: is a directory, expected a file") from None
    except PermissionError:
        raise FileError(f"{name}: permission denied") from None
    except OSError as e:
        raise FileError(f"{name}: cannot open it: {e.strerror or e}") from None
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise FileError(f"{name}: is {describe_kind(status.st_mode)}, expected a regular file")
        if limit is not None and status.st_size > limit:
            raise FileError(
                f"{name}: is {format_bytes(status.st_size)}, more than the "
                f"{format_bytes(limit)} such a file may be"
            )
        # Regular files ignore O_NONBLOCK; clear it anyway so reads behave as usual.
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        if not updated:
            note_input(status, os.fspath(path))
        stream = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with stream:
        yield stream


def input_size(path: str | os.PathLike[str], label: str | None = None) -> int:
    """The size of a regular file (FileError as ``open_input``)."""
    with open_input(path, label) as f:
        return os.fstat(f.fileno()).st_size


def read_bytes(
    path: str | os.PathLike[str],
    label: str | None = None,
    limit: int | None = None,
    updated: bool = False,
) -> bytes:
    """The whole content of a regular file.

    The size is checked against ``limit`` and the memory budget before reading, and at most
    that many bytes are read (a file that grows meanwhile is refused).

    Raises:
        FileError as ``open_input``; ResourceLimitError when it does not fit in memory.
    """
    name = _label(path, label)
    with open_input(path, label, limit, updated) as f:
        size = os.fstat(f.fileno()).st_size
        require_memory(size, f"reading {name}")
        try:
            data = f.read(size + 1)
        except OSError as e:
            raise FileError(f"{name}: cannot read it: {e.strerror or e}") from None
    if len(data) != size:
        raise FileError(f"{name}: changed size while it was read")
    return data


def read_text(
    path: str | os.PathLike[str], label: str | None = None, limit: int = TEXT_LIMIT
) -> str:
    """A UTF-8 text file (FileFormatError naming the byte where it is not UTF-8)."""
    data = read_bytes(path, label, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FileFormatError(
            f"{_label(path, label)}: not UTF-8 text ({e.reason} at byte {e.start})"
        ) from None


def parse_json(text: str | bytes, where: str) -> Any:
    """JSON as Python values, strictly: no NaN or Infinity, no duplicate keys.

    Raises:
        FileFormatError naming ``where`` (the file) and the position.
    """
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_object)
    except _JsonRefusal as e:
        raise FileFormatError(f"{where}: not valid JSON ({e})") from None
    except RecursionError:
        raise FileFormatError(f"{where}: not valid JSON (nested too deeply)") from None
    except UnicodeDecodeError as e:
        raise FileFormatError(f"{where}: not UTF-8 ({e.reason} at byte {e.start})") from None
    except ValueError as e:
        raise FileFormatError(f"{where}: not valid JSON ({str(e).splitlines()[0]})") from None


def read_json(
    path: str | os.PathLike[str],
    label: str | None = None,
    limit: int = JSON_LIMIT,
    updated: bool = False,
) -> Any:
    """A JSON file as Python values (``parse_json``'s rules); FileError or FileFormatError.
    ``updated``: as for ``open_input``."""
    return parse_json(read_bytes(path, label, limit, updated), _label(path, label))


class _JsonRefusal(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _JsonRefusal(f"{name} is not a JSON number")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _JsonRefusal(f"duplicate key {key!r}")
        result[key] = value
    return result


def sha256_file(path: str | os.PathLike[str], label: str | None = None) -> str:
    """sha256 of a regular file's content, read in chunks (FileError as ``open_input``)."""
    digest = hashlib.sha256()
    with open_input(path, label) as f:
        for chunk in iter(lambda: f.read(MiB), b""):
            digest.update(chunk)
    return digest.hexdigest()
