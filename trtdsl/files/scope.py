"""The files one command has read, so that nothing it writes can land on one of them.

Every read in ``trtdsl.files`` records the identity (device and inode) of the file it opened
in the current scope; every write refuses a target with one of those identities. The CLI
opens one scope per command (``command_scope``); library calls outside a scope record nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class FileIdentity:
    """What makes two paths the same file: its device and inode (hard and symbolic links to
    one file share them)."""

    device: int
    inode: int

    @classmethod
    def of(cls, status: os.stat_result) -> FileIdentity:
        return cls(status.st_dev, status.st_ino)


_INPUTS: ContextVar[dict[FileIdentity, str] | None] = ContextVar("trtdsl_inputs", default=None)


@contextmanager
def command_scope() -> Iterator[None]:
    """Record the files read until the block ends (nested scopes start empty)."""
    token = _INPUTS.set({})
    try:
        yield
    finally:
        _INPUTS.reset(token)


def note_input(status: os.stat_result, path: str) -> None:
    """Record that the current command read the file ``path`` with ``status``."""
    inputs = _INPUTS.get()
    if inputs is not None:
        inputs.setdefault(FileIdentity.of(status), path)


def input_named(identity: FileIdentity) -> str | None:
    """The path under which the current command read the file ``identity``, if it did."""
    inputs = _INPUTS.get()
    return None if inputs is None else inputs.get(identity)
