"""Lock files: one process at a time for a key (the engine cache's builders)."""

from __future__ import annotations

import fcntl
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager

from trtdsl.errors import FileError
from trtdsl.files.reading import describe_kind


@contextmanager
def hold_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the lock file ``path`` (created if missing; blocks while
    another process holds it). The lock file is never written, never followed when it is a
    symbolic link, and never waited on when it is a FIFO: anything but a regular file there
    is a FileError naming it."""
    name = os.fspath(path)
    flags = os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(name, flags, 0o644)
    except OSError as e:
        raise FileError(f"{name}: cannot open the lock file: {e.strerror or e}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise FileError(f"{name}: the lock file is {describe_kind(mode)}")
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
