"""Benchmark the NumPy reference executor on FCN-ResNet50 at 520x520 and ViT-B/16 at 224x224
against onnxruntime (trtdsl's ONNX export of the same graph) and PyTorch eager (torchvision's
own model code), one run.

All three compute the same outputs from one input with the same weights: torchvision's model
(seeded initialisation, random BatchNorm statistics, eval; nothing downloaded), whose
state_dict binds to the zoo model unchanged. trtdsl and onnxruntime run the batch-norm-folded
graph; PyTorch runs torchvision's model. Runs alternate between the three (one timed run of
each per round); the table gives median latencies and the reference's ratio to each peer.
Threads: ``--threads`` for torch and onnxruntime; OpenBLAS follows OPENBLAS_NUM_THREADS (set
it before running). Needs torch, onnxruntime and torchvision's model code (``pip install
torchvision --no-deps``; its compiled operators are not loaded).

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_dense.py --threads 1 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from trtdsl.backends.onnx_export import export_onnx
from trtdsl.backends.reference import run_reference
from trtdsl.frontend.load import load_model
from trtdsl.passes import fold_batchnorm

MODELS = {"fcn_resnet50": (1, 3, 520, 520), "vit_b_16": (1, 3, 224, 224)}


def torchvision_model(name: str) -> Any:
    """torchvision's ``name`` (no aux head), seeded, BatchNorm statistics randomised, eval."""
    import importlib.util
    import types

    import torch

    if "torchvision" not in sys.modules:
        spec = importlib.util.find_spec("torchvision")
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit("needs torchvision's model code: pip install torchvision --no-deps")
        package = types.ModuleType("torchvision")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["torchvision"] = package
    import torchvision.models as models
    import torchvision.models.segmentation as segmentation

    torch.manual_seed(0)
    if name == "vit_b_16":
        model = models.vit_b_16()
    else:
        model = getattr(segmentation, name)(weights=None, weights_backbone=None, aux_loss=False)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
        if name == "vit_b_16":  # torchvision zero-initialises the head: logits would all be 0
            model.heads.head.weight.normal_(0.0, 0.02)
    return model.eval()


def measure(name: str, shape: tuple[int, ...], threads: int, rounds: int, warmup: int) -> None:
    import onnxruntime as ort
    import torch

    torch.set_num_threads(threads)
    model = torchvision_model(name)
    weights = {
        k: v.detach().numpy() for k, v in model.state_dict().items() if "num_batches" not in k
    }
    graph, folded = fold_batchnorm(load_model(name, {"x": shape}), weights)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    port = graph.outputs[0].name
    with tempfile.TemporaryDirectory() as workdir:
        path = os.path.join(workdir, f"{name}.onnx")
        export_onnx(graph, folded, path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        first = session.get_outputs()[0].name

        def run_torch() -> np.ndarray:
            with torch.no_grad():
                out = model(torch.from_numpy(x))
            return np.asarray((out["out"] if isinstance(out, dict) else out).numpy())

        runners: dict[str, Callable[[], np.ndarray]] = {
            "trtdsl reference": lambda: run_reference(graph, folded, {"x": x})[port],
            "onnxruntime": lambda: np.asarray(session.run([first], {"x": x})[0]),
            "pytorch eager": run_torch,
        }
        outputs = {label: fn() for label, fn in runners.items()}
        times: dict[str, list[float]] = {label: [] for label in runners}
        for index in range(warmup + rounds):
            for label, fn in runners.items():
                start = time.perf_counter()
                fn()
                if index >= warmup:
                    times[label].append((time.perf_counter() - start) * 1e3)
    reference = outputs["trtdsl reference"]
    ref_ms = statistics.median(times["trtdsl reference"])
    size = "x".join(map(str, shape[2:]))
    print(f"\n{name} {size}, batch 1, {threads} thread(s), {rounds} rounds")
    print("| runner | median ms | reference / runner | max abs diff vs reference |")
    print("|---|---:|---:|---:|")
    for label in runners:
        ms = statistics.median(times[label])
        diff = float(np.abs(outputs[label] - reference).max())
        print(f"| {label} | {ms:.1f} | {ref_ms / ms:.2f}x | {diff:.2e} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    print(f"openblas threads: {os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    for name in args.models.split(","):
        measure(name, MODELS[name], args.threads, args.rounds, args.warmup)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main())
