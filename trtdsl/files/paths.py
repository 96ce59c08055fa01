"""Checking where a command will write, before it does any work.

An output path is refused when its directory is missing or not writable (tried, not
guessed), when it names a directory or anything but a regular file (``/dev/null`` included),
or when it is the same file as one of the command's inputs (the same device and inode: a
hard link or a symbolic link to an input is the input). Several outputs of one command must
be different files too.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from trtdsl.errors import FileError
from trtdsl.files.reading import describe_kind
from trtdsl.files.scope import FileIdentity, input_named

PathLike = str | os.PathLike[str]


def identity(path: PathLike) -> FileIdentity | None:
    """The identity of the file ``path`` names (symbolic links followed), None if none."""
    try:
        return FileIdentity.of(os.stat(os.fspath(path)))
    except (OSError, ValueError):
        return None


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether two paths name one existing file (links included)."""
    ia = identity(a)
    return ia is not None and ia == identity(b)


def _where(option: str, path: PathLike) -> str:
    return f"{option} {os.fspath(path)}".strip()


def writable_problem(directory: PathLike) -> str | None:
    """Why no file can be created in ``directory``, or None. Tried (a file created and
    removed), not guessed: permission bits say nothing for root or on a read-only mount."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".trtdsl-probe-", dir=os.fspath(directory))
    except OSError as e:
        return f"creating a file there failed: {e.strerror or e}"
    os.close(fd)
    os.unlink(probe)
    return None


def check_output(path: PathLike, option: str, inputs: Iterable[PathLike] = ()) -> None:
    """FileError unless ``path`` can become an output file of this command.

    Args:
        path: the file to write.
        option: how the user named it, for messages (``"-o"``, ``"--onnx"``).
        inputs: the command's input files (those already read in this command's scope are
            checked too).
    """
    text = os.fspath(path)
    where = _where(option, text)
    if not text:
        raise FileError(f"{option}: an empty path")
    try:
        status = os.stat(text)
    except FileNotFoundError:
        status = None
    except OSError as e:
        raise FileError(f"{where}: cannot use it: {e.strerror or e}") from None
    if status is not None:
        if stat.S_ISDIR(status.st_mode):
            raise FileError(f"{where}: is a directory")
        if not stat.S_ISREG(status.st_mode):
            raise FileError(
                f"{where}: is {describe_kind(status.st_mode)}; outputs are written as new "
                "regular files"
            )
        known = input_named(FileIdentity.of(status))
        if known is not None:
            raise FileError(f"{where}: is the input {known}; choose another output")
        for source in inputs:
            if os.fspath(source) and identity(source) == FileIdentity.of(status):
                raise FileError(f"{where}: is the input {os.fspath(source)}; choose another output")
    directory = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(directory):
        raise FileError(f"{where}: directory {directory} does not exist")
    problem = writable_problem(directory)
    if problem:
        raise FileError(f"{where}: directory {directory} is not writable ({problem})")


def check_outputs(outputs: Sequence[tuple[str, PathLike]], inputs: Iterable[PathLike] = ()) -> None:
    """``check_output`` for each ``(option, path)``, and no two of them the same file."""
    sources = list(inputs)
    seen: dict[str, str] = {}
    for option, path in outputs:
        check_output(path, option, sources)
        key = os.path.realpath(os.fspath(path))
        if key in seen:
            raise FileError(
                f"{_where(option, path)}: the same file as {seen[key]}; give each output its "
                "own path"
            )
        seen[key] = _where(option, path)


def check_output_directory(
    path: PathLike, option: str, create: bool = False, inputs: Iterable[PathLike] = ()
) -> Path:
    """A directory outputs are written into (``--cache``, ``--triton``): FileError when it is
    a file, is missing and cannot be created (its parent must exist), or is not writable.
    Without ``create`` a missing directory is only checked to be creatable."""
    directory = Path(path)
    where = _where(option, path)
    if not os.fspath(path):
        raise FileError(f"{option}: an empty path")
    if directory.exists() and not directory.is_dir():
        raise FileError(f"{where}: is a file, not a directory")
    for source in inputs:
        if same_file(source, directory):
            raise FileError(f"{where}: is the input {os.fspath(source)}")
    target = directory
    if not directory.exists():
        parent = directory.absolute().parent
        if not parent.is_dir():
            raise FileError(f"{where}: directory {parent} does not exist")
        if not create:
            target = parent
        else:
            try:
                directory.mkdir()
            except FileExistsError:
                pass
            except OSError as e:
                raise FileError(f"{where}: cannot create it: {e.strerror or e}") from None
    problem = writable_problem(target)
    if problem:
        raise FileError(f"{where}: directory {target} is not writable ({problem})")
    return directory
