"""Emulated ILogger / Logger: every message is prefixed so it cannot pass for TensorRT's."""

from __future__ import annotations

import logging

from trtdsl.emulator.enums import Severity
from trtdsl.emulator.types import check_type

EMULATED_PREFIX = "[TensorRT emulated by trtdsl]"

_PY_LEVEL = {
    Severity.INTERNAL_ERROR: logging.CRITICAL,
    Severity.ERROR: logging.ERROR,
    Severity.WARNING: logging.WARNING,
    Severity.INFO: logging.INFO,
    Severity.VERBOSE: logging.DEBUG,
}


class ILogger:
    """Base class of loggers; subclasses implement ``log(severity, msg)`` and call ``__init__``."""

    Severity = Severity

    def __init__(self) -> None:
        pass

    def log(self, severity: Severity, msg: str) -> None:  # type: ignore[valid-type]
        """Handle one message (abstract in TensorRT)."""
        raise NotImplementedError("ILogger.log must be implemented by a subclass")


class Logger(ILogger):
    """The default logger: messages at or above ``min_severity`` go to the ``trtdsl.emulator``
    Python logger (not to stdout: library code never prints), each prefixed as emulated.

    Every message is also kept in ``_messages`` (private to the emulator; tests read it).
    """

    def __init__(self, min_severity: Severity = Severity.WARNING) -> None:
        super().__init__()
        self.min_severity = check_type(min_severity, Severity, "Logger.min_severity")
        self._messages: list[tuple[Severity, str]] = []

    def log(self, severity: Severity, msg: str) -> None:
        """Record and forward one message when ``severity`` is at least ``min_severity``."""
        self._messages.append((severity, msg))
        if int(severity) <= int(self.min_severity):
            logging.getLogger("trtdsl.emulator").log(
                _PY_LEVEL[severity], "%s %s", EMULATED_PREFIX, msg
            )


for _member in Severity:
    setattr(ILogger, _member.name, _member)
    setattr(Logger, _member.name, _member)
