"""Calibration executors: what runs the model over the data (``--executor``).

- ``engine``: a TensorRT engine (fp32 or tf32) whose calibrated values are marked as outputs,
  on this machine's GPU (or in the emulator with ``--backend emulated``);
- ``onnxruntime``: trtdsl's ONNX export on onnxruntime's CPU provider, the histograms' inputs
  computed inside the graph;
- ``reference``: the NumPy reference (the specification; needs nothing else);
- ``auto``: the engine where a GPU can run one (never an engine this machine cannot run, nor
  the emulator), else onnxruntime where it and onnx are installed, else the reference; a
  ``--backend`` other than ``auto`` asks for the engine (``--backend emulated``: emulated).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping

import numpy as np

from trtdsl.calibration.executors.base import Executor as Executor
from trtdsl.calibration.executors.base import Targets as Targets
from trtdsl.errors import UsageError
from trtdsl.ir.graph import Graph

EXECUTORS = ("auto", "engine", "onnxruntime", "reference")


def auto_executor(backend: str = "auto") -> tuple[str, str]:
    """``(executor, why)``: the executor ``auto`` picks on this machine and the reason (a
    ``backend`` other than ``auto`` asks for the engine executor)."""
    if backend != "auto":
        return "engine", f"auto: --backend {backend}"
    gpu, why_not = _runnable_engine(backend)
    if gpu:
        return "engine", f"auto: {why_not}"
    if _installed("onnxruntime") and _installed("onnx"):
        return "onnxruntime", f"auto: no engine ({why_not})"
    return "reference", f"auto: no engine ({why_not}) and no onnxruntime"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _runnable_engine(backend: str) -> tuple[bool, str]:
    """Whether a real engine of ``backend`` can run on this machine's GPU, and why (not)."""
    from trtdsl.backends.trt.module import module_available

    if not any(module_available(b) for b in ("tensorrt", "tensorrt-rtx")):
        return False, "neither TensorRT nor TensorRT-RTX is installed"
    # NOTE: the runtime sits above calibration; only this check and the engine executor
    # reach it.
    from trtdsl.backends.trt import import_trt
    from trtdsl.runtime.cuda import gpu_compute_capability
    from trtdsl.runtime.engines import machine_gpu

    cc, description = gpu_compute_capability()
    if cc is None:
        return False, description
    cc, description = machine_gpu(import_trt(backend))
    return cc is not None, description


def open_executor(
    name: str,
    targets: Targets,
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    folded_weights: Mapping[str, np.ndarray],
    backend: str = "auto",
    precision: str = "fp32",
    batch_size: int = 8,
) -> Executor:
    """The executor ``name`` (not ``auto``: see ``auto_executor``), ready to run batches.

    Args:
        targets: the calibrated values and the folded graph that computes them.
        graph, weights: the model as loaded; folded_weights: the folded graph's weights.
        backend, precision: the engine executor's build (``--backend``, fp32 or tf32).
    """
    if name == "reference":
        from trtdsl.calibration.executors.reference import ReferenceExecutor

        return ReferenceExecutor(targets, folded_weights)
    if name == "onnxruntime":
        from trtdsl.calibration.executors.ort import OnnxRuntimeExecutor

        return OnnxRuntimeExecutor(targets, folded_weights)
    if name == "engine":
        from trtdsl.calibration.executors.engine import EngineExecutor

        return EngineExecutor(targets, graph, weights, backend, precision, batch_size)
    raise UsageError(f"--executor {name!r}: expected one of {', '.join(EXECUTORS)}")
