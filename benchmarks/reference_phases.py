"""Where the reference executor's time goes: sgemm, im2col copies, the rest of conv2d, the rest.

Wraps ``np.matmul`` inside ``trtdsl.kernels.conv``, the patch (im2col) builder and
``trtdsl.kernels.conv2d`` with timers, then runs the zoo ResNet-50 (random weights, batch-norm
folded) a few times per batch size. Diagnostic only: the wrappers add a little overhead.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/reference_phases.py --batch 1 8
"""

from __future__ import annotations

import argparse
import collections
import time
import types
from collections.abc import Callable
from typing import Any

import numpy as np

import trtdsl.kernels as kernels
import trtdsl.kernels.conv as conv_module
from trtdsl.backends.reference import run_reference
from trtdsl.frontend.load import load_model
from trtdsl.passes import fold_batchnorm
from trtdsl.weights import random_weights

_SECONDS: collections.Counter[str] = collections.Counter()


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _SECONDS[name] += time.perf_counter() - start

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    numpy_view = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if k[:2] != "__"})
    numpy_view.matmul = _timed("sgemm", np.matmul)
    conv_module.np = numpy_view  # type: ignore[assignment]
    conv_module._Patches.of = _timed("im2col", conv_module._Patches.of)  # type: ignore[method-assign]
    kernels.conv2d = _timed("conv2d", kernels.conv2d)  # type: ignore[assignment]
    graph = load_model(args.model)
    graph, weights = fold_batchnorm(graph, random_weights(graph, seed=0))
    for batch in args.batch:
        shape = graph.types[graph.inputs[0]].concrete({d.name: batch for d in graph.dims})
        x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
        run_reference(graph, weights, {graph.inputs[0]: x})
        _SECONDS.clear()
        start = time.perf_counter()
        for _ in range(args.runs):
            run_reference(graph, weights, {graph.inputs[0]: x})
        total = (time.perf_counter() - start) / args.runs * 1e3
        ms = {k: v / args.runs * 1e3 for k, v in _SECONDS.items()}
        rest_of_conv = ms["conv2d"] - ms["sgemm"] - ms["im2col"]
        print(
            f"batch {batch}: total {total:.1f} ms; sgemm {ms['sgemm']:.1f}, im2col "
            f"{ms['im2col']:.1f}, rest of conv2d {rest_of_conv:.1f}, other ops "
            f"{total - ms['conv2d']:.1f}"
        )


if __name__ == "__main__":
    main()
