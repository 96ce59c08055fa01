"""Benchmark the NumPy reference executor against onnxruntime and PyTorch eager on CPU.

All three run the same graph with the same weights (zoo ResNet-50, seeded random weights,
batch-norm folded): onnxruntime through ``export_onnx``, PyTorch through a small interpreter
that maps each IR node to ``torch.nn.functional``. Runs alternate between the three backends
(one timed run of each per round) so that load from other processes hits all of them alike;
the table reports the median latency and the ratios of the reference to the two peers.

Thread counts are pinned per run for all three alike (OpenBLAS through
``OPENBLAS_NUM_THREADS``, which must be set before NumPy loads, so each ``--threads`` value runs
in its own process; torch by ``set_num_threads``; onnxruntime by ``intra_op_num_threads``).

Usage::

    python benchmarks/bench_reference.py       # resnet50, batches 1 and 8, 1 and 2 threads
    python benchmarks/bench_reference.py --batch 1 --threads 2 --rounds 30 --format json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping

import numpy as np

from trtdsl.backends.onnx_export import export_onnx
from trtdsl.backends.reference import run_reference
from trtdsl.frontend.load import load_model
from trtdsl.ir.graph import Graph, Node
from trtdsl.ir.ops import activation as act
from trtdsl.ir.ops import cast, linear, normalization, pooling, shape
from trtdsl.ir.ops import elementwise as ew
from trtdsl.ir.ops.conv import Conv2d
from trtdsl.passes import fold_batchnorm
from trtdsl.weights import random_weights

Runner = Callable[[np.ndarray], np.ndarray]


def graph_to_torch(graph: Graph, weights: Mapping[str, np.ndarray]) -> Callable[..., dict]:
    """A PyTorch eager function computing ``graph``: ``fn(*inputs) -> {output name: tensor}``.

    Each node maps to one ``torch.nn.functional`` call (keyed by op class); weights become
    tensors once, up front.
    """
    import torch
    import torch.nn.functional as F

    params = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in weights.items()}

    def p(node: Node, role: str) -> torch.Tensor | None:
        return params.get(f"{node.name}.{role}")

    def call(node: Node, xs: list[torch.Tensor]) -> torch.Tensor:
        op, x = node.op, xs[0]
        if isinstance(op, Conv2d):
            return F.conv2d(
                x, p(node, "weight"), p(node, "bias"), op.stride, op.padding, op.dilation, op.groups
            )
        if isinstance(op, normalization.BatchNorm2d):
            return F.batch_norm(
                x,
                p(node, "running_mean"),
                p(node, "running_var"),
                p(node, "weight"),
                p(node, "bias"),
                False,
                0.0,
                op.eps,
            )
        if isinstance(op, linear.Linear):
            return F.linear(x, p(node, "weight"), p(node, "bias"))
        if isinstance(op, pooling.MaxPool2d):
            return F.max_pool2d(x, op.kernel_size, op.stride, op.padding, ceil_mode=op.ceil_mode)
        if isinstance(op, pooling.AvgPool2d):
            return F.avg_pool2d(
                x, op.kernel_size, op.stride, op.padding, op.ceil_mode, op.count_include_pad
            )
        if isinstance(op, pooling.AdaptiveAvgPool2d):
            return F.adaptive_avg_pool2d(x, op.output_size)
        if isinstance(op, shape.Flatten):
            return torch.flatten(x, op.start_dim, op.end_dim)
        if isinstance(op, shape.Reshape):
            return x.reshape(
                [x.shape[i] if isinstance(d, str) else d for i, d in enumerate(op.shape)]
            )
        if isinstance(op, shape.Permute):
            return x.permute(op.dims)
        if isinstance(op, shape.Concat):
            return torch.cat(xs, op.dim)
        if isinstance(op, (shape.Identity, shape.Dropout)):
            return x
        if isinstance(op, normalization.Softmax):
            return F.softmax(x, op.dim)
        if isinstance(op, cast.Cast):
            return x.to(getattr(torch, op.dtype.value))  # type: ignore[union-attr]
        binary = {ew.Add: torch.add, ew.Sub: torch.sub, ew.Mul: torch.mul, ew.Div: torch.div}
        if type(op) in binary:
            return binary[type(op)](xs[0], xs[1])
        unary = {
            act.ReLU: F.relu,
            act.ReLU6: F.relu6,
            act.Sigmoid: torch.sigmoid,
            act.SiLU: F.silu,
            act.Tanh: torch.tanh,
            act.Hardsigmoid: F.hardsigmoid,
            act.Hardswish: F.hardswish,
        }
        if type(op) in unary:
            return unary[type(op)](x)
        if isinstance(op, act.GELU):
            return F.gelu(x, approximate=op.approximate)
        if isinstance(op, act.LeakyReLU):
            return F.leaky_relu(x, op.negative_slope)
        if isinstance(op, act.Clip):
            return torch.clamp(x, op.min, op.max)
        raise NotImplementedError(f"{node.name}: no torch mapping for {op.op_name}")

    def forward(*inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        values = dict(zip(graph.inputs, inputs, strict=True))
        for node in graph.nodes:
            values[node.output] = call(node, [values[v] for v in node.inputs])
        return {port.name: values[port.value] for port in graph.outputs}

    return forward


def make_runners(
    graph: Graph, weights: Mapping[str, np.ndarray], workdir: str, threads: int
) -> dict[str, Runner]:
    """One ``run(x) -> logits`` per backend, all computing the same single-output graph."""
    import onnxruntime as ort
    import torch

    output = graph.outputs[0].name
    input_name = graph.inputs[0]
    path = os.path.join(workdir, f"{graph.name}.onnx")
    export_onnx(graph, weights, path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    torch.set_num_threads(threads)
    forward = graph_to_torch(graph, weights)

    def run_trtdsl(x: np.ndarray) -> np.ndarray:
        return run_reference(graph, weights, {input_name: x})[output]

    def run_ort(x: np.ndarray) -> np.ndarray:
        return session.run([output], {input_name: x})[0]

    def run_torch(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return forward(torch.from_numpy(x))[output].numpy()

    return {"trtdsl reference": run_trtdsl, "onnxruntime": run_ort, "pytorch eager": run_torch}


def bench(runners: Mapping[str, Runner], x: np.ndarray, rounds: int, warmup: int) -> dict:
    """Median/min latency (ms) per runner over ``rounds`` alternating rounds."""
    outputs = {name: run(x) for name, run in runners.items()}
    reference = outputs["trtdsl reference"]
    for _ in range(warmup - 1):
        for run in runners.values():
            run(x)
    times: dict[str, list[float]] = {name: [] for name in runners}
    for r in range(rounds):
        order = list(runners.items())
        if r % 2:
            order.reverse()  # alternate who runs first in a round
        for name, run in order:
            start = time.perf_counter()
            run(x)
            times[name].append((time.perf_counter() - start) * 1e3)
    return {
        name: {
            "median_ms": statistics.median(t),
            "min_ms": min(t),
            "max_abs_diff_vs_reference": float(np.abs(outputs[name] - reference).max()),
        }
        for name, t in times.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-fold", action="store_true", help="keep batch-norm layers")
    parser.add_argument(
        "--openblas-coretype",
        metavar="CORE",
        help="set OPENBLAS_CORETYPE for the measuring processes (e.g. SkylakeX where the "
        "environment pins OpenBLAS to its AVX2 Haswell kernels on an AVX-512 CPU)",
    )
    parser.add_argument("--format", choices=("markdown", "json"), default="markdown")
    args = parser.parse_args(argv)
    runs = [_run_in_process(args, threads) for threads in args.threads]
    if args.format == "json":
        print(json.dumps(runs, indent=2))
        return 0
    print(
        "| threads | batch | backend | median ms | min ms | reference / this (median) "
        "| (min) | max abs diff |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for run in runs:
        threads = run["context"]["threads"]
        for batch, by_backend in run["results"].items():
            ours = by_backend["trtdsl reference"]
            for name, r in by_backend.items():
                print(
                    f"| {threads} | {batch} | {name} | {r['median_ms']:.1f} | {r['min_ms']:.1f} | "
                    f"{ours['median_ms'] / r['median_ms']:.2f}x | "
                    f"{ours['min_ms'] / r['min_ms']:.2f}x | "
                    f"{r['max_abs_diff_vs_reference']:.2g} |"
                )
    print()
    for run in runs:
        print("context: " + ", ".join(f"{k}={v}" for k, v in run["context"].items()))
    return 0


def _run_in_process(args: argparse.Namespace, threads: int) -> dict:
    """Run one thread setting in a fresh interpreter (OpenBLAS reads its thread count once)."""
    command = [sys.executable, os.path.abspath(__file__), "--measure", str(threads)]
    command += ["--model", args.model, "--rounds", str(args.rounds), "--warmup", str(args.warmup)]
    command += ["--batch", *map(str, args.batch)] + (["--no-fold"] if args.no_fold else [])
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    if args.openblas_coretype:
        env["OPENBLAS_CORETYPE"] = args.openblas_coretype
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"measuring with {threads} thread(s) failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def measure(argv: list[str]) -> int:
    """The child process: measure one thread setting and print JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--measure", type=int, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--batch", type=int, nargs="+", required=True)
    parser.add_argument("--rounds", type=int, required=True)
    parser.add_argument("--warmup", type=int, required=True)
    parser.add_argument("--no-fold", action="store_true")
    args = parser.parse_args(argv)
    threads = args.measure

    import onnxruntime as ort
    import torch

    graph = load_model(args.model)
    weights: Mapping[str, np.ndarray] = random_weights(graph, seed=0)
    if not args.no_fold:
        graph, weights = fold_batchnorm(graph, weights)
    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        runners = make_runners(graph, weights, workdir, threads)
        for batch in args.batch:
            shape = graph.types[graph.inputs[0]].concrete({d.name: batch for d in graph.dims})
            x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
            results[batch] = bench(runners, x, args.rounds, args.warmup)
    context = {
        "threads": threads,
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "auto"),
        "model": args.model + ("" if args.no_fold else " (batch-norm folded)"),
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": f"{torch.__version__} ({torch.get_num_threads()} threads)",
        "onnxruntime": ort.__version__,
        "rounds": args.rounds,
    }
    print(json.dumps({"context": context, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(measure(sys.argv[1:]) if "--measure" in sys.argv else main())
