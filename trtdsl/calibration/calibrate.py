"""Post-training calibration: run the NumPy reference over data, stream a histogram per
quantized tensor, and write each tensor's amax to a scales file.

The reference runs the float32 graph after batch-norm folding (the graph the quantization pass
sees, without casts), node by node, so memory holds one batch's live activations and one
2048-bin histogram per calibrated tensor, whatever the number of samples. The calibrated
tensors are the values ``plan_quantization`` names (the inputs of every conv2d, linear and
matmul, and the residual inputs of the adds after convolutions).

The scales file (JSON) records the method, the data's digest, and digests of the model and
of the weights; ``Calibration.check`` refuses a file made for another model or other weights.
Its schema is ``scales.ScalesFile``, which both the writer and the reader go through, so every
field of a file read is checked before anything uses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trtdsl.backends.reference import check_weights, node_params
from trtdsl.calibration.data import CalibrationData
from trtdsl.calibration.histogram import NUM_BINS, Method, TensorHistogram
from trtdsl.calibration.scales import FORMAT, MAX_AMAX, MIN_AMAX, VERSION, ScalesFile
from trtdsl.errors import BackendError, CalibrationError, FileError, FileFormatError, TrtdslError
from trtdsl.files import parse_record, read_json, record_to_json, write_file
from trtdsl.ir.graph import Graph
from trtdsl.passes.fold_bn import fold_batchnorm
from trtdsl.passes.quantize import plan_quantization

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
        amax: calibrated value name -> absolute maximum mapped to the quantized range's top
            (0 or MIN_AMAX..MAX_AMAX).
        stats: value name -> {"min", "max", "count"} of the values seen.
        model: {"name", "graph_sha256", "nodes", "nodes_sha256"}; weights: {"sha256"}; data:
            {"path", "kind", "sha256", "samples", "batch_size", "preprocess"} (the fields of
            ModelRecord, WeightsRecord and DataRecord).
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

    def to_record(self) -> ScalesFile:
        """The scales file of this calibration, every field checked.

        Raises:
            CalibrationError: a value the scales file cannot hold (an amax out of range, a
            digest that is not one).
        """
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
        try:
            return parse_record(ScalesFile, document, self.path or "the calibration")
        except FileFormatError as e:
            raise CalibrationError(str(e)) from None

    def to_json(self) -> str:
        """The scales file's text (JSON; ``to_record``'s checks)."""
        return json.dumps(record_to_json(self.to_record()), indent=1, allow_nan=False) + "\n"

    def save(self, path: str | os.PathLike[str], option: str = "-o") -> None:
        """Write the file atomically (nothing is left behind on failure, and never over a
        file the current command read); ``option`` names the path in errors."""
        text = self.to_json().encode()
        try:
            write_file(path, text, option)
        except OSError as e:
            raise FileError(
                f"{option} {os.fspath(path)}: cannot write it: {e.strerror or e}"
            ) from None
        self.path = os.fspath(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Calibration:
        """Read a scales file.

        Raises:
            CalibrationError naming the file (and the field): not a regular file, not JSON,
            not a trtdsl scales file, or any field missing, of the wrong type or out of range.
        """
        where = os.fspath(path)
        try:
            document = read_json(path)
        except FileError as e:
            raise CalibrationError(str(e)) from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise CalibrationError(f"{where}: not a trtdsl scales file (no format {FORMAT!r})")
        if document.get("version") != VERSION or isinstance(document.get("version"), bool):
            raise CalibrationError(
                f"{where}: field 'version': scales file version {document.get('version')!r}, "
                f"this trtdsl reads {VERSION}"
            )
        try:
            record = parse_record(ScalesFile, document, where)
        except FileFormatError as e:
            raise CalibrationError(str(e)) from None
        return cls.from_record(record, where)

    @classmethod
    def from_record(cls, record: ScalesFile, path: str | None = None) -> Calibration:
        """The calibration a parsed scales file holds."""
        stats = {
            name: {
                key: float(value)
                for key, value in (("min", t.min), ("max", t.max), ("count", t.count))
                if value is not None
            }
            for name, t in record.tensors.items()
        }
        return cls(
            Method(record.method, record.percentile),
            {name: t.amax for name, t in record.tensors.items()},
            stats,
            record_to_json(record.model),
            record_to_json(record.weights),
            record_to_json(record.data),
            record.seconds,
            path,
        )

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
    amax = {v: _recorded_amax(h.compute_amax(method), v, data) for v, h in histograms.items()}
    stats: dict[str, dict[str, float]] = {
        v: {"min": h.min, "max": h.max, "count": h.total} if h.total else {"count": 0}
        for v, h in histograms.items()
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


def _recorded_amax(amax: float, value: str, data: CalibrationData) -> float:
    """``amax`` as the scales file records it: CalibrationError above MAX_AMAX, 0 below
    MIN_AMAX (see both)."""
    if amax > MAX_AMAX:
        raise CalibrationError(
            f"{data.path}: value {value!r} reaches amax {amax:.6g}, above {MAX_AMAX:g}, "
            "float16's largest value, in which an int8/fp8 engine computes around its scales "
            "(scale the data or the weights down)"
        )
    return float(amax) if amax >= MIN_AMAX else 0.0


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
                try:
                    histograms[v].update(array)
                except CalibrationError as e:
                    raise CalibrationError(
                        f"{node.where()}: {e} in value {v!r} (calibrating on {where}; check "
                        "the weights)"
                    ) from None
        for v in list(values):
            if last_use.get(v, -1) <= i and v not in outputs:
                del values[v]
