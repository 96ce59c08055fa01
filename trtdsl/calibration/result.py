"""A calibration's result: the ``Calibration`` a scales file holds, how it is written and
read (through ``scales.ScalesFile``, so every field of a file read is checked before anything
uses it), and the digests that tie it to one model and one set of weights."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trtdsl.calibration.methods import NUM_BINS, Method
from trtdsl.calibration.scales import FORMAT, VERSION, ScalesFile
from trtdsl.errors import CalibrationError, FileError, FileFormatError
from trtdsl.files import parse_record, read_json, record_to_json, write_file
from trtdsl.ir.graph import Graph


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
        method: ``--method``, the method of every tensor no ``method_for`` rule names.
        amax: calibrated value name -> absolute maximum mapped to the quantized range's top
            (0 or MIN_AMAX..MAX_AMAX).
        stats: value name -> {"min", "max", "count"} of the values seen.
        model: {"name", "graph_sha256", "nodes", "nodes_sha256"}; weights: {"sha256"}; data:
            {"path", "kind", "sha256", "samples", "batch_size", "preprocess"} (the fields of
            ModelRecord, WeightsRecord and DataRecord).
        seconds: calibration time; path: the file it was read from (None if not read).
        methods: value name -> the method that chose its amax (missing: ``method``).
        clipped: value name -> the fraction of its calibration values above its amax.
        method_for: the ``PATTERN=METHOD`` rules, as given.
        executor: what ran the model (``"onnxruntime 1.32.0, CPU, ..."``).
        histogram_sample: values per sample and tensor binned (None: all).
    """

    method: Method
    amax: dict[str, float]
    stats: dict[str, dict[str, float]]
    model: dict[str, Any]
    weights: dict[str, Any]
    data: dict[str, Any]
    seconds: float = 0.0
    path: str | None = field(default=None, compare=False)
    methods: dict[str, Method] = field(default_factory=dict)
    clipped: dict[str, float] = field(default_factory=dict)
    method_for: tuple[str, ...] = ()
    executor: str | None = None
    histogram_sample: int | None = None

    def method_of(self, value: str) -> Method:
        """The method that chose ``value``'s amax."""
        return self.methods.get(value, self.method)

    def to_record(self) -> ScalesFile:
        """The scales file of this calibration, every field checked.

        Raises:
            CalibrationError: a value the scales file cannot hold (an amax out of range, a
            digest that is not one).
        """
        tensors = {}
        for name in self.amax:
            method = self.method_of(name)
            tensors[name] = {
                "amax": self.amax[name],
                **self.stats.get(name, {}),
                "method": method.name,
                "percentile": method.percentile,
                "clipped": self.clipped.get(name),
            }
        document = {
            "format": FORMAT,
            "version": VERSION,
            "method": self.method.name,
            "percentile": self.method.percentile,
            "method_for": list(self.method_for),
            "histogram_bins": NUM_BINS,
            "histogram_sample": self.histogram_sample,
            "executor": self.executor,
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
        method = Method(record.method, record.percentile)
        methods = {
            name: Method(t.method, t.percentile)
            for name, t in record.tensors.items()
            if t.method is not None and Method(t.method, t.percentile) != method
        }
        return cls(
            method,
            {name: t.amax for name, t in record.tensors.items()},
            stats,
            record_to_json(record.model),
            record_to_json(record.weights),
            record_to_json(record.data),
            record.seconds,
            path,
            methods,
            {name: t.clipped for name, t in record.tensors.items() if t.clipped is not None},
            record.method_for,
            record.executor,
            record.histogram_sample,
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
