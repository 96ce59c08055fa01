"""The emulated plan format: a header that marks it as emulated, a JSON network description and
an ``.npz`` of weight copies. It can never be mistaken for (or loaded as) a TensorRT engine.

Layout: ``MAGIC`` | u64 little-endian JSON length | JSON (utf-8) | npz bytes.

A plan is a file users run, so ``load_plan`` trusts none of it: the description is parsed
into typed records (``plan_schema.py``), each layer's class must be one of the emulator's
layer classes and its properties must decode through that class's field table
(``layers/fields.py``) into values its setters would store, weights must be plain arrays of
the declared type and count, every tensor must be computed before it is read, and every
optimization-profile corner must infer. Anything else is one PlanError saying what is wrong.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from trtdsl.emulator.enums import BuilderFlag, DataType, ProfilingVerbosity
from trtdsl.emulator.layers.base import ILayer, LayerSpecError
from trtdsl.emulator.layers.fields import FieldError, plan_fields
from trtdsl.emulator.loops import find_loops
from trtdsl.emulator.plan_read import (
    LENGTH,
    check_wiring,
    make_layer,
    read_description,
    read_weights,
)
from trtdsl.emulator.plan_read import is_emulated_plan as is_emulated_plan
from trtdsl.emulator.plan_schema import EMULATED_VERSION as EMULATED_VERSION
from trtdsl.emulator.plan_schema import MAGIC as MAGIC
from trtdsl.emulator.plan_schema import MAX_DIM, PlanDescription
from trtdsl.emulator.plan_schema import PlanError as PlanError
from trtdsl.emulator.shape_values import Values, infer_with_values, validate_with_values
from trtdsl.emulator.types import Dims, EmulatorError, nptype

if TYPE_CHECKING:
    from trtdsl.emulator.builder import IBuilderConfig
    from trtdsl.emulator.network import INetworkDefinition


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
    """A deserialized plan: layers in execution order with tensor ids, and the I/O tensors.

    ``description`` is the validated JSON description (refit reads its weights records) and
    ``archive_offset`` where the weights archive starts in the plan's bytes.
    """

    name: str
    io: tuple[IOTensor, ...]
    layers: tuple[tuple[ILayer, tuple[int, ...], tuple[int, ...]], ...]  # layer, ins, outs
    tensor_names: dict[int, str]
    build_types: dict[int, tuple[Dims, DataType]]  # every tensor's build-time shape and dtype
    num_profiles: int
    profiling_verbosity: ProfilingVerbosity
    refittable: bool
    description: PlanDescription
    archive_offset: int
    tf32: bool = False


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


def _encode_properties(layer: ILayer) -> dict[str, Any]:
    """``layer._p`` as JSON, each value written by its field's kind."""
    fields = plan_fields(type(layer))
    if fields.keys() != layer._p.keys():
        raise PlanError(  # an emulator bug: a layer sets a key its class does not declare
            f"internal: layer {layer._name!r} has properties {sorted(layer._p)}, its class "
            f"{type(layer).__name__} declares {sorted(fields)}"
        )
    encoded = {}
    for key, value in layer._p.items():
        try:
            encoded[key] = fields[key].kind.encode(value)
        except FieldError as error:
            raise PlanError(f"layer {layer._name!r}: property {key!r}: {error}") from None
    return encoded


