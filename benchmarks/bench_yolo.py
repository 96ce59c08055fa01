"""Benchmark the NumPy reference executor on YOLOv8n at 640x640 against onnxruntime (trtdsl's
ONNX export of the same graph) and PyTorch eager (Ultralytics' own DetectionModel), one run.

All three compute the raw head (1, 84, 8400) from one input with the same weights: Ultralytics'
``DetectionModel("yolov8n.yaml")`` (seeded, random BatchNorm statistics, eval; nothing
downloaded) whose state_dict binds to ``zoo/yolov8n.yaml`` unchanged. trtdsl and onnxruntime
run the batch-norm-folded graph; PyTorch runs Ultralytics' unfused model. Runs alternate
between the three (one timed run of each per round); the table gives median latencies and the
reference's ratio to each peer. Threads: ``--threads`` for torch and onnxruntime; OpenBLAS
follows OPENBLAS_NUM_THREADS (set it before running). Needs torch, onnxruntime and ultralytics
(see tests/ultralytics_support.py).

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_yolo.py --threads 1 --rounds 10
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from trtdsl.backends.onnx_export import export_onnx
from trtdsl.backends.reference import run_reference
from trtdsl.frontend.load import load_model
from trtdsl.passes import fold_batchnorm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    import onnxruntime as ort
    import torch
    from ultralytics_support import detection_model, state_dict_arrays

    torch.set_num_threads(args.threads)
    model = detection_model("yolov8n.yaml")
    weights = {k: v for k, v in state_dict_arrays(model).items() if "num_batches" not in k}
    graph, folded = fold_batchnorm(load_model("yolov8n"), weights)
    x = np.random.default_rng(0).uniform(0, 1, (1, 3, 640, 640)).astype(np.float32)
    with tempfile.TemporaryDirectory() as workdir:
        path = os.path.join(workdir, "yolov8n.onnx")
        export_onnx(graph, folded, path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

        def run_ort() -> np.ndarray:
            return np.asarray(session.run(None, {"x": x})[0])

        def run_torch() -> np.ndarray:
            with torch.no_grad():
                return np.asarray(model(torch.from_numpy(x))[0].numpy())

        def run_trtdsl() -> np.ndarray:
            return run_reference(graph, folded, {"x": x})["output0"]

        runners = {
            "trtdsl reference": run_trtdsl,
            "onnxruntime": run_ort,
            "pytorch eager": run_torch,
        }
        outputs = {name: fn() for name, fn in runners.items()}
        times: dict[str, list[float]] = {name: [] for name in runners}
        for round_index in range(args.warmup + args.rounds):
            for name, fn in runners.items():
                start = time.perf_counter()
                fn()
                if round_index >= args.warmup:
                    times[name].append((time.perf_counter() - start) * 1e3)
    reference = outputs["trtdsl reference"]
    ref_ms = statistics.median(times["trtdsl reference"])
    print(f"yolov8n 640x640, batch 1, {args.threads} thread(s), {args.rounds} rounds")
    print(f"openblas threads: {os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    print("| runner | median ms | reference / runner | max abs diff vs reference |")
    print("|---|---:|---:|---:|")
    for name in runners:
        ms = statistics.median(times[name])
        diff = float(np.abs(outputs[name] - reference).max())
        print(f"| {name} | {ms:.1f} | {ref_ms / ms:.2f}x | {diff:.2e} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
