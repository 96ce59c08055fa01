"""A TensorRT ILogger that keeps what TensorRT says, so failures can quote its errors."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

_log = logging.getLogger("trtdsl.tensorrt")

_LEVELS = {
    "INTERNAL_ERROR": logging.CRITICAL,
    "ERROR": logging.ERROR,
    "WARNING": logging.WARNING,
    "INFO": logging.DEBUG,
    "VERBOSE": logging.DEBUG - 5,
}


@dataclass(frozen=True)
class LogRecord:
    """One message from TensorRT: its severity name (``"ERROR"``, ...) and text."""

    severity: str
    message: str


class CapturingLogger:
    """Wraps a ``trt.ILogger`` subclass that records every message and forwards it to logging.

    ``trt_logger`` is what to hand to ``trt.Builder`` / ``trt.Runtime``; take the process's one
    instance from ``module.shared_logger``. Messages go to the ``trtdsl.tensorrt`` Python
    logger (TensorRT INFO as DEBUG); VERBOSE ones are dropped unless ``verbose``. The last
    ``keep`` messages are kept; ``mark()`` and ``since`` count every message ever recorded.
    """

    def __init__(self, trt: ModuleType, verbose: bool = False, keep: int = 10_000) -> None:
        self.records: deque[LogRecord] = deque(maxlen=keep)
        self._count = 0
        self._keep: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._verbose = verbose
        base = trt.ILogger
        outer = self

        class _Logger(base):  # type: ignore[misc, valid-type]
            def __init__(self) -> None:
                base.__init__(self)

            def log(self, severity: Any, msg: str) -> None:
                outer.record(severity, msg)

        self.trt_logger = _Logger()

    @contextmanager
    def keeping(self, prefix: str) -> Iterator[list[str]]:
        """Within the block, also collect every message starting with ``prefix`` (whatever its
        severity, VERBOSE included) into the yielded list."""
        kept: list[str] = []
        with self._lock:
            self._keep[prefix] = kept
        try:
            yield kept
        finally:
            with self._lock:
                self._keep.pop(prefix, None)

    def record(self, severity: Any, message: str) -> None:
        """Keep one message (called by TensorRT, possibly from a builder thread)."""
        name = getattr(severity, "name", str(severity).rsplit(".", 1)[-1]).upper()
        text = str(message)
        with self._lock:
            for prefix, kept in self._keep.items():
                if text.startswith(prefix):
                    kept.append(text)
        if name == "VERBOSE" and not self._verbose:
            return
        with self._lock:
            self.records.append(LogRecord(name, str(message)))
            self._count += 1
        _log.log(_LEVELS.get(name, logging.INFO), "%s", message)

    def errors(self, since: int = 0) -> list[str]:
        """Messages of severity ERROR or INTERNAL_ERROR, from record ``since`` on."""
        with self._lock:
            skip = max(0, since - (self._count - len(self.records)))
            records = list(self.records)[skip:]
        return [r.message for r in records if r.severity in ("ERROR", "INTERNAL_ERROR")]

    def errors_text(self, since: int = 0) -> str:
        """The errors joined by ``"; "`` on one line (empty when there were none)."""
        return "; ".join(" ".join(e.split()) for e in self.errors(since))

    def mark(self) -> int:
        """An index to pass as ``since`` to see only later messages."""
        with self._lock:
            return self._count