def write_archive(arrays: Mapping[str, np.ndarray]) -> bytes:
    """The weights archive of a plan (an uncompressed ``.npz``)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def serialize_network(network: INetworkDefinition, config: IBuilderConfig) -> bytes:
    """Check ``network`` as a build would and serialize it with copies of all weights.

    The bytes are then loaded back (``load_plan``: every check a plan file gets, every
    profile corner inferred included), so a plan that builds is a plan that loads.
    """
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
                "p": _encode_properties(layer),
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
    header = json.dumps(description, allow_nan=False).encode("utf-8")
    blob = MAGIC + LENGTH.pack(len(header)) + header + write_archive(arrays)
    load_plan(blob)
    return blob


# -- loading ------------------------------------------------------------------------------------


def load_plan(data: Any) -> Plan:
    """Rebuild a Plan from bytes written by ``serialize_network``.

    Raises:
        PlanError: for anything that is not a valid emulated plan (the message names the
            field, layer, weights or tensor that is wrong), and for nothing else.
    """
    try:
        blob = data if type(data) is bytes else bytes(memoryview(data))
    except TypeError:
        raise PlanError(f"expected plan bytes, got {type(data).__name__}") from None
    description, offset = read_description(blob)
    arrays = read_weights(description, memoryview(blob)[offset:])
    layers = tuple(
        make_layer(index, record, arrays, description.tf32)
        for index, record in enumerate(description.layers)
    )
    check_wiring(description, layers)
    io_tensors = tuple(
        IOTensor(
            name=t.name,
            tensor_id=t.id,
            is_input=t.input,
            dtype=DataType[t.dtype],
            shape=Dims(t.shape),
            profiles=tuple((Dims(lo), Dims(opt), Dims(hi)) for lo, opt, hi in t.profiles),
        )
        for t in description.io
    )
    names: dict[int, str] = {}
    build_types: dict[int, tuple[Dims, DataType]] = {}
    for record in description.layers:
        names.update(zip(record.outputs, record.outputs_names, strict=True))
        for tensor_id, (shape, dtype) in zip(record.outputs, record.outputs_types, strict=True):
            build_types[tensor_id] = (Dims(shape), DataType[dtype])
    for tensor in io_tensors:
        names[tensor.tensor_id] = tensor.name
        build_types[tensor.tensor_id] = (tensor.shape, tensor.dtype)
    plan = Plan(
        name=description.name,
        io=io_tensors,
        layers=layers,
        tensor_names=names,
        build_types=build_types,
        num_profiles=description.num_profiles,
        profiling_verbosity=ProfilingVerbosity[description.profiling_verbosity],
        refittable=description.refittable,
        description=description,
        archive_offset=offset,
        tf32=description.tf32,
    )
    _check_profiles_infer(plan)
    return plan


_CORNERS = ("min", "opt", "max")


def _check_profiles_infer(plan: Plan) -> None:
    """Every profile corner infers, to dims within bounds and to the plan's build-time types."""
    for profile in range(plan.num_profiles):
        for corner, name in enumerate(_CORNERS):
            shapes = {t.name: t.profiles[profile][corner] for t in plan.io if t.is_input}
            where = f"profile {profile} at its {name} shapes"
            results = _infer(plan, shapes, where)
            for tensor_id, (shape, dtype) in results.items():
                what = f"tensor {tensor_id} ({plan.tensor_names[tensor_id]!r}), {where}"
                if any(not -1 <= d <= MAX_DIM for d in shape):
                    raise PlanError(
                        f"{what}: inferred {list(shape)}; dimensions are at most {MAX_DIM}"
                    )
                build_shape, build_dtype = plan.build_types[tensor_id]
                fits = len(shape) == len(build_shape) and all(
                    b in (-1, d) for d, b in zip(shape, build_shape, strict=True)
                )
                if dtype != build_dtype or not fits:
                    raise PlanError(
                        f"{what}: inferred {list(shape)} {dtype.name}, the plan declares "
                        f"{list(build_shape)} {build_dtype.name}"
                    )


Inferred = dict[int, tuple[tuple[int, ...], DataType]]


def _infer(plan: Plan, input_shapes: Mapping[str, tuple[int, ...]], where: str | None) -> Inferred:
    """Shapes and dtypes of every tensor. ``where`` set (a plan being loaded): any failure of
    a layer is a PlanError saying where; else only the emulator's own errors are."""
    results: Inferred = {}
    values: dict[int, Values | None] = {}  # shape tensors' values (see shape_values.py)
    for tensor in plan.io:
        if tensor.is_input:
            results[tensor.tensor_id] = (tuple(input_shapes[tensor.name]), tensor.dtype)
    for index, (layer, ins, outs) in enumerate(plan.layers):
        inputs = [results[i] for i in ins]
        in_values = [values.get(i) for i in ins]
        try:
            shapes, dtypes = [s for s, _ in inputs], [d for _, d in inputs]
            inferred, out_values = infer_with_values(layer, shapes, dtypes, in_values)
            validate_with_values(layer, shapes, dtypes, in_values)
            if len(inferred) != len(outs):  # a layer's _infer gives one type per output
                raise LayerSpecError(f"{len(inferred)} outputs inferred, {len(outs)} expected")
        except (LayerSpecError, EmulatorError, ArithmeticError) as error:
            if where is None:
                raise PlanError(f"{layer._name}: {error}") from None
            raise PlanError(f"layer {index} ({layer._name!r}), {where}: {error}") from None
        except Exception as error:  # a plan being loaded is untrusted: no layer may crash it
            if where is None:
                raise
            raise PlanError(
                f"layer {index} ({layer._name!r}), {where}: {type(error).__name__}: {error}"
            ) from None
        results.update(zip(outs, inferred, strict=True))
        values.update(zip(outs, out_values, strict=True))
    return results


def infer_plan_shapes(
    plan: Plan, input_shapes: Mapping[str, tuple[int, ...]]
) -> dict[int, tuple[tuple[int, ...], DataType]]:
    """Shapes and dtypes of every tensor for concrete input shapes; PlanError on a bad layer."""
    return _infer(plan, input_shapes, None)


def nptype_or_raise(dtype: DataType) -> type:
    """The NumPy type for I/O of ``dtype``; PlanError where the emulator has none."""
    try:
        return nptype(dtype)
    except TypeError:
        raise PlanError(f"the emulator cannot exchange {dtype} tensors") from None
