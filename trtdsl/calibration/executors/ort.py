"""The onnxruntime executor: trtdsl's ONNX export of the calibrated graph, with what the
histograms need computed inside the graph, so that no activation leaves onnxruntime whole.

Per calibrated value v the graph gains small outputs (``augmented_model``): its largest value,
its mean (onnxruntime's max reductions and pools skip a NaN unless it comes first; a mean
carries any NaN), its smallest value unless an op bounds v below (``lower_bounds``: a ReLU's
or SiLU's output, pooled, resized or concatenated; there the smallest binned value stands in:
exact where every value is binned, and amax = max exact once max reaches the bound; only a
sampled map of a nearly dead SiLU layer, max below 0.2785, gets its amax from the binned
values), and the SamplePlan's positions of every sample, the values the NumPy executors bin.
A feature map is observed with pooling ops (GlobalMaxPool, GlobalAveragePool, a strided 1x1
MaxPool for the grid; a depthwise 1x1 convolution by -1 for the smallest value), which
onnxruntime runs in the blocked layout its convolutions leave: reductions would make it
convert every observed map back to NCHW and give up fusions (about 30% of ResNet-50's time on
one thread, measured). Every output leaves through a Reshape appended in reverse graph order,
which makes onnxruntime run each map's observers right after the map is computed instead of
after the whole network (see ``augmented_model``). One session (one intra-op thread) serves every
worker thread: workers give the parallelism, and each batch is computed the same way whatever
their number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from trtdsl.calibration.executors.base import Executor, Targets, input_stats
from trtdsl.calibration.histogram import BatchStats
from trtdsl.errors import BackendError, CalibrationError
from trtdsl.ir.graph import Graph
from trtdsl.ir.ops import OPS
from trtdsl.ir.types import DType

_OPSET = 17
_PREFIX = "trtdsl.calibration"
_ELEMENT_TYPES = {DType.FLOAT32: 1, DType.FLOAT16: 10, DType.BFLOAT16: 16}
"""ONNX TensorProto element types of the float dtypes a calibrated value may have."""
_LOWER_BOUNDS = {"relu": 0.0, "relu6": 0.0, "sigmoid": 0.0, "hardsigmoid": 0.0, "softmax": 0.0,
                 "silu": 0.2785, "hardswish": 0.3751, "gelu": 0.1701}  # fmt: skip
"""Ops (registry names) whose outputs never go below -bound, with a margin for float32
rounding: SiLU's minimum is -0.278465, hard-swish's -0.375, GELU's -0.169971 (-0.170041 with
the tanh approximation)."""
_BOUND_KEEPING = ("max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "flatten", "reshape",
                  "permute", "transpose", "channel_shuffle", "narrow", "slice", "identity",
                  "dropout")  # fmt: skip
"""Ops whose output stays within its (first) input's bound."""


