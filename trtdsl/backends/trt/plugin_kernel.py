"""Compile a plugin op's CUDA C with NVRTC and launch it through the CUDA driver API, with
cuda-python (``cuda.bindings.nvrtc`` and ``cuda.bindings.driver``, imported when first used).

No compiled library is involved: the kernel's source travels with the op's Python file and
is compiled for the GPU it runs on, once per (source, name, device) in a process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trtdsl.errors import BackendError
from trtdsl.ir.ops.custom import KernelLaunch


@dataclass(frozen=True)
class CompiledKernel:
    """A kernel loaded into the current CUDA context.

    Attributes:
        name: the kernel's function name.
        function: its ``CUfunction``.
        module: the ``CUmodule`` holding it (kept alive with the function).
        arch: the ``compute_XY`` it was compiled for.
    """

    name: str
    function: Any
    module: Any
    arch: str


_COMPILED: dict[tuple[str, str, int], CompiledKernel] = {}


def cuda_unavailable_reason() -> str | None:
    """Why a kernel cannot be compiled and launched here (None when it can): cuda-python with
    NVRTC and the driver API missing, or no CUDA device."""
    try:
        from cuda.bindings import driver, nvrtc  # noqa: F401
    except ImportError as e:
        return f"cuda-python (cuda.bindings.nvrtc/driver) is not installed ({e})"
    (err,) = driver.cuInit(0)
    if _code(err):
        return f"no CUDA driver or device (cuInit: {_name(err)})"
    err, count = driver.cuDeviceGetCount()
    if _code(err) or count < 1:
        return "no CUDA device"
    return None


def compile_kernel(source: str, name: str, device: int = 0) -> CompiledKernel:
    """Compile ``source`` with NVRTC for ``device`` and load kernel ``name``; cached.

    Makes ``device``'s primary context current (the one the CUDA runtime, PyTorch and
    TensorRT use), so pointers from any of them are valid for the kernel.

    Raises:
        BackendError: cuda-python is missing, or NVRTC rejected the source (its log quoted).
    """
    key = (source, name, device)
    if key in _COMPILED:
        _current_context(device)
        return _COMPILED[key]
    try:
        from cuda.bindings import driver, nvrtc
    except ImportError as e:
        raise BackendError(
            f"kernel {name}: compiling a plugin kernel needs cuda-python with NVRTC "
            f"(pip install cuda-python): {e}"
        ) from None
    dev = _current_context(device)
    major = _call(
        driver.cuDeviceGetAttribute(_attribute(driver, "MAJOR"), dev), "cuDeviceGetAttribute"
    )
    minor = _call(
        driver.cuDeviceGetAttribute(_attribute(driver, "MINOR"), dev), "cuDeviceGetAttribute"
    )
    arch = f"compute_{major}{minor}"
    program = _call(
        nvrtc.nvrtcCreateProgram(source.encode(), f"{name}.cu".encode(), 0, [], []),
        "nvrtcCreateProgram",
    )
    options = [f"--gpu-architecture={arch}".encode(), b"--std=c++17", b"-default-device"]
    (err,) = nvrtc.nvrtcCompileProgram(program, len(options), options)
    if _code(err):
        size = _call(nvrtc.nvrtcGetProgramLogSize(program), "nvrtcGetProgramLogSize")
        log = b" " * size
        nvrtc.nvrtcGetProgramLog(program, log)
        text = " ".join(log.decode(errors="replace").split())
        raise BackendError(f"kernel {name}: NVRTC could not compile it for {arch}: {text}")
    size = _call(nvrtc.nvrtcGetPTXSize(program), "nvrtcGetPTXSize")
    ptx = b" " * size
    _call(nvrtc.nvrtcGetPTX(program, ptx), "nvrtcGetPTX")
    nvrtc.nvrtcDestroyProgram(program)
    image = np.frombuffer(ptx, dtype=np.uint8).copy()
    module = _call(driver.cuModuleLoadData(image.ctypes.data), "cuModuleLoadData")
    function = _call(driver.cuModuleGetFunction(module, name.encode()), "cuModuleGetFunction")
    compiled = CompiledKernel(name, function, module, arch)
    _COMPILED[key] = compiled
    return compiled


def launch_kernel(
    kernel: CompiledKernel, launch: KernelLaunch, pointers: Sequence[int], stream: int = 0
) -> None:
    """Launch ``kernel`` with ``pointers`` (device addresses: inputs, weights, outputs) and
    then ``launch.scalars`` (int -> int32, float -> float32) on ``stream`` (asynchronous)."""
    from cuda.bindings import driver

    values = [np.array([int(p)], dtype=np.uint64) for p in pointers]
    for scalar in launch.scalars:
        kind = np.int32 if isinstance(scalar, (int, np.integer)) else np.float32
        values.append(np.array([scalar], dtype=kind))
    params = np.array([v.ctypes.data for v in values], dtype=np.uint64)
    _call(
        driver.cuLaunchKernel(
            kernel.function,
            *(int(g) for g in launch.grid),
            *(int(b) for b in launch.block),
            0,
            int(stream),
            params.ctypes.data,
            0,
        ),
        f"cuLaunchKernel({kernel.name})",
    )


def _current_context(device: int) -> Any:
    from cuda.bindings import driver

    _call(driver.cuInit(0), "cuInit")
    dev = _call(driver.cuDeviceGet(device), "cuDeviceGet")
    context = _call(driver.cuDevicePrimaryCtxRetain(dev), "cuDevicePrimaryCtxRetain")
    _call(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent")
    return dev


def _attribute(driver: Any, which: str) -> Any:
    return getattr(driver.CUdevice_attribute, f"CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_{which}")


def _code(err: Any) -> int:
    return int(getattr(err, "value", err))


def _name(err: Any) -> str:
    return str(getattr(err, "name", err))


def _call(result: Any, what: str) -> Any:
    """cuda-python's ``(err, *values)``: the value(s), or BackendError naming the call."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if _code(err):
        raise BackendError(f"{what} failed: {_name(err)}")
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)
