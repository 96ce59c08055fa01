"""The emulated plan format: a header that marks it as emulated, a JSON network description and
an ``.npz`` of weight copies. It can never be mistaken for (or loaded as) a TensorRT engine.

Layout: ``MAGIC`` | u64 little-endian JSON length | JSON (utf-8) | npz bytes.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from trtdsl.emulator.enums import ENUMS, BuilderFlag, DataType, ProfilingVerbosity, _TrtEnum
from trtdsl.emulator.layers.base import LAYER_CLASSES, ILayer, LayerSpecError
from trtdsl.emulator.loops import find_loops
from trtdsl.emulator.shape_values import Values, infer_with_values, validate_with_values
from trtdsl.emulator.types import Dims, Permutation, Weights, nptype

if TYPE_CHECKING:
    from trtdsl.emulator.builder import IBuilderConfig
    from trtdsl.emulator.network import INetworkDefinition

MAGIC = b"TRTDSL-EMULATED-PLAN v1 (CPU emulator of TensorRT 11.4; NOT a TensorRT engine)\n"
EMULATED_VERSION = "11.4.0-emulated"


class PlanError(Exception):
    """The network cannot be built, or bytes are not an emulated plan."""


@dataclass(frozen=True)
class IOTensor:
    """One engine I/O tensor: build-time shape (-1 dynamic) and, for inputs, profile ranges."""

    name: str
    tensor_id: int
    is_input: bool
    dtype: DataType
    shape: Dims
    profiles: tuple[tuple[Dims, Dims, Dims], ...]  # one (min, opt, max) per profile; inputs


@dataclass(frozen=True)
class Plan:
    """A deserialized plan: layers in execution order with tensor ids, and the I/O tensors."""

    name: str
    io: tuple[IOTensor, ...]
    layers: tuple[tuple[ILayer, tuple[int, ...], tuple[int, ...]], ...]  # layer, ins, outs
    tensor_names: dict[int, str]
    build_types: dict[int, tuple[Dims, DataType]]  # every tensor's build-time shape and dtype
    num_profiles: int
    profiling_verbosity: ProfilingVerbosity
    tf32: bool = False


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | str | float):
        return value
    if isinstance(value, _TrtEnum):
        return {"enum": type(value).__name__, "name": value.name}
    if isinstance(value, int):
        return value
    if isinstance(value, Permutation):
        return {"perm": list(value)}
    if isinstance(value, tuple) and any(isinstance(v, float) for v in value):
        return {"floats": list(value)}
    if isinstance(value, tuple):
        return {"dims": list(value)}
    raise TypeError(f"cannot serialize {value!r}")  # internal: layers only store the above


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "enum" in value:
            return ENUMS[value["enum"]][value["name"]]
        if "perm" in value:
            return Permutation(value["perm"])
        if "floats" in value:
            return tuple(float(v) for v in value["floats"])
        return Dims(value["dims"])
    return value


def _check_buildable(network: INetworkDefinition, config: IBuilderConfig) -> list[str]:
    errors = network._infer_layers()
    problems = [f"layer {message}" for message in errors.values()]
    for layer in network._layers:
        if layer._index in errors:
            continue
        inputs = [network._results[t._id] for t in layer._inputs]  # type: ignore[union-attr]
        values = [network._values.get(t._id) for t in layer._inputs]  # type: ignore[union-attr]
        try:
            validate_with_values(
                layer,
                [tuple(s) for s, _ in inputs],  # type: ignore[arg-type]
                [d for _, d in inputs],
                values,
            )
        except LayerSpecError as error:
            problems.append(f"layer {layer._name}: {error}")
    records = [
        (layer, [t._id for t in layer._inputs if t is not None], [t._id for t in layer._outputs])
        for layer in network._layers
    ]
    types = {i: (None if s is None else tuple(s), d) for i, (s, d) in network._results.items()}
    loops = find_loops(records, types)
    problems.extend(f"layer {message}" for message in loops.problems)
    problems.extend(
        f"output {t.name!r} is computed inside a loop (read it through add_loop_output)"
        for t in network._outputs
        if t._id in loops.tensor_loop
    )
    if not network._outputs:
        problems.append("the network has no outputs (mark_output)")
    names = [t.name for t in network._inputs + network._outputs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(f"I/O tensor names must be unique; repeated: {duplicates}")
    dynamic = [t for t in network._inputs if -1 in t.shape]
    if dynamic and not config._profiles:
        problems.append(
            f"inputs {[t.name for t in dynamic]} are dynamic: add an optimization profile"
        )
    for index, profile in enumerate(config._profiles):
        for tensor in dynamic:
            if tensor.name not in profile._shapes:
                problems.append(f"profile {index} has no shapes for dynamic input {tensor.name!r}")
        for tensor in network._inputs:
            for dims in profile._shapes.get(tensor.name, ()):
                ok = len(dims) == len(tensor.shape) and all(
                    d == s or s == -1 for d, s in zip(dims, tensor.shape, strict=True)
                )
                if not ok:
                    problems.append(
                        f"profile {index}: shape {dims} of {tensor.name!r} does not fit "
                        f"the network's {tensor.shape}"
                    )
    return problems


def serialize_network(network: INetworkDefinition, config: IBuilderConfig) -> bytes:
    """Check ``network`` as a build would and serialize it with copies of all weights."""
    problems = _check_buildable(network, config)
    if problems:
        raise PlanError("; ".join(problems))
    from trtdsl.emulator.refit import refit_mode, weights_name, weights_names

    names = weights_names(network)  # for refit
    arrays: dict[str, np.ndarray] = {}
    layers = []
    for layer in network._layers:
        weights = {}
        for role, w in layer._w.items():
            key = f"l{layer._index}_{role}"
            arrays[key] = np.array(w.numpy(), copy=True)
            weights[role] = {
                "key": key,
                "dtype": w.dtype.name,
                "count": w.size,
                "name": weights_name(names, w),
            }
        layers.append(
            {
                "class": type(layer).__name__,
                "name": layer._name,
                "metadata": layer._metadata,
                "inputs": [t._id for t in layer._inputs],  # type: ignore[union-attr]
                "outputs": [t._id for t in layer._outputs],
                "outputs_names": [t._name for t in layer._outputs],
                "outputs_types": [[list(t.shape), t.dtype.name] for t in layer._outputs],
                "p": {k: _encode(v) for k, v in layer._p.items()},
                "w": weights,
            }
        )
    profiles = config._profiles
    io_tensors = []
    for tensor in network._inputs + network._outputs:
        is_input = tensor in network._inputs
        ranges: list[tuple[Dims, ...]] = []
        if is_input:
            fixed = (tensor.shape,) * 3
            ranges = [tuple(p._shapes.get(tensor.name, fixed)) for p in profiles] or [fixed]
        io_tensors.append(
            {
                "name": tensor.name,
                "id": tensor._id,
                "input": is_input,
                "dtype": tensor.dtype.name,
                "shape": list(tensor.shape),
                "profiles": [[list(d) for d in r] for r in ranges],
            }
        )
    description = {
        "emulated": True,
        "version": EMULATED_VERSION,
        "name": network.name,
        "io": io_tensors,
        "layers": layers,
        "num_profiles": max(len(profiles), 1),
        "profiling_verbosity": config.profiling_verbosity.name,
        "refittable": refit_mode(config),
        # NOTE: with TF32 allowed (TensorRT's default) float32 convolutions and matrix
        # multiplies may run on TF32 tensor cores; the emulator then rounds their operands.
        "tf32": config.get_flag(BuilderFlag.TF32),
    }
    header = json.dumps(description).encode("utf-8")
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    blob = MAGIC + struct.pack("<Q", len(header)) + header + buffer.getvalue()
    plan = load_plan(blob)
    for index in range(plan.num_profiles):  # every profile corner must infer
        for corner in range(3):
            shapes = {t.name: t.profiles[index][corner] for t in plan.io if t.is_input}
            infer_plan_shapes(plan, shapes)
    return blob


def is_emulated_plan(data: bytes) -> bool:
    """Whether ``data`` starts with the emulated-plan header."""
    return bytes(data[: len(MAGIC)]) == MAGIC


def load_plan(data: bytes) -> Plan:
    """Rebuild a Plan from bytes written by ``serialize_network``."""
    data = bytes(data)
    if not is_emulated_plan(data):
        raise PlanError(
            "not an emulated plan (the trtdsl emulator cannot run real TensorRT engines, "
            "and TensorRT cannot run emulated plans)"
        )
    (length,) = struct.unpack_from("<Q", data, len(MAGIC))
    start = len(MAGIC) + 8
    description = json.loads(data[start : start + length].decode("utf-8"))
    with np.load(io.BytesIO(data[start + length :]), allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    layers = []
    names: dict[int, str] = {}
    build_types: dict[int, tuple[Dims, DataType]] = {}
    for record in description["layers"]:
        layer = LAYER_CLASSES[record["class"]].__new__(LAYER_CLASSES[record["class"]])
        layer._network = None
        layer._name, layer._metadata = record["name"], record["metadata"]
        layer._p = {k: _decode(v) for k, v in record["p"].items()}
        layer._tf32 = bool(description.get("tf32", False))
        layer._w = {}
        for role, w in record["w"].items():
            dtype, array = DataType[w["dtype"]], arrays[w["key"]]
            weights = Weights(array) if array.size else Weights(dtype)
            weights._dtype, weights._count = dtype, w["count"]
            layer._w[role] = weights
        names.update(zip(record["outputs"], record["outputs_names"], strict=True))
        for tensor_id, (shape, dtype) in zip(
            record["outputs"], record["outputs_types"], strict=True
        ):
            build_types[tensor_id] = (Dims(shape), DataType[dtype])
        layers.append((layer, tuple(record["inputs"]), tuple(record["outputs"])))
    io_tensors = tuple(
        IOTensor(
            name=t["name"],
            tensor_id=t["id"],
            is_input=t["input"],
            dtype=DataType[t["dtype"]],
            shape=Dims(t["shape"]),
            profiles=tuple(tuple(Dims(d) for d in r) for r in t["profiles"]),  # type: ignore[misc]
        )
        for t in description["io"]
    )
    for tensor in io_tensors:
        names[tensor.tensor_id] = tensor.name
        build_types[tensor.tensor_id] = (tensor.shape, tensor.dtype)
    return Plan(
        name=description["name"],
        io=io_tensors,
        layers=tuple(layers),
        tensor_names=names,
        build_types=build_types,
        num_profiles=description["num_profiles"],
        profiling_verbosity=ProfilingVerbosity[description["profiling_verbosity"]],
        tf32=bool(description.get("tf32", False)),
    )


def infer_plan_shapes(
    plan: Plan, input_shapes: Mapping[str, tuple[int, ...]]
) -> dict[int, tuple[tuple[int, ...], DataType]]:
    """Shapes and dtypes of every tensor for concrete input shapes; PlanError on a bad layer."""
    results: dict[int, tuple[tuple[int, ...], DataType]] = {}
    values: dict[int, Values | None] = {}  # shape tensors' values (see shape_values.py)
    for tensor in plan.io:
        if tensor.is_input:
            results[tensor.tensor_id] = (tuple(input_shapes[tensor.name]), tensor.dtype)
    for layer, ins, outs in plan.layers:
        inputs = [results[i] for i in ins]
        in_values = [values.get(i) for i in ins]
        try:
            shapes, dtypes = [s for s, _ in inputs], [d for _, d in inputs]
            inferred, out_values = infer_with_values(layer, shapes, dtypes, in_values)
            validate_with_values(layer, shapes, dtypes, in_values)
        except LayerSpecError as error:
            raise PlanError(f"{layer._name}: {error}") from None
        results.update(zip(outs, inferred, strict=True))
        values.update(zip(outs, out_values, strict=True))
    return results


def nptype_or_raise(dtype: DataType) -> type:
    """The NumPy type for I/O of ``dtype``; PlanError where the emulator has none."""
    try:
        return nptype(dtype)
    except TypeError:
        raise PlanError(f"the emulator cannot exchange {dtype} tensors") from None
