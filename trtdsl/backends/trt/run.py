"""Running an emulated engine on host memory (for checks and tests on machines without a GPU).

Real engines need device memory: ``trtdsl.runtime`` runs those through cuda-python.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np

from trtdsl.backends.trt.context import bfloat16_bits
from trtdsl.backends.trt.logger import CapturingLogger
from trtdsl.backends.trt.module import is_emulator
from trtdsl.errors import BackendError, UsageError

_NUMPY = {
    "FLOAT": np.float32,
    "HALF": np.float16,
    "BF16": np.uint16,  # bit patterns, 2 bytes per element as in TensorRT
    "INT8": np.int8,
    "INT32": np.int32,
    "INT64": np.int64,
    "BOOL": np.bool_,
    "UINT8": np.uint8,
}


class HostEngineRunner:
    """Deserializes an emulated plan once and runs it on NumPy arrays (host pointers).

    Args:
        trt: the emulator module (real TensorRT is refused: it needs device pointers).
        plan: the serialized engine from ``build_engine``.
    """

    def __init__(self, trt: ModuleType, plan: bytes, logger: CapturingLogger | None = None):
        if not is_emulator(trt):
            raise BackendError(
                "HostEngineRunner runs emulated engines only; real engines need device "
                "memory (use trtdsl.runtime)"
            )
        self.trt = trt
        self.logger = logger or CapturingLogger(trt)
        self.runtime = trt.Runtime(self.logger.trt_logger)
        self.engine = self.runtime.deserialize_cuda_engine(plan)
        if self.engine is None:
            raise BackendError(f"cannot deserialize the engine: {self.logger.errors_text()}")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = trt.TensorIOMode
        self.input_names = [n for n in names if self.engine.get_tensor_mode(n) == mode.INPUT]
        self.output_names = [n for n in names if self.engine.get_tensor_mode(n) == mode.OUTPUT]

    def _dtype(self, name: str) -> Any:
        dtype = self.engine.get_tensor_dtype(name)
        return _NUMPY[str(getattr(dtype, "name", dtype)).rsplit(".", 1)[-1].upper()]

    def _to_engine(self, name: str, array: np.ndarray) -> np.ndarray:
        dtype = self._dtype(name)
        if dtype is np.uint16:  # bfloat16: float values -> bit patterns
            return bfloat16_bits(np.asarray(array, dtype=np.float32))
        return np.ascontiguousarray(array, dtype=dtype)

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run once. ``inputs``: name -> array (any shape inside the profile).

        Returns:
            output name -> a new array of the engine's output shape (bfloat16 outputs as
            float32 arrays of bfloat16 values, like the reference executor's).
        """
        missing = [n for n in self.input_names if n not in inputs]
        unknown = [n for n in inputs if n not in self.input_names]
        if missing or unknown:
            raise UsageError(
                f"engine inputs are {self.input_names}; missing {missing}, unknown {unknown}"
            )
        keep = []
        for name in self.input_names:
            array = self._to_engine(name, inputs[name])
            keep.append(array)
            if not self.context.set_input_shape(name, array.shape):
                raise BackendError(
                    f"input {name!r}: shape {array.shape} is outside the optimization profile "
                    f"({self.logger.errors_text()})"
                )
            self.context.set_tensor_address(name, array.ctypes.data)
        unresolved = self.context.infer_shapes()
        if unresolved:
            raise BackendError(f"cannot infer the shapes of {list(unresolved)}")
        outputs = {}
        for name in self.output_names:
            shape = tuple(int(d) for d in self.context.get_tensor_shape(name))
            out = np.empty(shape, dtype=self._dtype(name))
            outputs[name] = out
            self.context.set_tensor_address(name, out.ctypes.data)
        since = self.logger.mark()
        if not self.context.execute_async_v3(0):
            errors = self.logger.errors_text(since)
            raise BackendError(f"the emulated engine failed to run: {errors}")
        del keep
        return {
            name: (out.astype(np.uint32) << np.uint32(16)).view(np.float32)
            if out.dtype == np.uint16
            else out
            for name, out in outputs.items()
        }
