"""Shared pytest configuration: marker-based skips for GPU, TensorRT and the torch oracle."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Generator

import pytest

from trtdsl.errors import EngineNotRunnableError


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _has_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None and _has("cuda")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skips = {
        "gpu": (_has_gpu(), "needs a CUDA GPU and cuda-python"),
        "tensorrt": (
            _has("tensorrt") or _has("tensorrt_rtx"),
            "needs TensorRT or TensorRT-RTX (pip install -e '.[rtx]')",
        ),
        "rtx": (_has("tensorrt_rtx"), "needs TensorRT-RTX (pip install -e '.[rtx]')"),
        "oracle": (_has("torch"), "needs PyTorch (pip install -e '.[oracle]')"),
    }
    for item in items:
        for marker, (available, reason) in skips.items():
            if marker in item.keywords and not available:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    """A `tensorrt`-marked test runs with the real module up to the point that needs a GPU:
    there, trtdsl raises EngineNotRunnableError, and the test is skipped with its reason."""
    try:
        return (yield)
    except EngineNotRunnableError as e:
        if "tensorrt" not in pyfuncitem.keywords:
            raise
        pytest.skip(f"real engine built; running it needs a GPU: {e}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """The same for a fixture that builds and opens a real engine (any scope)."""
    try:
        return (yield)
    except EngineNotRunnableError as e:
        if item.get_closest_marker("tensorrt") is None:
            raise
        pytest.skip(f"real engine built; running it needs a GPU: {e}")
