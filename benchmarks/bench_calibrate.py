"""Calibration throughput per executor and worker count beside onnxruntime's plain inference of
the same export, and INT8 quality against NVIDIA ModelOpt's ONNX PTQ (issue 20).

    python benchmarks/bench_calibrate.py [--models resnet50,yolov8n] [--photos 256]
        [--held-out 32] [--workers 1,2] [--reference-photos 16] [--modelopt-python PATH]
        [--sections distributions,throughput,observers,quality] [--json OUT.json]
        [--markdown OUT.md] [--rounds 10]

Photos: random crops (scale 0.1-1, aspect 3:4-4:3), mirrors and colour jitter of
scikit-learn's two bundled photos (``china.jpg``, ``flower.jpg``) written as JPEGs, or, where
scikit-learn is absent, seeded synthetic photos (smooth colour fields, shapes and noise); the
output says which. Nothing is downloaded. They are preprocessed once by trtdsl (the model's
``preprocess:``: ImageNet's resize/crop for ResNet-50, Ultralytics' letterbox for YOLOv8n) into
``.npy`` files: calibration reads those (memory-mapped), so both sides of a ratio run the model
on the same arrays and neither decodes JPEGs. Weights: seeded, with every batch norm's running
statistics set from 8 photos (``bench_quantize.data_bn_weights``), so activations have a
trained network's scale.

``distributions``: the distributions of tests/test_calibration_methods.py (discrete levels, a
spike at the edge, signed, one-sided, a single outlier, heavy tails, ReLU, SiLU, ...): the
SQNR (dB) of each trtdsl method, of onnxruntime's calibrators (their default configuration,
which ModelOpt's ONNX PTQ uses) and, with ``--modelopt-python``, of ModelOpt's PyTorch
calibrators (``HistogramCalibrator`` entropy/mse/percentile 99.99, ``MaxCalibrator``); a
calibrator that fails or returns no amax is shown as what it returned.

``throughput`` (per model, per worker count W in ``--workers``, default 1 and the cores):

- ``onnxruntime`` (the peer): one session of trtdsl's ONNX export of the folded float32 graph,
  ``intra_op_num_threads=W``, batches of 8 over the calibration photos; measured just before
  and just after each trtdsl row, the mean of the two is the ratio's denominator.
- ``trtdsl onnxruntime``: ``calibrate(..., executor="onnxruntime", workers=W)`` end to end
  (export, session, every batch, histograms, amax: the whole call), and steady (the batches
  only: from the end of the first wave of batches, one per worker, to the last's, per image).
  Both sides also report this process's CPU time per image (all threads): on a machine shared
  with other work, the CPU ratio at one worker is what the wall-clock ratio would be
  on a quiet core.
- ``trtdsl reference``: the NumPy reference, batches of one, on ``--reference-photos`` photos
  (default: 4 per worker of the largest count, at least 16; it is slower); its scaling is its
  steady rate at W workers over its rate at 1, in the same run.
- ``trtdsl engine``: only where ``auto`` would pick an engine (a GPU that runs one).

``observers`` (per model): what the onnxruntime executor's observing nodes cost. One session
each (one thread, batches of 8 of the calibration photos, rounds interleaved, the order
reversed every other round): the plain export; ``augmented_model``'s graph; and the same graph
with its output leaves removed (the observed tensors themselves made the outputs), which lets
onnxruntime order the observers as it likes (in 1.30 to 1.32: after the whole network). Median
CPU milliseconds per image of the calling thread, and the ratio to the plain export.

``quality``: trtdsl's scales per method (entropy, max, percentile, mse; onnxruntime executor,
all cores) and ModelOpt's (``modelopt.onnx.quantization.quantize(quantize_mode="int8",
calibration_method=entropy|max, calibration_eps=["cpu"], calibration_shapes=batch 8)`` on the
same export and photos, ``high_precision_dtype="fp32"`` so that both INT8 models compute in
float32 outside their Q/DQ pairs, in the Python of ``--modelopt-python``; skipped, with the
reason, without one): seconds, and the SQNR (dB) of the INT8 model's outputs against fp32 on
the held-out photos, both INT8 models (trtdsl's ONNX export of its quantized graph, and
ModelOpt's QDQ model) run by onnxruntime two ways: as written (no graph optimizations: the
Q/DQ arithmetic the ONNX operators define, which TensorRT also follows) and optimized (its
default session, which fuses Q/DQ and quantizes biases to int32). Each SQNR comes with its
spread over copies of the model whose activation scales move by about 1e-5 (``sqnr_spread``):
two calibrations of the same method differ by that much through how each computed its
activations, and the SQNR moves by a tenth of a dB or more with it.

Prints one markdown table per section (and ``--json``/``--markdown`` write them). Not run in
tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))  # this checkout's trtdsl

from bench_quantize import data_bn_weights, sqnr_db  # noqa: E402
from machine import cpu_model  # noqa: E402

from trtdsl.backends.onnx_export import to_onnx_model  # noqa: E402
from trtdsl.backends.trt import prepare_graph  # noqa: E402
from trtdsl.calibration import CalibrationData, Preprocess, calibrate  # noqa: E402
from trtdsl.calibration.data import read_model_preprocess  # noqa: E402
from trtdsl.calibration.executors import auto_executor  # noqa: E402
from trtdsl.calibration.workers import default_workers  # noqa: E402
from trtdsl.frontend.load import load_model, resolve_model_path  # noqa: E402
from trtdsl.ir.graph import Graph  # noqa: E402
from trtdsl.passes.fold_bn import fold_batchnorm  # noqa: E402
from trtdsl.weights import random_weights  # noqa: E402

METHODS = ("entropy", "max", "percentile", "mse")
BATCH = 8


# -- photos --------------------------------------------------------------------------------------


def _source_photos() -> tuple[list[Any], str]:
    """PIL images to crop from, and what they are."""
    from PIL import Image

    try:
        from sklearn.datasets import load_sample_images
    except ImportError:
        rng = np.random.default_rng(0)
        images = []
        for _ in range(4):
            low = rng.uniform(0, 255, (6, 8, 3)).astype(np.uint8)
            field = np.asarray(Image.fromarray(low).resize((640, 480), Image.Resampling.BICUBIC))
            field = field.astype(np.float32) + rng.normal(0, 12, field.shape)
            yy, xx = np.mgrid[:480, :640]
            for _ in range(12):
                cy, cx, r = rng.uniform(0, 480), rng.uniform(0, 640), rng.uniform(20, 120)
                field[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] = rng.uniform(0, 255, 3)
            images.append(Image.fromarray(np.clip(field, 0, 255).astype(np.uint8)))
        return images, "synthetic photos (scikit-learn absent): colour fields, discs, noise"
    bunch = load_sample_images()
    return [Image.fromarray(a) for a in bunch.images], "scikit-learn's china.jpg and flower.jpg"


def write_photos(folder: Path, count: int, seed: int) -> str:
    """``count`` JPEGs of random crops of the source photos in ``folder``; returns the source."""
    from PIL import Image, ImageEnhance

    sources, what = _source_photos()
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(count):
        image = sources[k % len(sources)]
        w, h = image.size
        area = rng.uniform(0.1, 1.0) * w * h
        aspect = float(np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3))))
        cw = int(min(w, max(32, round(np.sqrt(area * aspect)))))
        ch = int(min(h, max(32, round(np.sqrt(area / aspect)))))
        left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        crop = image.crop((left, top, left + cw, top + ch))
        if rng.random() < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        crop = ImageEnhance.Brightness(crop).enhance(float(rng.uniform(0.7, 1.3)))
        crop = ImageEnhance.Color(crop).enhance(float(rng.uniform(0.7, 1.3)))
        crop.save(folder / f"photo{k:04d}.jpg", quality=90)
    return what


def photo_arrays(graph: Graph, model: str, folder: Path) -> np.ndarray:
    """The photos of ``folder`` preprocessed as the model declares, as one float32 batch."""
    declared = read_model_preprocess(resolve_model_path(model))
    data = CalibrationData(folder, graph, Preprocess.from_mapping(declared, model))
    return np.concatenate([batch["x"] for _, batch in data.batches(32)])


# -- throughput ----------------------------------------------------------------------------------


def ort_session(model: Any, threads: int, optimized: bool = True) -> Any:
    """An onnxruntime CPU session; ``optimized=False`` runs the graph as written (no graph
    optimizations: Q/DQ pairs computed as the ONNX operators define them)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    if not optimized:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def ort_images_per_second(session: Any, x: np.ndarray) -> tuple[float, float]:
    """Plain inference over ``x`` in batches of BATCH (after one warm-up batch): images/s
    and this process's CPU milliseconds per image (all threads)."""
    session.run(None, {"x": x[:BATCH]})
    start, cpu = time.perf_counter(), time.process_time()
    for first in range(0, len(x), BATCH):
        session.run(None, {"x": x[first : first + BATCH]})
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return len(x) / seconds, 1000 * cpu / len(x)


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the reference's worker
    processes), all threads."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed_calibration(
    graph: Graph, weights: Mapping[str, np.ndarray], npy: Path, batch: int = BATCH,
    **options: Any,
) -> dict[str, Any]:  # fmt: skip
    """``calibrate`` end to end and in steady state (images/s: from the end of the first wave
    of batches, one per worker, to the last batch's end; NaN with fewer than two waves), from
    its progress calls."""
    marks: list[tuple[float, int]] = []
    options_workers = int(options.get("workers", 1))
    data = CalibrationData(npy, graph)
    start, cpu = time.perf_counter(), _cpu_seconds()
    result = calibrate(
        graph, weights, data, options.pop("method", "entropy"), batch,
        lambda done, total: marks.append((time.perf_counter(), done)), **options,
    )  # fmt: skip
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    # From the end of the first wave (every worker's first batch done, they start together)
    # to the last batch: earlier marks would count a whole wave's images in a moment's time.
    steady = float("nan")
    wave = options_workers * batch
    after_wave = [(t, d) for t, d in marks if d >= wave]
    if len(after_wave) >= 2:
        (t0, d0), (t1, d1) = after_wave[0], after_wave[-1]
        steady = (d1 - d0) / (t1 - t0) if t1 > t0 else float("nan")
    return {
        "images": data.samples,
        "seconds": round(seconds, 3),
        "end_to_end": round(data.samples / seconds, 3),
        "steady": round(steady, 3),
        "cpu_ms_per_image": round(1000 * cpu / data.samples, 1),
        "executor": result.executor or "",
    }


