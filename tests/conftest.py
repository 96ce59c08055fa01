"""Shared pytest configuration: marker-based skips for GPU, TensorRT and the torch oracle."""

from __future__ import annotations

import importlib.util
import shutil

import pytest


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
        "tensorrt": (_has("tensorrt") and _has_gpu(), "needs real TensorRT and a GPU"),
        "oracle": (_has("torch"), "needs PyTorch (pip install -e '.[oracle]')"),
    }
    for item in items:
        for marker, (available, reason) in skips.items():
            if marker in item.keywords and not available:
                item.add_marker(pytest.mark.skip(reason=reason))
