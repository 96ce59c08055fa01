"""ResNet-50 from YAML to a fully emitted TensorRT network (no build), vs peers in the same run.

    python benchmarks/bench_emit.py [--repeat 7] [--model resnet50] [--format json]

Setup (not timed): seeded random weights for the zoo model are written to a temporary
safetensors file (~98 MiB for ResNet-50), and the same model and weights as an ONNX file.
Then each method runs in a fresh subprocess, so that its memory figures are its own:

- ``trtdsl``: parse the YAML (``load_model``), bind the weights file (``load_weights``:
  zero-copy memory map), fold batch norms and make precision explicit (``prepare_graph``),
  emit every layer into an INetworkDefinition (``emit_network``). TensorRT is absent here, so
  trtdsl's emulator's network stands in for TensorRT's (emulated): the figures measure
  trtdsl's own work plus the emulator's bookkeeping, not TensorRT's.
- ``torch``: build the same ResNet-50 as ``torch.nn`` modules (torchvision's layout) and
  ``load_state_dict`` the tensors of the same file (``safetensors.torch.load_file``).
- ``torch-meta``: the fast idiom: construct on the ``meta`` device, then
  ``load_state_dict(..., assign=True)`` (no random init, no copy into the parameters).
- ``onnxruntime``: create an ``onnxruntime.InferenceSession`` from the ONNX file of the same
  model (graph optimisations included; its own weights parsing).

Time: median and min of ``--repeat`` runs in one process (files in the page cache). Memory:
the first run's peak RSS growth over the process's RSS after imports (VmHWM reset through
/proc/self/clear_refs where the kernel allows, else the first run is the first use), next to
the weights' size. Goals for trtdsl: <= 150 ms and peak RSS growth <= 2x the weights.
Not run in tests.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

GOAL_MS = 150.0
GOAL_RSS_RATIO = 2.0
METHODS = ("trtdsl", "torch", "torch-meta", "onnxruntime")


def _status() -> dict[str, int]:
    """Selected /proc/self/status fields in KiB (Linux)."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                fields[name] = int(value.split()[0])
    return fields


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _torch_resnet50(torch: Any) -> Any:
    """torchvision's ResNet-50 (Bottleneck [3, 4, 6, 3]) with the same state_dict keys."""
    nn = torch.nn

    class Bottleneck(nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self, inplanes: int, planes: int, stride: int, downsample: bool) -> None:
            super().__init__()
            width = planes
            self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, planes * 4, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes * 4)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = (
                nn.Sequential(
                    nn.Conv2d(inplanes, planes * 4, 1, stride, bias=False),
                    nn.BatchNorm2d(planes * 4),
                )
                if downsample
                else None
            )

        def forward(self, x: Any) -> Any:
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            return self.relu(self.bn3(self.conv3(out)) + identity)

    class ResNet50(nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            inplanes = 64
            for i, (planes, blocks) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3))):
                stride = 1 if i == 0 else 2
                layers = [Bottleneck(inplanes, planes, stride, True)]
                inplanes = planes * 4
                layers += [Bottleneck(inplanes, planes, 1, False) for _ in range(blocks - 1)]
                setattr(self, f"layer{i + 1}", nn.Sequential(*layers))
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(2048, 1000)

    return ResNet50


