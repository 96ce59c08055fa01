"""Where the reference executor's (or the emulated engine's) time goes: per op and per phase.

Per op: wall time of every node by op class (a convolution or linear layer with the nodes
fused into its epilogue counts as ``conv2d+...``); the rest is the executor's own time.
Per phase, in CPU time of the threads that run it (summed over threads when ``--threads`` is
above 1), inside the kernels: im2col (patch copies), GEMM (every ``np.matmul`` of a kernel),
epilogue (bias, fused activations, batch norms and residual adds on each tile), standalone
activations, normalizations (layer norm, softmax), attention, pooling, and allocation (output
buffers). Diagnostic only: the wrappers add a little overhead.

Usage::

    python benchmarks/reference_phases.py --model resnet50 --batch 1 8 --threads 1
    python benchmarks/reference_phases.py --model yolov8n --backend emulated
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from bench_reference import MODELS, load  # noqa: E402

import trtdsl.backends.reference as reference  # noqa: E402
import trtdsl.kernels.attention as attention_kernels  # noqa: E402
import trtdsl.kernels.conv as conv_kernels  # noqa: E402
import trtdsl.kernels.gemm as gemm_kernels  # noqa: E402
import trtdsl.kernels.normalization as norm_kernels  # noqa: E402
import trtdsl.kernels.pointwise as pointwise  # noqa: E402
import trtdsl.kernels.pool as pool_kernels  # noqa: E402
from trtdsl import kernels  # noqa: E402
from trtdsl.ir.ops.base import Op  # noqa: E402

_SECONDS: collections.Counter[str] = collections.Counter()
_LOCK = threading.Lock()
_DEPTH = threading.local()


def _timed(name: str, fn: Callable[..., Any], outermost: bool = False) -> Callable[..., Any]:
    """``fn`` adding its time to ``name``: wall time for ops (``op:``), this thread's CPU time
    for phases, which run on every thread (``outermost``: only when not nested in another
    outermost phase of this thread)."""
    clock = time.perf_counter if name.startswith("op:") else time.thread_time

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        depth = getattr(_DEPTH, "value", 0)
        if outermost and depth:
            return fn(*args, **kwargs)
        _DEPTH.value = depth + (1 if outermost else 0)
        start = clock()
        try:
            return fn(*args, **kwargs)
        finally:
            elapsed = clock() - start
            _DEPTH.value = depth
            with _LOCK:
                _SECONDS[name] += elapsed

    return wrapper


def _numpy_with(**timed: Callable[..., Any]) -> types.SimpleNamespace:
    view = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if k[:2] != "__"})
    for key, fn in timed.items():
        setattr(view, key, fn)
    return view


def instrument() -> None:
    """Wrap the kernels' phases and the executor's per-node work with timers."""
    gemm = _timed("phase: GEMM", np.matmul)
    empty = _timed("phase: allocation", np.empty)
    conv_kernels.np = _numpy_with(matmul=gemm, empty=empty)  # type: ignore[assignment]
    gemm_kernels.np = _numpy_with(matmul=gemm, empty=empty)  # type: ignore[assignment]
    attention_kernels.np = _numpy_with(matmul=gemm, empty=empty)  # type: ignore[assignment]
    conv_kernels._im2col = _timed("phase: im2col", conv_kernels._im2col)  # type: ignore[assignment]
    conv_kernels._finish = _timed("phase: epilogue", conv_kernels._finish)  # type: ignore[assignment]
    gemm_kernels._finish = _timed("phase: epilogue", gemm_kernels._finish)  # type: ignore[assignment]
    for module, name, phase in [
        (pointwise, "activate", "phase: activations"),
        (norm_kernels, "layer_norm", "phase: normalization"),
        (norm_kernels, "softmax", "phase: normalization"),
        (attention_kernels, "scaled_dot_product_attention", "phase: attention"),
        (pool_kernels, "pool2d", "phase: pooling"),
    ]:
        wrapped = _timed(phase, getattr(module, name), outermost=True)
        setattr(module, name, wrapped)
        if hasattr(kernels, name):
            setattr(kernels, name, wrapped)
    original = reference._execute

    def execute(graph: Any, *args: Any, **kwargs: Any) -> Any:
        for node in graph.nodes:
            cls = type(node.op)
            if not getattr(cls.reference, "_timed", False):
                timed = _timed(f"op: {cls.op_name}", cls.reference)
                timed._timed = True  # type: ignore[attr-defined]
                cls.reference = timed  # type: ignore[method-assign]
        return original(graph, *args, **kwargs)

    reference._execute = execute  # type: ignore[assignment]
    run = reference._Chain.run

    def chain_run(self: Any, op: Op, *args: Any) -> Any:
        steps = "+".join(s.kind if isinstance(s, kernels.Activation) else "add" for s in self.steps)
        return _timed(f"op: {op.op_name}+{steps}", run)(self, op, *args)

    reference._Chain.run = chain_run  # type: ignore[method-assign]
    for name in ("_activation_in_place", "_binary_in_place"):
        setattr(reference, name, _timed(f"op: in place {name[1:-9]}", getattr(reference, name)))


def profile_reference(name: str, batch: int, threads: int, runs: int) -> float:
    _, _, graph, weights = load(name, batch)
    x = _input(name, batch)
    reference.run_reference(graph, weights, {graph.inputs[0]: x}, threads=threads)
    _SECONDS.clear()
    start = time.perf_counter()
    for _ in range(runs):
        reference.run_reference(graph, weights, {graph.inputs[0]: x}, threads=threads)
    return (time.perf_counter() - start) / runs * 1e3


def profile_emulated(name: str, batch: int, threads: int, runs: int) -> float:
    from trtdsl.emulator.execute import run_plan
    from trtdsl.runtime.engines import build_in_memory

    graph, weights, _, _ = load(name, batch)
    plan = build_in_memory(graph, weights, "emulated").engine._plan
    kinds = {layer._name: type(layer).__name__ for layer, _, _ in plan.layers}

    def on_layer(layer: str, ms: float) -> None:
        _SECONDS[f"layer: {kinds[layer]}"] += ms / 1e3

    inputs = {graph.inputs[0]: _input(name, batch)}
    with kernels.threads(threads):
        run_plan(plan, inputs)
        _SECONDS.clear()
        start = time.perf_counter()
        for _ in range(runs):
            run_plan(plan, inputs, on_layer)
    return (time.perf_counter() - start) / runs * 1e3


def _input(name: str, batch: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.standard_normal((batch, *MODELS[name][0])).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50", choices=sorted(MODELS))
    parser.add_argument("--batch", type=int, nargs="+", default=[1])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", choices=("reference", "emulated"), default="reference")
    args = parser.parse_args()
    instrument()
    for batch in args.batch:
        profile = profile_reference if args.backend == "reference" else profile_emulated
        total = profile(args.model, batch, args.threads, args.runs)
        ms = {k: v / args.runs * 1e3 for k, v in _SECONDS.items()}
        per_op = sum(v for k, v in ms.items() if k.startswith(("op:", "layer:")))
        print(
            f"\n{args.model} batch {batch}, {args.backend}, {args.threads} thread(s), "
            f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}, load "
            f"{os.getloadavg()[0]:.1f}: {total:.1f} ms per run"
        )
        print("| what | ms per run | share |\n|---|---:|---:|")
        for key, value in sorted(ms.items(), key=lambda kv: (kv[0][:5], -kv[1])):
            print(f"| {key} | {value:.1f} | {value / total:.0%} |")
        print(f"| executor (the rest) | {total - per_op:.1f} | {(total - per_op) / total:.0%} |")


if __name__ == "__main__":
    main()
