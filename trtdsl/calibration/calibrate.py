"""Post-training calibration: run the NumPy reference over data, stream a histogram per
quantized tensor, and write each tensor's amax to a scales file.

The reference runs the float32 graph after batch-norm folding (the graph the quantization pass
sees, without casts), node by node, so memory holds one batch's live activations and one
2048-bin histogram per calibrated tensor, whatever the number of samples. The calibrated
tensors are the values ``plan_quantization`` names (the inputs of every conv2d, linear and
matmul, and the residual inputs of the adds after convolutions).

The scales file (JSON) records the method, the data's digest, and digests of the model and
of the weights; ``Calibration.check`` refuses a file made for another model or other weights.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trtdsl.backends.reference import check_weights, node_params
from trtdsl.calibration.data import CalibrationData
from trtdsl.calibration.histogram import NUM_BINS, Method, TensorHistogram
from trtdsl.errors import BackendError, CalibrationError, TrtdslError
from trtdsl.ir.graph import Graph
from trtdsl.passes.fold_bn import fold_batchnorm
from trtdsl.passes.quantize import plan_quantization

FORMAT = "trtdsl-calibration"
VERSION = 1

Progress = Callable[[int, int], None]
"""``progress(samples_done, samples_total)``, called after every batch."""


def graph_digest(graph: Graph) -> str:
    """sha256 of a model's structure: inputs (name, dtype, rank), nodes (name, op, attributes,
    wiring, precision) and outputs. Shapes are left out, so a ``--shape`` override still matches."""
    lines = _structure(graph, len(graph.nodes))
    lines += [f"out {p.name} {p.value}" for p in graph.outputs]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def nodes_digest(graph: Graph, count: int) -> str:
    """sha256 of the inputs and the first ``count`` nodes (as ``graph_digest``, no outputs):
    scales calibrated on a model also fit it with stages appended (``--nms``)."""
    return hashlib.sha256("\n".join(_structure(graph, count)).encode()).hexdigest()


def _structure(graph: Graph, count: int) -> list[str]:
    lines = [graph.name]
    lines += [f"in {n} {graph.types[n].dtype.value} {graph.types[n].rank}" for n in graph.inputs]
    for node in graph.nodes[:count]:
        attributes = ", ".join(f"{k}={v!r}" for k, v in node.op.attributes().items())
        precision = node.precision.value if node.precision else "-"
        lines.append(
            f"{node.name} {node.op.op_name}({attributes}) {node.inputs} {node.outputs} {precision}"
        )
    return lines


def weights_digest(weights: Mapping[str, np.ndarray]) -> str:
    """sha256 of named arrays (key, dtype, shape and bytes, in key order)."""
    h = hashlib.sha256()
    for key in sorted(weights):
        a = np.ascontiguousarray(weights[key])
        h.update(f"{key}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.reshape(-1).view(np.uint8).data)
    return h.hexdigest()


@dataclass
class Calibration:
    """The contents of a scales file.

    Attributes:
        method: how each amax was computed.
        amax: calibrated value name -> absolute maximum mapped to the quantized range's top.
        stats: value name -> {"min", "max", "count"} of the values seen.
        model: {"name", "graph_sha256"}; weights: {"sha256"}; data: {"path", "kind",
            "sha256", "samples", "batch_size", "preprocess"}.
        seconds: calibration time; path: the file it was read from (None if not read).
    """

    method: Method
    amax: dict[str, float]
    stats: dict[str, dict[str, float]]
    model: dict[str, Any]
    weights: dict[str, Any]
    data: dict[str, Any]
    seconds: float = 0.0
    path: str | None = field(default=None, compare=False)

    def to_json(self) -> str:
        tensors = {
            name: {"amax": self.amax[name], **self.stats.get(name, {})} for name in self.amax
        }
        document = {
            "format": FORMAT,
            "version": VERSION,
            "method": self.method.name,
            "percentile": self.method.percentile,
            "histogram_bins": NUM_BINS,
            "model": self.model,
            "weights": self.weights,
            "data": self.data,
            "seconds": round(self.seconds, 3),
            "tensors": tensors,
        }
        return json.dumps(document, indent=1) + "\n"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the file atomically (nothing is left behind on failure)."""
        from trtdsl.backends.trt.files import write_atomic

        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise CalibrationError(f"{path}: directory {directory} does not exist")
        write_atomic(os.fspath(path), self.to_json().encode())
        self.path = os.fspath(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Calibration:
        """Read a scales file; CalibrationError naming it when it is not one."""
        where = os.fspath(path)
        try:
            with open(path, encoding="utf-8") as f:
                document = json.load(f)
        except OSError as e:
            raise CalibrationError(f"{where}: cannot read the scales file: {e.strerror}") from None
        except ValueError as e:
            raise CalibrationError(f"{where}: not a JSON scales file ({e})") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise CalibrationError(f"{where}: not a trtdsl scales file (no format {FORMAT!r})")
        if document.get("version") != VERSION:
            raise CalibrationError(
                f"{where}: scales file version {document.get('version')!r}, expected {VERSION}"
            )
        try:
            name, percentile = document["method"], document.get("percentile")
            method = Method(name, None if percentile is None else float(percentile))
            tensors = document["tensors"]
            amax = {str(k): float(v["amax"]) for k, v in tensors.items()}
            stats = {
                str(k): {s: float(v[s]) for s in ("min", "max", "count") if s in v}
                for k, v in tensors.items()
            }
            result = cls(
                method,
                amax,
                stats,
                dict(document["model"]),
                dict(document["weights"]),
                dict(document["data"]),
                float(document.get("seconds", 0.0)),
                where,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise CalibrationError(
                f"{where}: malformed scales file ({type(e).__name__}: {e})"
            ) from None
        bad = [k for k, v in amax.items() if not (math.isfinite(v) and v >= 0)]
        if bad:
            raise CalibrationError(f"{where}: tensor {bad[0]!r} has amax {amax[bad[0]]!r}")
        return result

    def check(self, graph: Graph, weights: Mapping[str, np.ndarray] | None = None) -> None:
        """CalibrationError unless this file was made for ``graph`` (and ``weights``), or for
        its first nodes (a model with a stage appended after calibration, e.g. ``--nms``)."""
        where = self.path or "the calibration"
        digest = graph_digest(graph)
        count = self.model.get("nodes")
        extended = (
            isinstance(count, int)
            and 0 < count <= len(graph.nodes)
            and self.model.get("nodes_sha256") == nodes_digest(graph, count)
        )
        if self.model.get("graph_sha256") != digest and not extended:
            raise CalibrationError(
                f"{where}: scales made for model {self.model.get('name')!r} (graph "
                f"{str(self.model.get('graph_sha256'))[:12]}), not for {graph.name!r} (graph "
                f"{digest[:12]}); calibrate this model"
            )
        if weights is not None:
            w = weights_digest(weights)
            if self.weights.get("sha256") != w:
                raise CalibrationError(
                    f"{where}: scales made for other weights (sha256 "
                    f"{str(self.weights.get('sha256'))[:12]}, these are {w[:12]}); calibrate "
                    "with these weights"
                )


def calibrate(
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    data: CalibrationData,
    method: Method | str = "entropy",
    batch_size: int = 8,
    progress: Progress | None = None,
) -> Calibration:
    """Calibrate every tensor the quantization pass quantizes.

    Args:
        graph: the model as loaded (before any pass); weights: its bound weights.
        data: the calibration samples (``CalibrationData``).
        method: ``entropy``, ``max``, ``percentile[:P]`` or ``mse`` (a Method or its text).
        batch_size: samples per reference run (memory grows with it, not with the data).
        progress: called as ``progress(done, total)`` after each batch.
    Returns:
        the Calibration (``save`` writes it).
    """
    method = method if isinstance(method, Method) else Method.parse(method)
    check_weights(graph, weights)
    start = time.perf_counter()
    folded, folded_weights = fold_batchnorm(graph, weights)
    targets = plan_quantization(folded).values
    histograms = {v: TensorHistogram() for v in targets}
    done = 0
    for first, inputs in data.batches(batch_size):
        _observe(folded, folded_weights, inputs, histograms, f"{data.path} (samples {first}..)")
        done += next(iter(inputs.values())).shape[0]
        if progress is not None:
            progress(done, data.samples)
    amax = {v: float(h.compute_amax(method)) for v, h in histograms.items()}
    stats = {
        v: {"min": h.min, "max": h.max, "count": float(h.total)} for v, h in histograms.items()
    }
    return Calibration(
        method=method,
        amax=amax,
        stats=stats,
        model={
            "name": graph.name,
            "graph_sha256": graph_digest(graph),
            "nodes": len(graph.nodes),
            "nodes_sha256": nodes_digest(graph, len(graph.nodes)),
        },
        weights={"sha256": weights_digest(weights)},
        data={
            "path": str(data.path),
            "kind": data.kind,
            "sha256": data.digest(),
            "samples": data.samples,
            "batch_size": batch_size,
            "preprocess": data.preprocess.to_dict() if data.preprocess else None,
        },
        seconds=time.perf_counter() - start,
    )


def _observe(
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    inputs: Mapping[str, np.ndarray],
    histograms: Mapping[str, TensorHistogram],
    where: str,
) -> None:
    """Run the reference semantics node by node, adding each calibrated value to its
    histogram as it is produced and freeing every value after its last reader."""
    last_use = {name: -1 for name in graph.inputs}
    for i, node in enumerate(graph.nodes):
        for v in (*node.inputs, *node.outputs):
            last_use[v] = i
    outputs = {p.value for p in graph.outputs}
    values: dict[str, np.ndarray] = {}
    for name in graph.inputs:
        values[name] = inputs[name]
        if name in histograms:
            histograms[name].update(inputs[name])
    for i, node in enumerate(graph.nodes):
        try:
            result = node.op.reference(
                [values[v] for v in node.inputs], node_params(graph, node, weights)
            )
        except TrtdslError as e:
            raise BackendError(f"{node.where()}: {e} (calibrating on {where})") from None
        results = result if isinstance(result, tuple) else (result,)
        for v, array in zip(node.outputs, results, strict=True):
            values[v] = array
            if v in histograms:
                histograms[v].update(array)
        for v in list(values):
            if last_use.get(v, -1) <= i and v not in outputs:
                del values[v]
