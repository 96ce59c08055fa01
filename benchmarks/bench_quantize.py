"""INT8/FP8 in the graph: real-builder engines of the zoo, ResNet-50 SQNR per calibration
method, calibration throughput, and digits accuracy against NVIDIA ModelOpt's ONNX PTQ.

    python benchmarks/bench_quantize.py [--sections zoo,resnet50,digits] [--models a,b]
        [--photos N] [--modelopt-python PATH] [--json OUT.json]

Sections (each prints a table; ``--json`` writes every number):

- ``zoo`` (real builder: TensorRT-RTX on this CPU; engines are built, nothing runs): every zoo
  model with seeded random weights at fp16, int8 and fp8 (fp8 for compute capability 89, the
  targets that have FP8). The int8/fp8 builds use a synthetic calibration (amax 4 for every
  quantized tensor): the engine's layers and size do not depend on the scales. Reported: the
  Q/DQ node pairs the quantization pass inserted (activations), TensorRT's QUANTIZE/DEQUANTIZE
  layers (activations and weights), the engine layers the builder reports with INT8 (or FP8)
  inputs, and the engine bytes beside fp16.
- ``resnet50`` (NumPy reference): ResNet-50 with seeded weights whose batch-norm statistics
  are set from the data (each BN's running mean/var are its input's statistics on the
  calibration photos, in graph order), so that activations stay normalised through 50 layers
  as in a trained network. Photos: scikit-learn's two bundled photos, each as 5 crops (4
  corners and the centre of a 256 resize) and their mirror images (20 images); calibration on
  the 10 crops of ``flower.jpg``'s and ``china.jpg``'s even-numbered variants, evaluation on the
  other 10. Reported per method: the SQNR (dB) of INT8 and FP8 logits against fp32 (the
  quantized graph run by the reference, float32 elsewhere), and calibration throughput
  (images/s, end to end: executor, histograms, amax; ``--executor``, default auto; the
  figures recorded before issue 20 are the NumPy reference's).
- ``digits``: the CNN of tests/test_quantize_digits.py trained on scikit-learn's digits
  (centred to [-0.5, 0.5] since issue 20);
  top-1 of fp32 and of INT8 per method (reference, float32 elsewhere; and the emulated
  TensorRT path, float16 elsewhere), calibration seconds; and, with ``--modelopt-python`` (a
  Python where ``nvidia-modelopt[onnx]`` imports), ModelOpt's ``modelopt.onnx.quantization.
  quantize`` on trtdsl's ONNX export of the same model with the same training split
  (``calibration_eps=["cpu"]``), its QDQ model evaluated by onnxruntime on the test split.

One ``trt.ILogger`` object serves the process (``shared_logger``). Not run in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))  # this checkout's trtdsl

from trtdsl.backends.reference import node_params, run_reference  # noqa: E402
from trtdsl.backends.trt import BuildConfig, emit_network, import_trt, prepare_graph  # noqa: E402
from trtdsl.backends.trt.build import build_network  # noqa: E402
from trtdsl.calibration import (  # noqa: E402
    Calibration,
    CalibrationData,
    Method,
    calibrate,
    graph_digest,
    weights_digest,
)
from trtdsl.frontend.load import load_model, zoo_models  # noqa: E402
from trtdsl.ir.graph import Graph  # noqa: E402
from trtdsl.ir.ops.normalization import BatchNorm2d  # noqa: E402
from trtdsl.ir.ops.quantize import Dequantize, Quantize  # noqa: E402
from trtdsl.passes.quantize import plan_quantization  # noqa: E402
from trtdsl.weights import random_weights  # noqa: E402

METHODS = ("entropy", "max", "percentile", "mse")


def synthetic_calibration(
    graph: Graph, weights: Mapping[str, np.ndarray], amax: float = 4.0
) -> Calibration:
    from trtdsl.passes.fold_bn import fold_batchnorm

    folded, _ = fold_batchnorm(graph, weights)
    return Calibration(
        Method("max"),
        {v: amax for v in plan_quantization(folded).values},
        {},
        {"name": graph.name, "graph_sha256": graph_digest(graph)},
        {"sha256": weights_digest(weights)},
        {"kind": "synthetic"},
    )


# -- zoo ---------------------------------------------------------------------------------------


def bench_zoo(models: list[str]) -> list[dict[str, Any]]:
    trt = import_trt("tensorrt-rtx")
    rows = []
    for name in models:
        graph = load_model(name)
        weights = random_weights(graph, 0)
        calibration = synthetic_calibration(graph, weights)
        row: dict[str, Any] = {"model": name}
        for precision, targets in (("fp16", ()), ("int8", ()), ("fp8", (89,))):
            start = time.perf_counter()
            try:
                kwargs = {"calibration": calibration} if precision != "fp16" else {}
                prepared, prepared_weights = prepare_graph(graph, weights, precision, **kwargs)
                emitted = emit_network(trt, prepared, prepared_weights)
                kinds = Counter(
                    int(emitted.network.get_layer(i).type) for i in range(emitted.num_layers)
                )
                result = build_network(
                    emitted,
                    BuildConfig(compute_capabilities=targets),  # type: ignore[call-arg]
                )
            except Exception as e:  # noqa: BLE001  (a failed build is a result here)
                row[precision] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}
                continue
            nodes = Counter(type(n.op) for n in prepared.nodes)
            marker = "Datatype: Int8" if precision == "int8" else "Datatype: FP8"
            row[precision] = {
                "engine_bytes": len(result.plan),
                "network_layers": emitted.num_layers,
                "qdq_pairs": nodes[Quantize],
                "dq_nodes": nodes[Dequantize],
                "trt_quantize_layers": kinds[int(trt.LayerType.QUANTIZE)],
                "trt_dequantize_layers": kinds[int(trt.LayerType.DEQUANTIZE)],
                "engine_layers": len(result.layer_information),
                "engine_layers_quantized_inputs": sum(
                    marker in line.split("Outputs:")[0] for line in result.layer_information
                ),
                "build_seconds": round(result.seconds, 2),
                "total_seconds": round(time.perf_counter() - start, 2),
                "targets": list(targets) or "default",
            }
            del emitted, result
        rows.append(row)
        print(_zoo_line(row), flush=True)
    return rows


def _zoo_line(row: dict[str, Any]) -> str:
    parts = [f"{row['model']:<28}"]
    fp16 = row.get("fp16", {}).get("engine_bytes")
    for precision in ("fp16", "int8", "fp8"):
        r = row.get(precision, {})
        if "error" in r:
            parts.append(f"{precision}: FAILED ({r['error']})")
            continue
        size = r["engine_bytes"] / 1e6
        ratio = f" ({r['engine_bytes'] / fp16:.2f}x fp16)" if fp16 and precision != "fp16" else ""
        qdq = (
            f", {r['qdq_pairs']} Q/DQ pairs, {r['trt_quantize_layers']}+"
            f"{r['trt_dequantize_layers']} TRT Q+DQ layers, "
            f"{r['engine_layers_quantized_inputs']}/{r['engine_layers']} engine layers "
            f"with {precision} inputs"
            if precision != "fp16"
            else ""
        )
        parts.append(f"{precision}: {size:.1f} MB{ratio}{qdq}, build {r['build_seconds']} s")
    return " | ".join(parts)


# -- ResNet-50 SQNR ------------------------------------------------------------------------------


def photo_crops(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's photos as (calibration, evaluation) float32 NCHW batches of 10 each."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    from trtdsl.calibration.data import IMAGENET_MEAN, IMAGENET_STD

    images = []
    for array in load_sample_images().images:
        image = Image.fromarray(array)
        w, h = image.size
        image = image.resize((round(w * 256 / min(w, h)), round(h * 256 / min(w, h))))
        pixels = np.asarray(image, dtype=np.float32) / 255.0
        hh, ww = pixels.shape[:2]
        for top, left in ((0, 0), (0, ww - 224), (hh - 224, 0), (hh - 224, ww - 224),
                          ((hh - 224) // 2, (ww - 224) // 2)):  # fmt: skip
            crop = pixels[top : top + 224, left : left + 224]
            for flipped in (crop, crop[:, ::-1]):
                x = (flipped - np.float32(IMAGENET_MEAN)) / np.float32(IMAGENET_STD)
                images.append(np.ascontiguousarray(x.transpose(2, 0, 1)))
    batch = np.stack(images).astype(np.float32)
    return batch[0::2], batch[1::2]


def data_bn_weights(
    graph: Graph, weights: dict[str, np.ndarray], x: np.ndarray
) -> dict[str, np.ndarray]:
    """``weights`` with every BN's running mean/var set to its input's per-channel statistics on
    ``x`` (in graph order, one pass): the activations of a trained network's scale."""
    weights = dict(weights)
    values: dict[str, np.ndarray] = {graph.inputs[0]: x}
    for node in graph.nodes:
        args = [values[v] for v in node.inputs]
        if isinstance(node.op, BatchNorm2d):
            weights[f"{node.name}.running_mean"] = args[0].mean(axis=(0, 2, 3)).astype(np.float32)
            weights[f"{node.name}.running_var"] = args[0].var(axis=(0, 2, 3)).astype(np.float32)
        out = node.op.reference(args, node_params(graph, node, weights))
        for v, a in zip(node.outputs, out if isinstance(out, tuple) else (out,), strict=True):
            values[v] = a
    return weights


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    noise = float(np.sum((test.astype(np.float64) - reference) ** 2))
    signal = float(np.sum(reference.astype(np.float64) ** 2))
    return float("inf") if noise == 0 else 10 * np.log10(signal / noise)


