"""Benchmark the NumPy reference executor and the emulated engine against onnxruntime and
PyTorch eager on CPU, at given thread counts, on ResNet-50, FCN-ResNet50, ViT-B/16 and YOLOv8n.

All four run the same graph with the same weights (the zoo model, seeded random weights,
batch-norm folded): the reference through ``run_reference(..., threads=T)``; the emulated
engine built in memory (``build_in_memory(graph, weights, "emulated")``) and run through
``EngineRunner`` with host memory under ``trtdsl.kernels.threads(T)``; onnxruntime through
trtdsl's ONNX export (it needs the ``onnx`` package; without it onnxruntime is left out, and
the notes say so), CPU provider, ``intra_op_num_threads = T``; PyTorch eager as one
``torch.nn.functional`` call per node under ``torch.set_num_threads(T)`` and
``torch.inference_mode()``. Within a process the runners alternate (one timed run each per
round, the order reversed every other round) after warm-up runs; tables give medians and the
ratios *reference / peer* and *emulated / reference* (above 1: slower).

Each thread count runs in its own process, with ``OPENBLAS_NUM_THREADS=1`` (the kernels' pool is
the parallelism; they also hold OpenBLAS at one thread themselves where threadpoolctl is
installed). ``--coretype env,auto`` runs each setting twice: with the environment's
``OPENBLAS_CORETYPE`` and with it and ``OPENBLAS_L2_SIZE`` unset (OpenBLAS picks its kernels by
itself, e.g. AVX-512 ones on an AVX-512 CPU). ``--clock cpu`` (with ``--threads 1``) times the
measuring thread's CPU time instead of wall time, for machines shared with other work.
Nothing is downloaded.

Usage::

    python benchmarks/bench_reference.py --models resnet50,fcn_resnet50,vit_b_16,yolov8n \\
        --threads 1,16 --coretype env,auto --format json
    python benchmarks/bench_reference.py --models resnet50 --batch 1,8 --threads 1,2
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
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's trtdsl

import numpy as np  # noqa: E402

from trtdsl.backends.reference import node_params, run_reference  # noqa: E402
from trtdsl.frontend.load import load_model  # noqa: E402
from trtdsl.ir.graph import Graph, Node  # noqa: E402
from trtdsl.ir.ops import activation as act  # noqa: E402
from trtdsl.ir.ops import (  # noqa: E402
    attention,
    linear,
    normalization,
    parameter,
    pooling,
    reduce,
    resize,
    shape,
    slicing,
)
from trtdsl.ir.ops import elementwise as ew  # noqa: E402
from trtdsl.ir.ops.conv import Conv2d  # noqa: E402
from trtdsl.passes import fold_batchnorm  # noqa: E402
from trtdsl.weights import random_weights  # noqa: E402

Runner = Callable[[np.ndarray], np.ndarray]

MODELS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "resnet50": ((3, 224, 224), (1, 8)),
    "fcn_resnet50": ((3, 520, 520), (1,)),
    "vit_b_16": ((3, 224, 224), (1,)),
    "yolov8n": ((3, 640, 640), (1,)),
}
"""Model -> (input shape without the batch, default batch sizes)."""

RUNNERS = ("reference", "emulated", "onnxruntime", "pytorch")


def load(name: str, batch: int) -> tuple[Graph, dict[str, np.ndarray], Graph, dict[str, Any]]:
    """(graph, weights) unfolded and batch-norm folded, for an input of ``batch`` items."""
    chw = MODELS[name][0]
    graph = load_model(name)
    dims = graph.types[graph.inputs[0]].shape
    if not isinstance(dims[0], str):  # a static batch (FCN: (1, 3, H, W))
        graph = load_model(name, {graph.inputs[0]: (batch, *chw)})
    weights = random_weights(graph, seed=0)
    folded, folded_weights = fold_batchnorm(graph, weights)
    return graph, weights, folded, folded_weights


def graph_to_torch(
    graph: Graph, weights: Mapping[str, np.ndarray]
) -> tuple[Callable[..., dict], set[str]]:
    """A PyTorch eager function computing ``graph``: ``fn(x) -> {output name: tensor}``, and
    the ops it computes with their NumPy reference (cheap ones: shapes, anchors, arg-max).

    Each other node is one ``torch.nn.functional`` (or tensor) call, keyed by op class.
    """
    import torch
    import torch.nn.functional as F

    params = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in weights.items()}
    fallbacks: set[str] = set()

    def p(node: Node, role: str) -> torch.Tensor | None:
        return params.get(f"{node.name}.{role}")

    unary = {
        act.ReLU: F.relu,
        act.ReLU6: F.relu6,
        act.Sigmoid: torch.sigmoid,
        act.SiLU: F.silu,
        act.Tanh: torch.tanh,
        act.Hardsigmoid: F.hardsigmoid,
        act.Hardswish: F.hardswish,
    }
    binary = {ew.Add: torch.add, ew.Sub: torch.sub, ew.Mul: torch.mul, ew.Div: torch.div}

    def call(node: Node, xs: list[torch.Tensor]) -> torch.Tensor:
        op = node.op
        x = xs[0] if xs else None
        if isinstance(op, Conv2d):
            w, b = p(node, "weight"), p(node, "bias")
            return F.conv2d(x, w, b, op.stride, op.padding, op.dilation, op.groups)
        if isinstance(op, linear.Linear):
            return F.linear(x, p(node, "weight"), p(node, "bias"))
        if type(op) in unary:
            return unary[type(op)](x)
        if isinstance(op, act.GELU):
            return F.gelu(x, approximate=op.approximate)
        if type(op) in binary:
            other = xs[1] if op.other is None else op.other  # type: ignore[attr-defined]
            return binary[type(op)](x, other)
        if isinstance(op, pooling.MaxPool2d):
            return F.max_pool2d(x, op.kernel_size, op.stride, op.padding, ceil_mode=op.ceil_mode)
        if isinstance(op, pooling.AdaptiveAvgPool2d):
            return F.adaptive_avg_pool2d(x, op.output_size)
        if isinstance(op, normalization.LayerNorm):
            shape_ = tuple(op.normalized_shape)  # type: ignore[arg-type]
            return F.layer_norm(x, shape_, p(node, "weight"), p(node, "bias"), op.eps)
        if isinstance(op, normalization.Softmax):
            return F.softmax(x, op.dim)
        if isinstance(op, attention.MultiheadAttention) and len(xs) == 1 and op.batch_first:
            q = x.transpose(0, 1)  # type: ignore[union-attr]
            out, _ = F.multi_head_attention_forward(
                q, q, q, op.embed_dim, op.num_heads, p(node, "in_proj_weight"),
                p(node, "in_proj_bias"), None, None, False, 0.0, p(node, "out_proj.weight"),
                p(node, "out_proj.bias"), training=False, need_weights=False,
            )  # fmt: skip
            return out.transpose(0, 1)
        if isinstance(op, resize.Interpolate):
            corners = None if op.mode == "nearest" else op.corners
            size = tuple(xs[1].shape[-2:]) if len(xs) == 2 else op.size
            scale = None if size is not None else op.scale_factor
            return F.interpolate(x, size=size, scale_factor=scale, mode=op.mode,
                                 align_corners=corners)  # fmt: skip
        out_shape = graph.types[node.output].concrete(sizes)
        if isinstance(op, shape.Concat):
            return torch.cat(xs, op.dim)
        if isinstance(op, (shape.Identity, shape.Dropout)):
            return x
        if isinstance(op, (shape.Flatten, shape.Reshape)):
            return x.reshape(out_shape)  # type: ignore[union-attr]
        if isinstance(op, shape.Permute):
            return x.permute(op.dims)  # type: ignore[union-attr]
        if isinstance(op, shape.Transpose):
            return x.transpose(op.dim0, op.dim1)  # type: ignore[union-attr]
        if isinstance(op, shape.Expand):
            return x.expand(out_shape)  # type: ignore[union-attr]
        if isinstance(op, slicing.Narrow):
            return x.narrow(op.dim, op.start, op.length)  # type: ignore[union-attr]
        if isinstance(op, slicing.Select):
            return x.select(op.dim, op.index)  # type: ignore[union-attr]
        if isinstance(op, reduce.ArgMax):
            return torch.argmax(x, op.dim, op.keepdim)
        if isinstance(op, parameter.Parameter):
            return params[next(iter(node_keys(node)))]
        fallbacks.add(op.op_name)  # NumPy reference: constants for a given input shape
        out = op.reference([t.numpy() for t in xs], node_params(graph, node, weights))
        return torch.from_numpy(np.ascontiguousarray(out))

    def node_keys(node: Node) -> list[str]:
        return [k for k in params if k == node.name or k.startswith(node.name + ".")]

    sizes: dict[str, int] = {}

    def forward(*inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        values = dict(zip(graph.inputs, inputs, strict=True))
        for name, tensor in values.items():
            for dim, size in zip(graph.types[name].shape, tensor.shape, strict=True):
                if isinstance(dim, str):
                    sizes[dim] = int(size)
        for node in graph.nodes:
            values[node.output] = call(node, [values[v] for v in node.inputs])
        return {port.name: values[port.value] for port in graph.outputs}

    return forward, fallbacks


def make_runners(
    name: str, batch: int, threads: int, workdir: str, skip: set[str]
) -> tuple[dict[str, Runner], dict[str, Any]]:
    """The runners of one model and batch size, and notes on how each was made."""
    import onnxruntime as ort
    import torch

    from trtdsl import kernels

    graph, weights, folded, folded_weights = load(name, batch)
    input_name, output = folded.inputs[0], folded.outputs[0].name
    notes: dict[str, Any] = {}
    runners: dict[str, Runner] = {}
    runners["reference"] = lambda x: run_reference(
        folded, folded_weights, {input_name: x}, threads=threads
    )[output]
    if "emulated" not in skip:
        from trtdsl.runtime.engines import build_in_memory
        from trtdsl.runtime.runner import EngineRunner

        loaded = build_in_memory(graph, weights, "emulated")
        runner = EngineRunner(loaded.engine, loaded.trt, memory="host")
        notes["emulated"] = loaded.description

        def run_emulated(x: np.ndarray) -> np.ndarray:
            with kernels.threads(threads):
                return runner.infer({input_name: x})[output]

        runners["emulated"] = run_emulated
    torch.set_num_threads(threads)
    forward, fallbacks = graph_to_torch(folded, folded_weights)
    notes["pytorch numpy fallbacks"] = fallbacks  # filled as it runs

    def run_torch(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return np.asarray(forward(torch.from_numpy(x))[output].numpy())

    path = os.path.join(workdir, f"{name}_{batch}.onnx")
    if "onnxruntime" not in skip and not export(folded, folded_weights, path):
        notes["onnxruntime"] = "skipped: exporting the model needs the onnx package"
    elif "onnxruntime" not in skip:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        first = session.get_outputs()[0].name
        runners["onnxruntime"] = lambda x: np.asarray(session.run([first], {input_name: x})[0])
    if "pytorch" not in skip:
        runners["pytorch"] = run_torch
    return runners, notes


def export(graph: Graph, weights: Mapping[str, np.ndarray], path: str) -> bool:
    """Write the ONNX file onnxruntime runs; False where the ``onnx`` package is missing."""
    from trtdsl.backends.onnx_export import export_onnx
    from trtdsl.errors import BackendError

    try:
        export_onnx(graph, weights, path)
    except BackendError as e:
        if "needs the onnx package" not in str(e):
            raise
        return False
    return True


def bench(
    runners: Mapping[str, Runner], x: np.ndarray, rounds: int, warmup: int, clock: str = "wall"
) -> dict:
    """Median and min latency (ms) per runner, alternating, and each output's max abs
    difference from the reference's. ``clock="cpu"``: the calling thread's CPU time instead
    of wall time (one thread only: every runner then computes on the calling thread, and time
    spent waiting for a loaded machine's cores is left out)."""
    now = time.thread_time if clock == "cpu" else time.perf_counter
    outputs = {name: run(x) for name, run in runners.items()}
    reference = outputs["reference"]
    for _ in range(warmup - 1):
        for run in runners.values():
            run(x)
    times: dict[str, list[float]] = {name: [] for name in runners}
    for r in range(rounds):
        order = list(runners.items())
        if r % 2:
            order.reverse()
        for name, run in order:
            start = now()
            run(x)
            times[name].append((now() - start) * 1e3)
    return {
        name: {
            "median_ms": statistics.median(t),
            "min_ms": min(t),
            "max_abs_diff": float(np.abs(outputs[name].astype(np.float64) - reference).max()),
        }
        for name, t in times.items()
    }


def measure(argv: list[str]) -> int:
    """The child process: one thread count, every model and batch; prints JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--measure", type=int, required=True)
    parser.add_argument("--models", required=True)
    parser.add_argument("--batch", default="")
    parser.add_argument("--rounds", type=int, required=True)
    parser.add_argument("--warmup", type=int, required=True)
    parser.add_argument("--skip", default="")
    parser.add_argument("--clock", default="wall")
    args = parser.parse_args(argv)
    threads = args.measure
    import onnxruntime as ort
    import torch

    from trtdsl import kernels

    results = []
    skip = set(filter(None, args.skip.split(",")))
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.models.split(","):
            batches = [int(b) for b in args.batch.split(",")] if args.batch else MODELS[name][1]
            for batch in batches:
                runners, notes = make_runners(name, batch, threads, workdir, skip)
                x = np.random.default_rng(0).standard_normal((batch, *MODELS[name][0]))
                x = x.astype(np.float32)
                row = bench(runners, x, args.rounds, args.warmup, args.clock)
                notes = {k: sorted(v) if isinstance(v, set) else v for k, v in notes.items()}
                results.append({"model": name, "batch": batch, "runners": row, "notes": notes})
                del runners
    blas = _blas_info()
    context = {
        "threads": threads,
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "unset"),
        "openblas_core_in_use": blas,
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": platform.processor() or platform.machine(),
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": f"{torch.__version__} ({torch.get_num_threads()} threads)",
        "onnxruntime": ort.__version__,
        "kernel threads": kernels.available_cores(),
        "rounds": args.rounds,
        "clock": args.clock,
    }
    print(json.dumps({"context": context, "results": results}))
    return 0


def _blas_info() -> str:
    try:
        import threadpoolctl
    except ImportError:
        return "unknown (no threadpoolctl)"
    info = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
    return ", ".join(f"{i.get('internal_api')} {i.get('architecture')}" for i in info)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet50,fcn_resnet50,vit_b_16,yolov8n")
    parser.add_argument("--batch", default="", help="e.g. 1,8 (default: per model)")
    parser.add_argument("--threads", default=f"1,{os.cpu_count()}")
    parser.add_argument("--coretype", default="env", help="env, auto (unset) or a core name")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--skip", default="", help="runners to leave out, e.g. emulated")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="cpu: the measuring thread's CPU time (--threads 1 only; for loaded machines)",
    )
    parser.add_argument("--format", choices=("markdown", "json"), default="markdown")
    args = parser.parse_args(argv)
    if args.clock == "cpu" and args.threads != "1":
        parser.error("--clock cpu measures one thread: use it with --threads 1")
    runs = []
    for coretype in args.coretype.split(","):
        for threads in dict.fromkeys(int(t) for t in args.threads.split(",")):
            runs.append(_run_in_process(args, threads, coretype))
    if args.format == "json":
        print(json.dumps(runs, indent=2))
        return 0
    print(format_table(runs))
    return 0


def format_table(runs: list[dict]) -> str:
    """A markdown table of every run: medians, ratios, and the context of each process."""
    lines = [
        "| model | batch | threads | OpenBLAS core | reference ms | emulated ms | onnxruntime ms "
        "| pytorch ms | ref / ort | ref / torch | emulated / ref | max diff (emu, ort, torch) |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        context = run["context"]
        for result in run["results"]:
            r = result["runners"]
            ms = {name: r[name]["median_ms"] if name in r else None for name in RUNNERS}
            ref = ms["reference"]

            def cell(value: float | None, pattern: str = "{:.1f}") -> str:
                return "-" if value is None else pattern.format(value)

            def ratio(a: float | None, b: float | None) -> str:
                return "-" if a is None or b is None else f"{a / b:.2f}x"

            diffs = ", ".join(f"{r[n]['max_abs_diff']:.1e}" if n in r else "-" for n in RUNNERS[1:])
            lines.append(
                f"| {result['model']} | {result['batch']} | {context['threads']} | "
                f"{context['openblas_core_in_use']} | {cell(ref)} | {cell(ms['emulated'])} | "
                f"{cell(ms['onnxruntime'])} | {cell(ms['pytorch'])} | "
                f"{ratio(ref, ms['onnxruntime'])} | {ratio(ref, ms['pytorch'])} | "
                f"{ratio(ms['emulated'], ref)} | {diffs} |"
            )
    lines.append("")
    for run in runs:
        lines.append("context: " + ", ".join(f"{k}={v}" for k, v in run["context"].items()))
    notes = {(r["model"], r["batch"]): r["notes"] for run in runs for r in run["results"]}
    for (model, batch), note in notes.items():
        lines.append(f"notes {model} batch {batch}: " + "; ".join(f"{k}: {v}" for k, v in
                                                                 note.items()))  # fmt: skip
    return "\n".join(lines)


def _run_in_process(args: argparse.Namespace, threads: int, coretype: str) -> dict:
    """One thread count and OpenBLAS core setting in a fresh interpreter."""
    command = [sys.executable, os.path.abspath(__file__), "--measure", str(threads)]
    command += ["--models", args.models, "--rounds", str(args.rounds)]
    command += ["--warmup", str(args.warmup), "--batch", args.batch, "--skip", args.skip]
    command += ["--clock", args.clock]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS=str(threads))
    if coretype == "auto":
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    elif coretype != "env":
        env["OPENBLAS_CORETYPE"] = coretype
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"measuring with {threads} thread(s) failed:\n{done.stderr[-3000:]}")
    result: dict = json.loads(done.stdout.strip().splitlines()[-1])
    result["context"]["coretype_setting"] = coretype
    return result


if __name__ == "__main__":
    sys.exit(measure(sys.argv[1:]) if "--measure" in sys.argv else main())
