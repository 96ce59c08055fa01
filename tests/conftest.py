"""Shared pytest configuration: marker-based skips for GPU, TensorRT and the torch oracle."""

from __future__ import annotations

import importlib.util
import shutil
import textwrap
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path

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


# -- shared fixtures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CliResult:
    """What one ``trtdsl`` invocation did: its exit code and what it printed."""

    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """``cli("info", "resnet50")`` runs the CLI in-process and returns its CliResult."""
    from trtdsl.cli.main import main

    def run(*argv: str) -> CliResult:
        code = main(list(argv))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def write_model(tmp_path: Path) -> Callable[[str, str], Path]:
    """``write_model("m.py", text)`` writes a model file (dedented) and returns its path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


TINY_YAML = """\
name: tiny
inputs:
  x: {shape: [2, 3, 8, 8]}
layers:
  - {name: conv, op: conv2d, out_channels: 4, kernel_size: 3, padding: 1, bias: false}
  - {name: bn, op: batch_norm2d}
  - {name: relu, op: relu}
  - {name: pool, op: adaptive_avg_pool2d, output_size: 1}
  - {name: flatten, op: flatten}
  - {name: fc, op: linear, out_features: 5}
outputs:
  logits: fc
"""
"""A small classifier with every kind of parameter (conv without bias, batch norm, linear)."""


@pytest.fixture
def tiny_model(write_model: Callable[[str, str], Path]) -> Path:
    """The path of TINY_YAML written to a temporary directory."""
    return write_model("tiny.yaml", TINY_YAML)
