"""``trtdsl.Engine``: a serialized engine loaded for serving, called with NumPy arrays."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from trtdsl.errors import UsageError
from trtdsl.runtime.engines import LoadedEngine
from trtdsl.runtime.runner import EngineRunner, IOTensor


class Engine:
    """A TensorRT, TensorRT-RTX or emulated engine as a callable: NumPy in, NumPy out.

    ``engine = Engine.load("m.engine"); outputs = engine(x=batch)`` returns a dict of output
    name -> array. One execution context, one CUDA stream and one set of device buffers serve
    every call; the buffers grow only when a larger shape arrives, so a call at or below the
    largest shape seen so far allocates nothing. Dynamic dimensions take any size inside the
    engine's optimization profile (``inputs`` lists it); outside it a call raises UsageError.

    Thread safety: an Engine may be shared between threads. Calls are serialized by a lock
    (one runs at a time, start to finish), because they share the context, stream and
    buffers; the arrays a call returns are copies that later calls do not touch. To run
    several requests at once, load one Engine per thread (each has its own context, stream
    and buffers; the weights are loaded once per Engine).

    Errors are the CLI's: EngineNotRunnableError where this machine cannot run the engine
    (TensorRT-RTX without a supported GPU), TensorRTMissingError without the product that
    built it, UsageError for a missing file or wrong inputs. Emulated plans (trtdsl's CPU
    emulator) run in host memory where no GPU is visible.

    Args:
        loaded: a deserialized engine (``trtdsl.open_engine``).
        memory: ``"auto"`` (device buffers when a GPU is visible, else host buffers for an
            emulated plan), ``"device"`` or ``"host"`` (emulated plans only).
    """

    def __init__(self, loaded: LoadedEngine, memory: str = "auto") -> None:
        self.loaded = loaded
        self._runner = EngineRunner(loaded.engine, loaded.trt, memory)
        self._lock = threading.Lock()
        self._names = [t.name for t in self._runner.inputs]

    @classmethod
    def load(cls, path: str | os.PathLike[str], memory: str = "auto") -> Engine:
        """Read and deserialize an engine file. Its sidecar, if any, must belong to it (the
        engine's sha256 is compared with the one it records) and names its targets in the
        message when this machine cannot run it."""
        from trtdsl.runtime.engines import open_engine

        return cls(open_engine(path), memory)

    @classmethod
    def from_bytes(cls, plan: bytes, source: str = "the plan", memory: str = "auto") -> Engine:
        """Deserialize plan bytes (TensorRT, TensorRT-RTX or emulated, told by its header)."""
        from trtdsl.backends.trt import import_trt
        from trtdsl.runtime.engines import deserialize, plan_backend

        return cls(deserialize(plan, import_trt(plan_backend(plan, source)), source), memory)

    # -- description --------------------------------------------------------------------------

    @property
    def inputs(self) -> dict[str, IOTensor]:
        """Input name -> its dtype, shape (-1 dynamic) and (min, opt, max) profile."""
        return {t.name: t for t in self._runner.inputs}

    @property
    def outputs(self) -> dict[str, IOTensor]:
        """Output name -> its dtype and shape (-1 where it follows the inputs)."""
        return {t.name: t for t in self._runner.outputs}

    @property
    def description(self) -> str:
        """What runs it, e.g. ``"TensorRT 11.4.0.106"`` (the emulator's says "emulated")."""
        return self.loaded.description

    @property
    def emulated(self) -> bool:
        """True for a plan of trtdsl's CPU emulator (not a TensorRT engine)."""
        return self.loaded.emulated

    def __repr__(self) -> str:
        state = "closed" if self._runner._closed else self._runner.memory.kind + " memory"
        return f"<trtdsl.Engine {self.loaded.source!r}: {self.description}; {state}>"

    # -- running ------------------------------------------------------------------------------

    def __call__(self, *args: Any, **arrays: Any) -> dict[str, np.ndarray]:
        """Run once: ``engine(x=a)``, ``engine({"x": a})``, or ``engine(a)`` for an engine
        with one input. Returns output name -> a new array."""
        feed = self._feed(args, arrays)
        with self._lock:
            if self._runner._closed:
                raise UsageError(f"this Engine ({self.loaded.source}) is closed")
            return self._runner.infer(feed)

    def _feed(self, args: tuple[Any, ...], arrays: dict[str, Any]) -> dict[str, Any]:
        if not args:
            return arrays
        if len(args) > 1 or arrays:
            raise UsageError(
                "call an Engine with one mapping, keyword arrays, or one array (one input)"
            )
        (arg,) = args
        if isinstance(arg, Mapping):
            return dict(arg)
        if len(self._names) != 1:
            raise UsageError(
                f"this engine has {len(self._names)} inputs ({', '.join(self._names)}): pass "
                "them by name"
            )
        return {self._names[0]: arg}

    def close(self) -> None:
        """Free the context, buffers and stream (idempotent; later calls raise UsageError)."""
        with self._lock:
            self._runner.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