def bench_resnet50(executor: str = "auto") -> dict[str, Any]:
    graph = load_model("resnet50")
    calib_x, eval_x = photo_crops(Path(tempfile.mkdtemp()))
    weights = data_bn_weights(graph, random_weights(graph, 0), calib_x)
    fp32 = run_reference(graph, weights, {"x": eval_x})["logits"]
    results: dict[str, Any] = {"images": {"calibration": len(calib_x), "evaluation": len(eval_x)}}
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "calib.npy", calib_x)
        for method in METHODS:
            data = CalibrationData(Path(tmp) / "calib.npy", graph)
            start = time.perf_counter()
            calibration = calibrate(graph, weights, data, method, batch_size=5, executor=executor)
            seconds = time.perf_counter() - start
            row: dict[str, Any] = {
                "calibration_seconds": round(seconds, 2),
                "images_per_second": round(len(calib_x) / seconds, 3),
            }
            for precision in ("int8", "fp8"):
                q, qw = prepare_graph(
                    graph, weights, precision, calibration=calibration, fallback="fp32"
                )
                logits = run_reference(q, qw, {"x": eval_x})["logits"]
                row[f"{precision}_sqnr_db"] = round(sqnr_db(fp32, logits), 2)
                row[f"{precision}_top1_agreement"] = float(
                    (logits.argmax(1) == fp32.argmax(1)).mean()
                )
            results[method] = row
            print(f"resnet50 {method:<10} {row}", flush=True)
    return results