def bench_throughput(
    name: str, graph: Graph, weights: Mapping[str, np.ndarray], npy: Path, x: np.ndarray,
    workers: list[int], reference_photos: int, tmp: Path,
) -> list[dict[str, Any]]:  # fmt: skip
    folded, folded_weights = fold_batchnorm(graph, weights)
    exported = to_onnx_model(folded, folded_weights).SerializeToString()
    small = tmp / f"{name}.reference.npy"
    np.save(small, x[:reference_photos])
    engine_ok = auto_executor()[0] == "engine"
    rows = []
    reference_one: float | None = None
    for w in workers:
        session = ort_session(exported, w)
        before, cpu_before = ort_images_per_second(session, x)
        ours = timed_calibration(graph, weights, npy, executor="onnxruntime", workers=w)
        after, cpu_after = ort_images_per_second(session, x)
        peer, peer_cpu = (before + after) / 2, (cpu_before + cpu_after) / 2
        row: dict[str, Any] = {
            "model": name,
            "workers": w,
            "ort_images_per_s": round(peer, 3),
            "ort_runs": [round(before, 3), round(after, 3)],
            "ort_cpu_ms_per_image": round(peer_cpu, 1),
            "trtdsl_onnxruntime": ours,
            "ratio_end_to_end": round(ours["end_to_end"] / peer, 3),
            "ratio_steady": round(ours["steady"] / peer, 3),
            "cpu_ratio": round(peer_cpu / ours["cpu_ms_per_image"], 3),
        }
        reference = timed_calibration(
            graph, weights, small, batch=1, executor="reference", workers=w
        )
        row["trtdsl_reference"] = reference
        if reference_one is None:
            reference_one = reference["steady"]
        row["reference_scaling_steady"] = round(reference["steady"] / reference_one, 3)
        if engine_ok:
            row["trtdsl_engine"] = timed_calibration(graph, weights, npy, executor="engine",
                                                     workers=w)  # fmt: skip
        else:
            row["trtdsl_engine"] = {"skipped": auto_executor()[1]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


# -- observers -----------------------------------------------------------------------------------


def bench_observers(
    name: str, graph: Graph, weights: Mapping[str, np.ndarray], npy: Path, rounds: int
) -> dict[str, Any]:
    """CPU ms per image of the plain export, the augmented graph and the augmented graph
    without its leaf order, one thread, interleaved (module docstring)."""
    from onnx import helper

    from trtdsl.calibration.calibrate import sample_plans
    from trtdsl.calibration.executors import Targets
    from trtdsl.calibration.executors.ort import augmented_model
    from trtdsl.calibration.histogram import SAMPLE_VALUES
    from trtdsl.passes.quantize import plan_quantization

    folded, folded_weights = fold_batchnorm(graph, weights)
    values = plan_quantization(folded).values
    data = CalibrationData(npy, graph)
    augmented, observed = augmented_model(
        Targets(folded, sample_plans(folded, values, data, SAMPLE_VALUES)), folded_weights
    )
    leaves = {leaf for found in observed.values() for leaf in found.values()}
    unordered = type(augmented)()
    unordered.CopyFrom(augmented)
    kept = [n for n in unordered.graph.node if n.output[0] not in leaves]
    tensors = [n.input[0] for n in unordered.graph.node if n.output[0] in leaves]
    del unordered.graph.node[:], unordered.graph.output[:]
    unordered.graph.node.extend(kept)
    unordered.graph.output.extend(helper.make_tensor_value_info(t, 1, None) for t in tensors)
    sessions = {
        "plain": ort_session(to_onnx_model(folded, folded_weights).SerializeToString(), 1),
        "augmented": ort_session(augmented.SerializeToString(), 1),
        "augmented, leaves removed": ort_session(unordered.SerializeToString(), 1),
    }
    x = np.load(npy, mmap_mode="r")[:BATCH].copy()
    times: dict[str, list[float]] = {key: [] for key in sessions}
    for session in sessions.values():
        session.run(None, {"x": x})
    for r in range(rounds):
        for key in list(sessions) if r % 2 == 0 else list(reversed(sessions)):
            start = time.thread_time()
            sessions[key].run(None, {"x": x})
            times[key].append(1000 * (time.thread_time() - start) / len(x))
    medians = {key: float(np.median(t)) for key, t in times.items()}
    found = {key: {"cpu_ms_per_image": round(m, 2), "x_plain": round(m / medians["plain"], 3)}
             for key, m in medians.items()}  # fmt: skip
    print(json.dumps({"model": name, "observers": found}), flush=True)
    return found


def observers_table(name: str, found: dict[str, Any]) -> str:
    rows = [f"| {name} | {key} | {v['cpu_ms_per_image']} | {v['x_plain']}x |"
            for key, v in found.items()]  # fmt: skip
    head = "| model | graph | CPU ms/img (1 thread) | x plain |\n|---|---|---:|---:|"
    return "\n".join([head, *rows])


# -- quality -------------------------------------------------------------------------------------

MODELOPT_SCRIPT = r"""
import json, sys, time
import numpy as np
onnx_path, calib_path, out_path, method, shapes = sys.argv[1:6]
from modelopt.onnx.quantization import quantize
data = np.load(calib_path)
start = time.perf_counter()
quantize(onnx_path, quantize_mode="int8", calibration_data=data, calibration_method=method,
         calibration_eps=["cpu"], calibration_shapes=shapes, output_path=out_path,
         high_precision_dtype="fp32")
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


JITTER = 1e-5
"""Relative size of the random changes to the activation scales in ``sqnr_spread``."""
JITTER_DRAWS = 6


def bench_quality(
    name: str, graph: Graph, weights: Mapping[str, np.ndarray], npy: Path,
    held_out: np.ndarray, modelopt_python: str | None, tmp: Path,
) -> dict[str, Any]:  # fmt: skip
    folded, folded_weights = fold_batchnorm(graph, weights)
    exported = tmp / f"{name}.onnx"
    exported.write_bytes(to_onnx_model(folded, folded_weights).SerializeToString())
    output = graph.outputs[0].name
    fp32 = _outputs(ort_session(str(exported), default_workers(), False), held_out, output)
    found: dict[str, Any] = {"trtdsl": {}, "modelopt": {}}
    for method in METHODS:
        start = time.perf_counter()
        calibration = calibrate(graph, weights, CalibrationData(npy, graph), method, BATCH,
                                executor="onnxruntime")  # fmt: skip
        seconds = time.perf_counter() - start
        quantized, quantized_weights = prepare_graph(
            graph, weights, "int8", calibration=calibration, fallback="fp32"
        )
        model = to_onnx_model(quantized, quantized_weights)
        found["trtdsl"][method] = {
            "seconds": round(seconds, 2),
            **sqnr_spread(model, held_out, output, fp32),
            "clipping_over_1pct": sum(f > 0.01 for f in calibration.clipped.values()),
        }
        print(f"{name} trtdsl {method}: {found['trtdsl'][method]}", flush=True)
    for method in ("entropy", "max"):
        found["modelopt"][method] = _modelopt(
            name, exported, npy, held_out, fp32, output, method, modelopt_python, tmp
        )
        print(f"{name} modelopt {method}: {found['modelopt'][method]}", flush=True)
    return found


def sqnr_spread(model: Any, held_out: np.ndarray, output: str, fp32: np.ndarray) -> dict[str, Any]:
    """The SQNR (dB) of a QDQ model's outputs against ``fp32``, run by onnxruntime as written
    (``written``: no graph optimizations, every Q/DQ pair as the ONNX operators define it)
    and ``optimized`` (its default session: its Q/DQ fusions, int32 biases); each with its
    spread over JITTER_DRAWS copies whose activation scales are multiplied by 1 + U(-JITTER,
    JITTER), seeded: how much of a difference between two models moving every activation
    scale by about 1e-5 (the rounding of how each side computed its activations) explains."""
    found: dict[str, Any] = {}
    variants = [model] + [jittered(model, seed) for seed in range(JITTER_DRAWS)]
    serialized = [v.SerializeToString() for v in variants]
    for key, optimized in (("written", False), ("optimized", True)):
        values = [
            sqnr_db(
                fp32, _outputs(ort_session(b, default_workers(), optimized), held_out, output)
            )  # fmt: skip
            for b in serialized
        ]
        found[f"sqnr_db_{key}"] = round(float(values[0]), 3)
        found[f"jitter_{key}"] = [round(float(min(values[1:])), 3),
                                  round(float(np.mean(values[1:])), 3),
                                  round(float(max(values[1:])), 3)]  # fmt: skip
    return found


def jittered(model: Any, seed: int) -> Any:
    """A copy of the QDQ ``model`` with every activation quantize's scale (and its
    dequantizes') multiplied by one draw of 1 + U(-JITTER, JITTER); weight scales unchanged."""
    from onnx import ModelProto, numpy_helper

    copy = ModelProto()
    copy.CopyFrom(model)
    graph = copy.graph
    initializers = {i.name: i for i in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    groups: dict[str, set[str]] = {}  # quantized tensor -> its scale initializers
    for node in graph.node:
        if node.op_type == "QuantizeLinear" and node.input[0] not in initializers:
            groups.setdefault(node.input[0], set()).add(node.input[1])
        elif node.op_type == "DequantizeLinear":
            source = producer.get(node.input[0])
            if source is not None and source.op_type == "QuantizeLinear":
                if source.input[0] not in initializers:
                    groups.setdefault(source.input[0], set()).add(node.input[1])
    rng = np.random.default_rng(seed)
    for tensor in sorted(groups):
        factor = 1.0 + rng.uniform(-JITTER, JITTER)
        for name in sorted(groups[tensor]):
            scale = numpy_helper.to_array(initializers[name])
            changed = (scale.astype(np.float64) * factor).astype(scale.dtype)
            initializers[name].CopyFrom(numpy_helper.from_array(changed, name))
    return copy


def _outputs(session: Any, x: np.ndarray, output: str) -> np.ndarray:
    return np.concatenate(
        [session.run([output], {"x": x[i : i + BATCH]})[0] for i in range(0, len(x), BATCH)]
    )


def _modelopt(
    name: str, exported: Path, npy: Path, held_out: np.ndarray, fp32: np.ndarray, output: str,
    method: str, python: str | None, tmp: Path,
) -> dict[str, Any]:  # fmt: skip
    if not python:
        return {"skipped": "no --modelopt-python given (a Python with nvidia-modelopt[onnx])"}
    import onnx

    script = tmp / "modelopt_quantize.py"
    script.write_text(MODELOPT_SCRIPT)
    target = tmp / f"{name}.modelopt.{method}.onnx"
    shape = "x:" + "x".join(str(d) for d in (BATCH, *held_out.shape[1:]))
    run = subprocess.run(
        [python, str(script), str(exported), str(npy), str(target), method, shape],
        capture_output=True, text=True,
    )  # fmt: skip
    if run.returncode:
        tail = (run.stderr or run.stdout).strip().splitlines()[-3:]
        return {"error": " | ".join(tail)}
    seconds = json.loads(run.stdout.strip().splitlines()[-1])["seconds"]
    return {"seconds": round(seconds, 2), **sqnr_spread(onnx.load(str(target)), held_out,
                                                          output, fp32)}  # fmt: skip


# -- distributions -------------------------------------------------------------------------------

MODELOPT_CALIBRATORS = r"""
import json, sys
import numpy as np, torch
from modelopt.torch.quantization.calib import HistogramCalibrator, MaxCalibrator
arrays = np.load(sys.argv[1])
found = {}
for name in arrays.files:
    x = torch.from_numpy(arrays[name])
    row = {}
    histogram, largest = HistogramCalibrator(num_bits=8, unsigned=False), MaxCalibrator(8)
    for part in torch.chunk(x, 4):
        histogram.collect(part)
        largest.collect(part)
    row["max"] = float(largest.compute_amax())
    for method in ("entropy", "mse", "percentile"):
        try:
            amax = histogram.compute_amax(method, percentile=99.99)
            row[method] = None if amax is None else float(amax)
        except Exception as e:
            row[method] = f"{type(e).__name__}: {e}"
    found[name] = row
print(json.dumps(found))
"""


def bench_distributions(modelopt_python: str | None, tmp: Path) -> dict[str, Any]:
    """tests/test_calibration_methods.py's distributions: SQNR (dB) of trtdsl's methods,
    onnxruntime's calibrators (default configuration) and ModelOpt's PyTorch calibrators
    (HistogramCalibrator: entropy, mse, percentile 99.99; MaxCalibrator)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import test_calibration_methods as cases

    rng = np.random.default_rng(20)
    arrays = {name: make(rng).astype(np.float32) for name, make in cases.DISTRIBUTIONS.items()}
    theirs: dict[str, Any] = {}
    if modelopt_python:
        path = tmp / "distributions.npz"
        np.savez(path, **{k.replace(" ", "_"): v for k, v in arrays.items()})
        script = tmp / "modelopt_calibrators.py"
        script.write_text(MODELOPT_CALIBRATORS)
        run = subprocess.run([modelopt_python, str(script), str(path)], capture_output=True,
                             text=True)  # fmt: skip
        if run.returncode:
            theirs = {"error": "failed: " + (run.stderr or run.stdout).strip().splitlines()[-1]}
        else:
            theirs = json.loads(run.stdout.strip().splitlines()[-1])
    found: dict[str, Any] = {}
    for name, x in arrays.items():
        row: dict[str, Any] = {}
        for method in METHODS:
            text = "percentile:99.99" if method == "percentile" else method
            row[f"trtdsl {method}"] = round(cases.sqnr_db(x, cases._ours(x, text)), 2)
        row["ort entropy"] = round(cases.sqnr_db(x, cases._onnxruntime_amax(x, "entropy")), 2)
        row["ort percentile"] = round(
            cases.sqnr_db(x, cases._onnxruntime_amax(x, "percentile", percentile=99.99)), 2
        )
        modelopt = theirs.get(name.replace(" ", "_"), {})
        for method in METHODS:
            amax = modelopt.get(method) if modelopt else None
            if isinstance(amax, float) and np.isfinite(amax):
                row[f"modelopt {method}"] = round(cases.sqnr_db(x, amax), 2)
            else:
                row[f"modelopt {method}"] = (
                    str(amax) if modelopt else theirs.get("error", "skipped: no --modelopt-python")
                )
        found[name] = row
        print(f"{name}: {row}", flush=True)
    return found


def distributions_table(found: dict[str, Any]) -> str:
    columns = list(next(iter(found.values())))
    lines = [
        "| distribution | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for name, row in found.items():
        lines.append(f"| {name} | " + " | ".join(str(row[c]) for c in columns) + " |")
    return "\n".join(lines)


# -- tables --------------------------------------------------------------------------------------


def throughput_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| model | workers | onnxruntime img/s | trtdsl onnxruntime img/s (end to end / steady) "
        "| ratio (end to end / steady) | CPU ms/img onnxruntime / trtdsl (ratio) "
        "| trtdsl reference img/s (steady) | reference scaling | trtdsl engine img/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ours, ref, engine = r["trtdsl_onnxruntime"], r["trtdsl_reference"], r["trtdsl_engine"]
        engine_text = engine.get("skipped", engine.get("end_to_end"))
        lines.append(
            f"| {r['model']} | {r['workers']} | {r['ort_images_per_s']} | {ours['end_to_end']} / "
            f"{ours['steady']} | {r['ratio_end_to_end']} / {r['ratio_steady']} | "
            f"{r['ort_cpu_ms_per_image']} / {ours['cpu_ms_per_image']} ({r['cpu_ratio']}) | "
            f"{ref['steady']} ({ref['images']} photos) | {r['reference_scaling_steady']}x | "
            f"{engine_text} |"
        )
    return "\n".join(lines)


def quality_table(name: str, found: dict[str, Any]) -> str:
    lines = [
        f"| {name} method | trtdsl SQNR as written (jitter min/mean/max) | optimized (jitter) "
        "| trtdsl s | ModelOpt as written (jitter) | optimized (jitter) | ModelOpt s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]

    def cells(row: dict[str, Any]) -> str:
        return " | ".join(
            f"{row[f'sqnr_db_{k}']} ({'/'.join(map(str, row[f'jitter_{k}']))})"
            for k in ("written", "optimized")
        )

    for method in METHODS:
        ours = found["trtdsl"][method]
        theirs = found["modelopt"].get(method)
        if theirs is None:
            other = "- | - | -"
        elif "sqnr_db_written" in theirs:
            other = f"{cells(theirs)} | {theirs['seconds']}"
        else:
            other = f"{theirs.get('skipped') or theirs.get('error')} | - | -"
        lines.append(f"| {method} | {cells(ours)} | {ours['seconds']} | {other} |")
    return "\n".join(lines)


def _machine() -> dict[str, Any]:
    import onnxruntime

    return {
        "cpu": cpu_model(),
        "cores": default_workers(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "onnxruntime": onnxruntime.__version__,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="resnet50,yolov8n")
    parser.add_argument("--photos", type=int, default=256)
    parser.add_argument("--held-out", type=int, default=32)
    parser.add_argument("--workers", help="worker counts (default: 1 and the cores)")
    parser.add_argument("--reference-photos", type=int)
    parser.add_argument("--sections", default="distributions,throughput,quality")
    parser.add_argument("--modelopt-python", help="a Python with nvidia-modelopt[onnx]")
    parser.add_argument("--rounds", type=int, default=10, help="observers: timed rounds")
    parser.add_argument("--json", help="write every number here")
    parser.add_argument("--markdown", help="write the tables here")
    args = parser.parse_args()
    cores = default_workers()
    workers = [int(w) for w in args.workers.split(",")] if args.workers else sorted({1, cores})
    sections = args.sections.split(",")
    reference_photos = args.reference_photos or max(16, 4 * max(workers))
    tmp = Path(tempfile.mkdtemp(prefix="bench_calibrate."))
    what = write_photos(tmp / "photos", args.photos + args.held_out, seed=0)
    report: dict[str, Any] = {"machine": _machine(), "photos": what, "models": {}}
    print(json.dumps(report), flush=True)
    tables = []
    if "distributions" in sections:
        report["distributions"] = bench_distributions(args.modelopt_python, tmp)
        tables.append(distributions_table(report["distributions"]))
    for name in args.models.split(","):
        graph = load_model(name)
        x = photo_arrays(graph, name, tmp / "photos")
        calib, held_out = x[: args.photos], x[args.photos :]
        npy = tmp / f"{name}.npy"
        np.save(npy, calib)
        weights = data_bn_weights(graph, dict(random_weights(graph, 0)), calib[:8])
        entry: dict[str, Any] = {}
        if "throughput" in sections:
            entry["throughput"] = bench_throughput(
                name, graph, weights, npy, calib, workers, reference_photos, tmp
            )
            tables.append(throughput_table(entry["throughput"]))
        if "observers" in sections:
            entry["observers"] = bench_observers(name, graph, weights, npy, args.rounds)
            tables.append(observers_table(name, entry["observers"]))
        if "quality" in sections:
            entry["quality"] = bench_quality(
                name, graph, weights, npy, held_out, args.modelopt_python, tmp
            )
            tables.append(quality_table(name, entry["quality"]))
        report["models"][name] = entry
    text = "\n\n".join(tables)
    print("\n" + text)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
