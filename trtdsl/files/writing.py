"""Writing a user's files atomically: each file whole or not at all, a group of files (an
engine and its sidecar) all together or none, a new directory (a Triton model) in one rename.

Contents go to temporary files beside their targets (``.NAME.XXXX.tmp``), are flushed to
disk, and are renamed over the targets only once all of them are complete. A target that
existed is kept as a hard link until every rename succeeded, so a failure part-way puts the
previous files back. No temporary file survives a failure, an exception or Ctrl-C.

No write lands on a file the current command read (``scope``): the same device and inode
is refused, whatever path names it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from trtdsl.errors import FileError
from trtdsl.files.paths import check_output, identity
from trtdsl.files.scope import input_named

Content = bytes | bytearray | memoryview | Callable[[IO[bytes]], None]
"""What a file is written from: its bytes, or a function that writes them to a stream."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _file_mode() -> int:
    """0o666 less the process umask, as ``open()`` would create the file."""
    return 0o666 & ~_umask()


def _write_temporary(target: str, content: Content) -> str:
    """The temporary file beside ``target`` holding ``content`` (flushed to disk)."""
    directory = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(content, (bytes, bytearray, memoryview)):
                f.write(content)
            else:
                content(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode())  # mkstemp creates 0600; outputs are ordinary files
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def _refuse_inputs(path: str, option: str) -> None:
    ident = identity(path)
    known = input_named(ident) if ident is not None else None
    if known is not None:
        raise FileError(f"{option} {path}: is the input {known}; not overwritten")


def write_files(
    items: Sequence[tuple[str | os.PathLike[str], Content]], option: str = "-o"
) -> None:
    """Write every ``(path, content)`` atomically, all or nothing.

    On any failure (including one raised while producing a content, or Ctrl-C) no target is
    changed: the ones already renamed get their previous content back (or are removed if
    they did not exist) and every temporary file is deleted.

    Raises:
        FileError: a target is a directory or another non-regular file, its directory is
            missing or not writable, or it is a file this command read.
    """
    targets = [os.fspath(path) for path, _ in items]
    for target in targets:
        check_output(target, option)
    temporaries: list[str] = []
    backups: dict[str, str | None] = {}
    committed: list[str] = []
    try:
        for target, (_, content) in zip(targets, items, strict=True):
            temporaries.append(_write_temporary(target, content))
        for target, tmp in zip(targets, temporaries, strict=True):
            _refuse_inputs(target, option)
            backups[target] = _keep_previous(target)
            os.replace(tmp, target)
            committed.append(target)
    except BaseException:
        for target in reversed(committed):
            with contextlib.suppress(OSError):
                previous = backups.get(target)
                if previous is not None:
                    os.replace(previous, target)
                else:
                    os.unlink(target)
        for leftover in [*temporaries, *(b for b in backups.values() if b)]:
            with contextlib.suppress(OSError):
                os.unlink(leftover)
        raise
    for previous in backups.values():
        if previous is not None:
            with contextlib.suppress(OSError):
                os.unlink(previous)
    for directory in {os.path.dirname(os.path.abspath(t)) for t in targets}:
        _fsync_directory(directory)


def write_file(path: str | os.PathLike[str], content: Content, option: str = "-o") -> None:
    """Write one file atomically (``write_files`` with one item)."""
    write_files([(path, content)], option)


def _keep_previous(target: str) -> str | None:
    """A hard link to the file at ``target`` (None if there is none), to restore it from."""
    if not os.path.lexists(target):
        return None
    directory = os.path.dirname(os.path.abspath(target))
    while True:
        backup = os.path.join(directory, f".{os.path.basename(target)}.{secrets.token_hex(6)}.old")
        try:
            os.link(target, backup, follow_symlinks=False)
            return backup
        except FileExistsError:
            continue
        except OSError:
            # No hard links here (some filesystems): move it aside instead.
            os.replace(target, backup)
            return backup


def _fsync_directory(directory: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_directory(
    path: str | os.PathLike[str], files: Mapping[str, Content], option: str = "-o"
) -> Path:
    """Create the directory ``path`` holding ``files`` (relative paths -> contents) in one
    step: everything is written into a temporary directory beside it, which is then renamed.
    ``path`` must not exist; on failure nothing is left behind.

    Returns:
        the directory. Raises FileError for an existing ``path`` or an unusable parent.
    """
    target = Path(path)
    where = f"{option} {os.fspath(path)}"
    if os.path.lexists(target):
        raise FileError(f"{where}: already exists; remove it or choose another name")
    parent = target.absolute().parent
    if not parent.is_dir():
        raise FileError(f"{where}: directory {parent} does not exist")
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    except OSError as e:
        raise FileError(f"{where}: cannot create it: {e.strerror or e}") from None
    try:
        for relative, content in files.items():
            parts = Path(relative).parts
            if not parts or Path(relative).is_absolute() or ".." in parts:
                raise ValueError(f"{relative!r}: not a path inside the directory")  # misuse
            destination = staging.joinpath(*parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(_write_temporary(str(destination), content), destination)
        for directory in sorted({p for p in staging.rglob("*") if p.is_dir()} | {staging}):
            directory.chmod(0o777 & ~_umask())  # mkdtemp makes it 0700
            _fsync_directory(str(directory))
        try:
            os.rename(staging, target)
        except OSError as e:
            raise FileError(f"{where}: cannot create it: {e.strerror or e}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync_directory(str(parent))
    return target


def remove_file(path: str | os.PathLike[str]) -> int | None:
    """Remove ``path`` if it is a regular file or a symbolic link (the link, never what it
    points to); returns the bytes freed, or None when there was nothing such to remove (a
    directory, a FIFO or a device is left as it is)."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return None
    if not (stat.S_ISREG(status.st_mode) or stat.S_ISLNK(status.st_mode)):
        return None
    try:
        os.unlink(path)
    except FileNotFoundError:
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else 0