# -- digits and ModelOpt ------------------------------------------------------------------------


MODELOPT_SCRIPT = r"""
import json, sys, time
import numpy as np
onnx_path, calib_path, out_path, method = sys.argv[1:5]
from modelopt.onnx.quantization import quantize
start = time.perf_counter()
quantize(onnx_path, quantize_mode="int8", calibration_data=np.load(calib_path),
         calibration_method=method, calibration_eps=["cpu"], output_path=out_path)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def bench_digits(modelopt_python: str | None) -> dict[str, Any]:
    from test_quantize_digits import DIGITS_YAML, train_digits_cnn

    from trtdsl.backends.trt import build_engine
    from trtdsl.debug.check import run_plan

    tmp = Path(tempfile.mkdtemp())
    state, (x_train, _, x_test, y_test) = train_digits_cnn()
    (tmp / "digits.yaml").write_text(DIGITS_YAML)
    graph = load_model(tmp / "digits.yaml")
    weights = {k: v for k, v in state.items() if k in {key for key, *_ in graph.params()}}
    np.save(tmp / "train.npy", x_train)

    def top1(logits: np.ndarray) -> float:
        return float((logits.argmax(1) == y_test).mean())

    results: dict[str, Any] = {"fp32": top1(run_reference(graph, weights, {"x": x_test})["logits"])}
    trt = import_trt("emulated")
    for method in METHODS:
        start = time.perf_counter()
        calibration = calibrate(
            graph, weights, CalibrationData(tmp / "train.npy", graph), method, 256
        )
        seconds = time.perf_counter() - start
        q, qw = prepare_graph(graph, weights, "int8", calibration=calibration, fallback="fp32")
        e, ew = prepare_graph(graph, weights, "int8", calibration=calibration)
        plan = build_engine(emit_network(trt, e, ew), BuildConfig())
        results[method] = {
            "int8_top1_reference": top1(run_reference(q, qw, {"x": x_test})["logits"]),
            "int8_top1_emulated_fp16": top1(run_plan(trt, plan, {"x": x_test})["logits"]),
            "calibration_seconds": round(seconds, 3),
        }
        print(f"digits {method:<10} {results[method]} (fp32 {results['fp32']:.4f})", flush=True)
    results["modelopt"] = bench_modelopt(graph, weights, tmp, x_test, top1, modelopt_python)
    return results


def bench_modelopt(
    graph: Graph, weights: Mapping[str, np.ndarray], tmp: Path, x_test: np.ndarray,
    top1: Any, python: str | None,
) -> dict[str, Any]:  # fmt: skip
    if not python:
        return {"skipped": "no --modelopt-python given"}
    import onnxruntime as ort

    from trtdsl.backends.onnx_export import export_onnx
    from trtdsl.passes.fold_bn import fold_batchnorm

    # ModelOpt quantizes a float model: trtdsl's export with batch norms folded (as TensorRT
    # would fold them) and a fixed batch for the calibration data it is given.
    folded, folded_weights = fold_batchnorm(graph, weights)
    export_onnx(folded, folded_weights, tmp / "digits.onnx", opset=17)
    script = tmp / "modelopt_quantize.py"
    script.write_text(MODELOPT_SCRIPT)
    out: dict[str, Any] = {}
    for method in ("max", "entropy"):
        target = tmp / f"digits.modelopt.{method}.onnx"
        run = subprocess.run(
            [python, str(script), str(tmp / "digits.onnx"), str(tmp / "train.npy"), str(target),
             method],
            capture_output=True, text=True,
        )  # fmt: skip
        if run.returncode:
            tail = (run.stderr or run.stdout).strip().splitlines()[-3:]
            out[method] = {"error": " | ".join(tail)}
            print(f"modelopt {method}: FAILED: {out[method]['error']}", flush=True)
            continue
        seconds = json.loads(run.stdout.strip().splitlines()[-1])["seconds"]
        options = ort.SessionOptions()
        session = ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
        logits = session.run(None, {"x": x_test})[0]
        out[method] = {
            "int8_top1_onnxruntime": top1(logits),
            "calibration_seconds": round(seconds, 3),
        }
        print(f"modelopt {method:<10} {out[method]}", flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", default="zoo,resnet50,digits")
    parser.add_argument("--models", help="zoo models (default: all)")
    parser.add_argument("--modelopt-python", help="a Python with nvidia-modelopt[onnx]")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument(
        "--executor", default="auto", help="calibration executor of the resnet50 section"
    )
    args = parser.parse_args()
    sections = args.sections.split(",")
    results: dict[str, Any] = {}
    if "zoo" in sections:
        models = args.models.split(",") if args.models else zoo_models()
        results["zoo"] = bench_zoo(models)
    if "resnet50" in sections:
        results["resnet50"] = bench_resnet50(args.executor)
    if "digits" in sections:
        results["digits"] = bench_digits(args.modelopt_python)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    sys.exit(main())
