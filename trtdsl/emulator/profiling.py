"""Emulated IProfiler / Profiler and IProgressMonitor (the callback interfaces)."""

from __future__ import annotations

import logging

from trtdsl.emulator.logger import EMULATED_PREFIX


class IProfiler:
    """Per-layer timing callback; subclasses implement ``report_layer_time`` and call __init__.

    The emulator reports the wall time of each layer's NumPy computation (not GPU time).
    """

    def __init__(self) -> None:
        pass

    def report_layer_time(self, layer_name: str, ms: float) -> None:
        """Receive one layer's time in milliseconds (abstract)."""
        raise NotImplementedError("IProfiler.report_layer_time must be implemented")


class Profiler(IProfiler):
    """The default profiler: logs each layer's time (TensorRT's prints it) as emulated."""

    def report_layer_time(self, layer_name: str, ms: float) -> None:
        """Log one layer's time."""
        logging.getLogger("trtdsl.emulator").info(
            "%s %s: %.3f ms (NumPy wall time)", EMULATED_PREFIX, layer_name, ms
        )


class IProgressMonitor:
    """Build-progress callback; subclasses implement the three methods and call __init__."""

    def __init__(self) -> None:
        pass

    def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
        """A build phase begins (abstract)."""
        raise NotImplementedError

    def step_complete(self, phase_name: str, step: int) -> bool:
        """A step of a phase finished; return False to cancel the build (abstract)."""
        raise NotImplementedError

    def phase_finish(self, phase_name: str) -> None:
        """A build phase ended (abstract)."""
        raise NotImplementedError