def worker(method: str, yaml_path: str, weights_path: str, onnx_path: str, repeat: int) -> dict:
    """Run one method ``repeat`` times; timings in ms, memory in MiB."""
    if method == "trtdsl":
        import trtdsl.emulator as trt
        from trtdsl.backends.trt import emit_network, prepare_graph
        from trtdsl.frontend.load import load_model
        from trtdsl.weights import load_weights

        def once() -> Any:
            graph = load_model(yaml_path)
            bound = load_weights(weights_path, graph)
            prepared, weights = prepare_graph(graph, bound.arrays)
            return emit_network(trt, prepared, weights)

    elif method in ("torch", "torch-meta"):
        import torch
        from safetensors.torch import load_file

        model_class = _torch_resnet50(torch)

        def once() -> Any:
            state = load_file(weights_path)
            if method == "torch-meta":
                with torch.device("meta"):
                    model = model_class()
                result = model.load_state_dict(state, strict=False, assign=True)
            else:
                model = model_class()
                result = model.load_state_dict(state, strict=False)
            assert not result.unexpected_keys, result.unexpected_keys
            assert all(k.endswith("num_batches_tracked") for k in result.missing_keys)
            return model.eval()

    elif method == "onnxruntime":
        import onnxruntime

        def once() -> Any:
            return onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])

    else:
        raise SystemExit(f"unknown method {method}")

    gc.collect()
    before = _status()
    reset = _reset_peak()
    start = time.perf_counter()
    result = once()
    first_ms = (time.perf_counter() - start) * 1e3
    peak = _status()
    del result
    gc.collect()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = once()
        times.append((time.perf_counter() - start) * 1e3)
        del result
        gc.collect()
    return {
        "method": method,
        "first_ms": first_ms,
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "peak_growth_mib": (peak["VmHWM"] - before["VmRSS"]) / 1024,
        "anon_growth_mib": (peak["RssAnon"] - before["RssAnon"]) / 1024,
        "peak_reset": reset,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--worker", nargs=4, metavar=("METHOD", "YAML", "WEIGHTS", "ONNX"))
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker, args.repeat)))
        return 0

    from safetensors.numpy import save_file

    from trtdsl.backends.onnx_export import export_onnx
    from trtdsl.frontend.load import load_model, resolve_model_path
    from trtdsl.weights import random_weights

    yaml_path = str(resolve_model_path(args.model))
    graph = load_model(yaml_path)
    weights = random_weights(graph)
    weights_mib = sum(a.nbytes for a in weights.values()) / 2**20
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        weights_path = os.path.join(tmp, "weights.safetensors")
        onnx_path = os.path.join(tmp, "model.onnx")
        save_file(weights, weights_path)
        export_onnx(graph, weights, onnx_path)
        del weights
        for method in args.methods.split(","):
            done = subprocess.run(
                [sys.executable, __file__, "--repeat", str(args.repeat), "--worker", method,
                 yaml_path, weights_path, onnx_path],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                print(f"{method}: failed\n{done.stderr}", file=sys.stderr)
                continue
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    report = {"model": args.model, "weights_mib": weights_mib, "methods": rows}
    trtdsl_row = next((r for r in rows if r["method"] == "trtdsl"), None)
    if trtdsl_row:
        report["goal_ms"] = GOAL_MS
        report["goal_peak_growth_mib"] = GOAL_RSS_RATIO * weights_mib
        report["meets_time_goal"] = trtdsl_row["median_ms"] <= GOAL_MS
        report["meets_memory_goal"] = trtdsl_row["peak_growth_mib"] <= GOAL_RSS_RATIO * weights_mib
    if args.format == "json":
        print(json.dumps(report, indent=2))
        return 0
    print(f"{args.model}: weights {weights_mib:.1f} MiB; times in ms over {args.repeat} runs")
    header = ("method", "first", "median", "min", "peak RSS +MiB", "anon +MiB")
    print("{:<12} {:>8} {:>8} {:>8} {:>14} {:>10}".format(*header))
    for r in rows:
        print(
            f"{r['method']:<12} {r['first_ms']:8.1f} {r['median_ms']:8.1f} {r['min_ms']:8.1f} "
            f"{r['peak_growth_mib']:14.1f} {r['anon_growth_mib']:10.1f}"
        )
    if trtdsl_row:
        print(
            f"trtdsl (emulated network): goal <= {GOAL_MS:.0f} ms: "
            f"{'met' if report['meets_time_goal'] else 'NOT met'}; peak RSS growth <= "
            f"{GOAL_RSS_RATIO:g}x weights ({GOAL_RSS_RATIO * weights_mib:.0f} MiB): "
            f"{'met' if report['meets_memory_goal'] else 'NOT met'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
