"""Choosing TensorRT or its CPU emulator, and the one place where TensorRT versions differ.

Every other file of the backend receives the chosen module as an argument (``trt``) and uses
only the TensorRT 10.8+/11.x Python API that both versions share.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from types import ModuleType
from typing import Any

from trtdsl.errors import BackendError

MIN_TENSORRT = (10, 8)
"""The oldest TensorRT the backend supports (IProgressMonitor, STRONGLY_TYPED, *_nd layers)."""

INSTALL_HINT = (
    "TensorRT is not installed; install it on a machine with an NVIDIA GPU with "
    "`pip install 'trtdsl[trt]'` (TensorRT >= 10.8 and cuda-python), or pass --emulate to "
    "compile through trtdsl's CPU emulator of the TensorRT API (no engine is written)"
)


class TensorRTMissingError(BackendError):
    """TensorRT cannot be imported and emulation was not asked for."""


def import_trt(emulate: bool) -> ModuleType:
    """The TensorRT Python module, or trtdsl's emulator of it when ``emulate``.

    This is the only function in trtdsl that imports ``tensorrt`` or ``trtdsl.emulator``.

    Raises:
        TensorRTMissingError: TensorRT is absent (message says how to install it and that
            ``--emulate`` exists), or older than 10.8.
    """
    if emulate:
        return importlib.import_module("trtdsl.emulator")
    try:
        trt = importlib.import_module("tensorrt")
    except ImportError as e:
        raise TensorRTMissingError(f"{INSTALL_HINT} ({e})") from None
    if version_tuple(trt) < MIN_TENSORRT:
        raise TensorRTMissingError(
            f"TensorRT {trt.__version__} is too old: trtdsl needs >= "
            f"{'.'.join(map(str, MIN_TENSORRT))}; upgrade it, or pass --emulate"
        )
    return trt


def tensorrt_available() -> bool:
    """Whether real TensorRT can be imported (without importing the emulator)."""
    return importlib.util.find_spec("tensorrt") is not None


def is_emulator(trt: ModuleType) -> bool:
    """True when ``trt`` is trtdsl's CPU emulator rather than real TensorRT."""
    return trt.__name__.startswith("trtdsl.emulator")


def version_tuple(trt: ModuleType) -> tuple[int, ...]:
    """``trt.__version__`` as integers, e.g. ``(11, 4, 0, 106)``."""
    return tuple(int(p) for p in re.findall(r"\d+", str(trt.__version__))[:4])


def describe_version(trt: ModuleType) -> str:
    """``"TensorRT 11.4.0"`` or ``"TensorRT emulator (11.4 API)"`` for logs and sidecars."""
    if is_emulator(trt):
        return f"trtdsl TensorRT emulator (TensorRT {trt.__version__} API, CPU, emulated)"
    return f"TensorRT {trt.__version__}"


# -- version differences: keep every one of them below this line -------------------------------


def create_network(trt: ModuleType, builder: Any) -> Any:
    """A strongly typed network definition on TensorRT 10.x and 11.x.

    NOTE: STRONGLY_TYPED is required on 10.x (else the network is weakly typed and precision
    would depend on builder flags) and deprecated-but-accepted on 11.x, where every network is
    strongly typed. EXPLICIT_BATCH no longer exists in 11.x and is never used.
    https://docs.nvidia.com/deeplearning/tensorrt/latest/inference-library/advanced.html
    """
    flag = trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED
    return builder.create_network(1 << int(flag))


def progress_monitor_base(trt: ModuleType) -> Any:
    """``trt.IProgressMonitor`` (TensorRT >= 10.0), or None where the module lacks it."""
    return getattr(trt, "IProgressMonitor", None)