def augmented_model(
    targets: Targets, weights: Mapping[str, np.ndarray]
) -> tuple[Any, dict[str, dict[str, str]]]:
    """The ONNX ModelProto of ``targets.graph`` whose only outputs are the small tensors of
    the module docstring, and per computed calibrated value {"max", "mean", "min" or
    "negated_max" (signed values), "sample"} -> output name. The sample output is (rows,
    values), the others flat."""
    from onnx import helper, numpy_helper

    from trtdsl.backends.onnx_export import to_onnx_model

    model = to_onnx_model(targets.graph, weights, opset=_OPSET, check=False)  # onnxruntime checks
    graph = model.graph
    del graph.output[:]
    nodes: list[Any] = []
    constants: list[Any] = []
    outputs: list[Any] = []
    bounds = lower_bounds(targets.graph)
    observed: dict[str, dict[str, str]] = {}

    def node(op: str, inputs: list[str], output: str, **attributes: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def constant(name: str, array: np.ndarray) -> str:
        constants.append(numpy_helper.from_array(array, name))
        return name

    for v in targets.computed:
        plan, name = targets.plans[v], f"{_PREFIX}/{v}"
        found: dict[str, str] = {}
        if plan.spatial:
            # Pooling ops run in onnxruntime's blocked (NCHWc) layout, where the convolutions
            # leave their outputs: no reorder of the whole tensor, no broken fusion.
            found["max"] = node("GlobalMaxPool", [v], f"{name}/max")
            found["mean"] = node("GlobalAveragePool", [v], f"{name}/mean")
            if v not in bounds:
                channels = plan.shape[0]
                minus = constant(f"{name}/minus", np.full((channels, 1, 1, 1), -1, np.float32))
                negated = node("Conv", [v, minus], f"{name}/negated", group=channels,
                               kernel_shape=[1, 1])  # fmt: skip
                found["negated_max"] = node("GlobalMaxPool", [negated], f"{name}/negated_max")
            found["sample"] = v
            if plan.stride > 1:
                found["sample"] = node("MaxPool", [v], f"{name}/sample", kernel_shape=[1, 1],
                                       strides=[plan.stride, plan.stride])  # fmt: skip
        else:
            found["max"] = node("ReduceMax", [v], f"{name}/max", keepdims=0)
            found["mean"] = node("ReduceMean", [v], f"{name}/mean", keepdims=0)
            if v not in bounds:
                found["min"] = node("ReduceMin", [v], f"{name}/min", keepdims=0)
            rows = constant(f"{name}/rows_shape", np.array([-1, plan.size], np.int64))
            found["sample"] = node("Reshape", [v, rows], f"{name}/rows")
            if plan.stride > 1:
                slicing = [
                    constant(f"{name}/{part}", np.array([value], np.int64))
                    for part, value in (
                        ("starts", 0),
                        ("ends", plan.size),
                        ("axes", 1),
                        ("steps", plan.stride),
                    )  # fmt: skip
                ]
                found["sample"] = node("Slice", [found["sample"], *slicing], f"{name}/sample")
        observed[v] = found
    flat_shape = constant(f"{_PREFIX}/flat", np.array([-1], np.int64))
    rows_shape = constant(f"{_PREFIX}/rows", np.array([0, -1], np.int64))
    # Every output leaves through a Reshape, numbered in reverse graph order. onnxruntime's
    # default execution order is a depth-first walk back from the leaf nodes, the highest
    # node number first, and its transformers (the NCHWc layout's among them) renumber the
    # observing nodes in graph order: left as they are, the last map's observers are walked
    # first, which puts the whole network before every observer, and each observed map stays
    # alive, out of cache, to the end of the run. With the first map's leaf numbered highest,
    # each map's observers run right after it (ResNet-50, batch 8, one thread: 1.22x -> 1.11x
    # the plain export's CPU time). Another order computes the same outputs, only slower.
    for v in reversed(targets.computed):
        element = _ELEMENT_TYPES[targets.graph.types[v].dtype]
        for kind, name in observed[v].items():
            shape = rows_shape if kind == "sample" else flat_shape
            leaf = node("Reshape", [name, shape], f"{_PREFIX}/{v}/{kind}/out")
            observed[v][kind] = leaf
            outputs.append(helper.make_tensor_value_info(leaf, element, None))
    graph.node.extend(nodes)
    graph.initializer.extend(constants)
    graph.output.extend(outputs)
    return model, observed


def lower_bounds(graph: Graph) -> dict[str, float]:
    """Values of ``graph`` that an op keeps at or above ``-bound``: outputs of the ops of
    _LOWER_BOUNDS, of ops that only move, pool, resize or concatenate such values, and sums of
    them (a residual add of two SiLU outputs: -0.557)."""
    sources = {OPS[name]: bound for name, bound in _LOWER_BOUNDS.items() if name in OPS}
    keeping = {OPS[name] for name in _BOUND_KEEPING if name in OPS}
    found: dict[str, float] = {}
    for node in graph.nodes:
        op, first = type(node.op), node.inputs[:1]
        if op in sources:
            bound: float | None = sources[op]
        elif op in keeping and all(v in found for v in first):
            bound = found[first[0]] if first else None
        elif op is OPS.get("interpolate") and first and first[0] in found:
            # Nearest and bilinear resizing give values between their inputs'.
            linear = getattr(node.op, "mode", "") in ("nearest", "bilinear")
            bound = found[first[0]] if linear else None
        elif op is OPS.get("concat") and all(v in found for v in node.inputs):
            bound = max(found[v] for v in node.inputs)
        elif (
            op is OPS.get("add")
            and getattr(node.op, "other", None) is None  # x + 0.7 may round below 0.7
            and all(v in found for v in node.inputs)
        ):
            # x >= -a and y >= -b give x + y >= -(a + b); the bounds' margins cover rounding.
            bound = sum(found[v] for v in node.inputs)
        else:
            bound = None
        if bound is not None:
            found.update((v, bound) for v in node.outputs)
    return found


_MOVED_BYTES = 4096
"""Initializers of at least this many bytes reach onnxruntime outside the model's bytes."""


def move_weights_out(model: Any, options: Any) -> list[Any]:
    """Hand every initializer of ``model`` of at least _MOVED_BYTES to the session
    ``options`` as an external initializer, leaving an external-data reference in its place:
    the weights reach onnxruntime without the model being serialized and parsed with them
    (ResNet-50's 100 MB: the session is ready in about half the time). Returns the arrays'
    OrtValues, which must stay alive until the session is created (it copies them)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    movable = {  # element types whose arrays onnxruntime takes from NumPy
        TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE,
        TensorProto.INT8, TensorProto.INT32, TensorProto.INT64,
    }  # fmt: skip
    names: list[str] = []
    values: list[Any] = []
    for initializer in model.graph.initializer:
        if initializer.data_type not in movable:
            continue
        itemsize = helper.tensor_dtype_to_np_dtype(initializer.data_type).itemsize
        if math.prod(initializer.dims) * itemsize < _MOVED_BYTES:  # (raw_data would copy)
            continue
        names.append(initializer.name)
        values.append(ort.OrtValue.ortvalue_from_numpy(numpy_helper.to_array(initializer)))
        initializer.ClearField("raw_data")
        initializer.data_location = TensorProto.EXTERNAL
        entry = initializer.external_data.add()
        entry.key, entry.value = "location", "trtdsl-in-memory"
    if names:
        options.add_external_initializers(names, values)
    return values


class OnnxRuntimeExecutor(Executor):
    """Runs the augmented export on onnxruntime's CPU execution provider (module docstring)."""

    name = "onnxruntime"

    def __init__(self, targets: Targets, weights: Mapping[str, np.ndarray]) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise BackendError(
                "--executor onnxruntime: onnxruntime is not installed (pip install "
                "'trtdsl[onnx]'); --executor reference needs nothing"
            ) from None
        self.targets = targets
        model, self._outputs = augmented_model(targets, weights)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        moved = move_weights_out(model, options)  # alive until the session holds copies
        try:
            self.session = ort.InferenceSession(
                model.SerializeToString(), options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # noqa: BLE001  (onnxruntime raises its own exception types)
            raise BackendError(
                f"onnxruntime cannot load trtdsl's export of {targets.graph.name!r}: "
                f"{_first_line(e)}; --executor reference runs any model"
            ) from None
        del moved
        self._names = [o.name for o in self.session.get_outputs()]
        self._bounds = lower_bounds(targets.graph)
        self.description = f"onnxruntime {ort.__version__}, CPU, 1 thread per worker"

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, BatchStats]:
        stats = input_stats(self.targets, inputs)
        feed = {name: inputs[name] for name in self.targets.graph.inputs}
        try:
            results = dict(zip(self._names, self.session.run(self._names, feed), strict=True))
        except Exception as e:  # noqa: BLE001
            raise BackendError(f"onnxruntime failed on the batch: {_first_line(e)}") from None
        for v in self.targets.computed:
            found = {key: results[name] for key, name in self._outputs[v].items()}
            sample = found["sample"]
            sample = sample.reshape(sample.shape[0] if sample.ndim > 1 else 1, -1)
            high = float(np.max(found["max"]))
            if "min" in found:
                low = float(np.min(found["min"]))
            elif "negated_max" in found:
                low = -float(np.max(found["negated_max"]))
            else:  # bounded below: the smallest binned value (every value for small tensors)
                low = self._low(v, float(np.min(sample)) if sample.size else 0.0)
            if not (math.isfinite(low) and math.isfinite(high)) or np.isnan(found["mean"]).any():
                raise CalibrationError(f"{_producer(self.targets, v)}: NaN or inf in value {v!r}")
            total = sample.shape[0] * self.targets.plans[v].size
            stats[v] = BatchStats(low, high, total, sample)
        return stats

    def _low(self, value: str, smallest_binned: float) -> float:
        """The ``low`` of a value bounded below by -b: the smallest binned value. That is the
        exact minimum where every value is binned (small tensors); for a sampled feature map
        amax = max(high, -low) is still exact once high reaches b, and below that (a nearly
        dead SiLU layer) -low is the smallest binned value's magnitude, at most b."""
        bound = self._bounds[value]
        if smallest_binned < -bound:  # an op of _LOWER_BOUNDS or _BOUND_KEEPING that is not
            raise AssertionError(f"value {value!r} below its bound -{bound}: {smallest_binned}")
        return smallest_binned


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _producer(targets: Targets, value: str) -> str:
    node = targets.graph.producer(value)
    return node.where() if node is not None else value
