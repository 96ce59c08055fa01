"""Damaged and forged emulated plans: ``load_plan`` refuses them with one PlanError that says what
is wrong, never another exception; the emulated Runtime logs that error and returns None; and a
plan that loads runs. Also: every layer class's field table is exactly what it serializes.
"""

from __future__ import annotations

import copy
import io
import json
import math
import random
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cases import CASES, case_input_types
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trtdsl.emulator as trt
from trtdsl import ModelBuilder
from trtdsl.backends.trt import BuildConfig, build_engine, emit_network, import_trt, prepare_graph
from trtdsl.emulator.enums import ENUMS
from trtdsl.emulator.execute import run_plan
from trtdsl.emulator.layers.fields import plan_fields, plan_weights
from trtdsl.emulator.plan import MAGIC, PlanError, load_plan
from trtdsl.emulator.plan_read import _plan_layer_classes
from trtdsl.emulator.types import EmulatorError
from trtdsl.weights import random_weights

Tree = Any
"""A parsed plan description (JSON values)."""


# -- seed plans -----------------------------------------------------------------------------------


def _builder() -> tuple[Any, Any, Any]:
    builder = trt.Builder(trt.Logger(trt.Logger.INTERNAL_ERROR))
    network = builder.create_network(0)
    config = builder.create_builder_config()
    config.clear_flag(trt.BuilderFlag.TF32)
    return builder, network, config


def _build(builder: Any, network: Any, config: Any) -> bytes:
    plan = builder.build_serialized_network(network, config)
    assert plan is not None, builder._logger._messages
    return bytes(plan)


def _constant(network: Any, value: Any, dtype: Any = np.float32) -> Any:
    array = np.array(value, dtype=dtype)  # a scalar stays 0-D
    network._keep = [*getattr(network, "_keep", []), array]
    return network.add_constant(array.shape, array).get_output(0)


def _classifier_plan() -> bytes:
    """Dynamic batch, two profiles, refittable: conv (named weights), scale, relu, pooling,
    shuffle, matrix multiply, bias, softmax."""
    builder, net, config = _builder()
    rng = np.random.default_rng(0)
    x = net.add_input("x", trt.float32, (-1, 3, 8, 8))
    kernel = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    conv = net.add_convolution_nd(x, 4, (3, 3), kernel, bias)
    conv.padding_nd = (1, 1)
    conv.name = "conv"
    net.set_weights_name(kernel, "conv.weight")
    scale = net.add_scale(
        conv.get_output(0),
        trt.ScaleMode.CHANNEL,
        np.full(4, 0.5, np.float32),
        np.ones(4, np.float32),
    )
    relu = net.add_activation(scale.get_output(0), trt.ActivationType.LEAKY_RELU)
    pool = net.add_pooling_nd(relu.get_output(0), trt.PoolingType.AVERAGE, (2, 2))
    pool.stride_nd = (2, 2)
    flat = net.add_shuffle(pool.get_output(0))
    flat.reshape_dims = (0, -1)
    fc = net.add_matrix_multiply(
        flat.get_output(0),
        trt.MatrixOperation.NONE,
        _constant(net, rng.standard_normal((64, 5))),
        trt.MatrixOperation.NONE,
    )
    logits = net.add_elementwise(
        fc.get_output(0), _constant(net, rng.standard_normal((1, 5))), trt.ElementWiseOperation.SUM
    )
    softmax = net.add_softmax(logits.get_output(0))
    softmax.axes = 1 << 1
    out = softmax.get_output(0)
    out.name = "probs"
    net.mark_output(out)
    for shapes in (((1, 3, 8, 8), (2, 3, 8, 8), (4, 3, 8, 8)), ((3, 3, 8, 8),) * 3):
        profile = builder.create_optimization_profile()
        profile.set_shape("x", *shapes)
        config.add_optimization_profile(profile)
    config.set_flag(trt.BuilderFlag.REFIT)
    return _build(builder, net, config)


def _loop_plan() -> bytes:
    """A counted loop: r starts at x and gains 1.5 per iteration, 3 iterations."""
    builder, net, config = _builder()
    loop = net.add_loop()
    r = loop.add_recurrence(net.add_input("x", trt.float32, (2,)))
    step = net.add_elementwise(
        r.get_output(0), _constant(net, [1.5, 1.5]), trt.ElementWiseOperation.SUM
    )
    r.set_input(1, step.get_output(0))
    loop.add_trip_limit(_constant(net, 3, np.int32), trt.TripLimit.COUNT)
    out = loop.add_loop_output(r.get_output(0), trt.LoopOutput.LAST_VALUE).get_output(0)
    out.name = "y"
    net.mark_output(out)
    return _build(builder, net, config)


def _shapes_plan() -> bytes:
    """Shape tensors and data movement: shape, slice, resize by a shape input, padding,
    concatenation, top-k, cast, reduce."""
    builder, net, config = _builder()
    x = net.add_input("x", trt.float32, (1, 2, -1, -1))
    shape = net.add_shape(x).get_output(0)
    size = net.add_slice(shape, (0,), (4,), (1,)).get_output(0)
    resize = net.add_resize(x)
    resize.set_input(1, size)
    resize.resize_mode = trt.InterpolationMode.LINEAR
    padded = net.add_padding_nd(resize.get_output(0), (1, 1), (0, 0)).get_output(0)
    both = net.add_concatenation([padded, padded])
    both.axis = 1
    top = net.add_topk(both.get_output(0), trt.TopKOperation.MAX, 2, 1 << 1)
    half = net.add_cast(top.get_output(0), trt.float16).get_output(0)
    total = net.add_reduce(half, trt.ReduceOperation.SUM, 1 << 3, True).get_output(0)
    total.name = "total"
    net.mark_output(total)
    indices = top.get_output(1)
    indices.name = "indices"
    net.mark_output(indices)
    profile = builder.create_optimization_profile()
    profile.set_shape("x", (1, 2, 2, 2), (1, 2, 4, 4), (1, 2, 6, 6))
    config.add_optimization_profile(profile)
    return _build(builder, net, config)


SEEDS: dict[str, bytes] = {
    "classifier": _classifier_plan(),
    "loop": _loop_plan(),
    "shapes": _shapes_plan(),
}


def _split(blob: bytes) -> tuple[Tree, bytes]:
    start = len(MAGIC) + 8
    (length,) = struct.unpack_from("<Q", blob, len(MAGIC))
    return json.loads(blob[start : start + length]), blob[start + length :]


def _join(description: Tree, archive: bytes, text: str | None = None) -> bytes:
    data = (json.dumps(description) if text is None else text).encode("utf-8")
    return MAGIC + struct.pack("<Q", len(data)) + data + archive


def _arrays(archive: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(archive), allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def _archive(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def _layer(description: Tree, cls: str) -> Tree:
    return next(layer for layer in description["layers"] if layer["class"] == cls)


def _refused(blob: bytes, match: str) -> None:
    with pytest.raises(PlanError, match=match):
        load_plan(blob)


# -- the header -----------------------------------------------------------------------------------


def test_seed_plans_load_and_run() -> None:
    for blob in SEEDS.values():
        assert _run(blob)


@pytest.mark.parametrize("cut", [0, 10, len(MAGIC), len(MAGIC) + 5, len(MAGIC) + 8, 400])
def test_truncated_in_the_header_or_description(cut: int) -> None:
    blob = SEEDS["classifier"]
    _refused(blob[:cut], "not an emulated plan|truncated")


@pytest.mark.parametrize("keep", [1, 100, 2000])
def test_truncated_in_the_weights_archive(keep: int) -> None:
    description, archive = _split(SEEDS["classifier"])
    _refused(_join(description, archive[: len(archive) - keep]), "weights archive")


def test_bad_magic_and_not_bytes() -> None:
    blob = bytearray(SEEDS["loop"])
    blob[3] ^= 0x20
    _refused(bytes(blob), "not an emulated plan")
    _refused(b"", "not an emulated plan")
    with pytest.raises(PlanError, match="expected plan bytes, got int"):
        load_plan(123)  # type: ignore[arg-type]


@pytest.mark.parametrize("length", [2**64 - 1, 2**40, 10**6])
def test_a_length_beyond_the_plan(length: int) -> None:
    blob = SEEDS["loop"]
    forged = MAGIC + struct.pack("<Q", length) + blob[len(MAGIC) + 8 :]
    _refused(forged, rf"truncated: the header says {length} bytes of JSON, the plan holds \d+")


# -- the JSON description -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "not valid JSON"),
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ('{"tf32": NaN}', "NaN is not a JSON number"),
        ('{"tf32": Infinity}', "Infinity is not a JSON number"),
        ("[1, 2]", "expected an object"),
        ("[" * 100_000, "not valid JSON"),
        ('{"n": ' + "9" * 5000 + "}", "not valid JSON"),
    ],
)
def test_not_json(text: str, match: str) -> None:
    _, archive = _split(SEEDS["loop"])
    _refused(_join(None, archive, text), match)


def test_not_utf8() -> None:
    blob = SEEDS["loop"]
    start = len(MAGIC) + 8
    _refused(blob[:start] + b"\xff" + blob[start + 1 :], "not UTF-8")


Edit = Callable[[Tree], None]


def _set(path: str, value: Any) -> Edit:
    """An edit that sets ``description[a][b]...`` (path ``a.b.0``) to ``value``."""

    def edit(tree: Tree) -> None:
        *parents, last = (int(k) if k.isdigit() else k for k in path.split("."))
        for key in parents:
            tree = tree[key]
        tree[last] = value

    return edit


def _delete(path: str) -> Edit:
    def edit(tree: Tree) -> None:
        *parents, last = (int(k) if k.isdigit() else k for k in path.split("."))
        for key in parents:
            tree = tree[key]
        del tree[last]

    return edit


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (_set("num_profiles", "2"), r"field 'num_profiles': expected an integer"),
        (_set("num_profiles", 0), r"field 'num_profiles': 0 is outside 1..256"),
        (_set("num_profiles", 1), r"io\[0\] \('x'\) has 2 profiles; num_profiles is 1"),
        (_set("layers.0.inputs.0", "x"), r"field 'layers\[0\].inputs\[0\]': expected an integer"),
        (_set("layers.0.inputs.0", -3), r"'layers\[0\]': inputs\[0\]: -3 is outside 0..2147483647"),
        (_set("layers.0.name", None), r"field 'layers\[0\].name': expected a string, got null"),
        (_set("layers.0.p", []), r"field 'layers\[0\].p': expected an object"),
        (_set("layers.1.outputs_types.0.1", "FLOAT64"), "'FLOAT64' is not a DataType"),
        (_set("layers.1.outputs_names", []), "1 outputs, 0 outputs_names"),
        (_set("io.0.dtype", "float32"), "'float32' is not a DataType"),
        (_set("io.0.shape", [-1, 3, 8, 8.0]), r"io\[0\].shape\[3\]': expected an integer"),
        (_set("io.0.input", 1), r"io\[0\].input': expected a boolean"),
        (_set("profiling_verbosity", "LOUD"), "'LOUD' is not a ProfilingVerbosity"),
        (_set("emulated", False), "field 'emulated': expected True"),
        (_set("version", "12.0.0-emulated"), "emulator version '12.0.0-emulated'"),
        (_delete("layers"), "field 'layers': missing"),
        (_delete("tf32"), "field 'tf32': missing"),
        (_delete("layers.0.w.kernel.count"), r"'layers\[0\].w.kernel.count': missing"),
        (_set("layers.0.w.kernel.count", -1), r"'layers\[0\].w.kernel.count': -1 is outside"),
    ],
    ids=lambda v: getattr(v, "__name__", None) or str(v)[:30],
)
def test_wrong_typed_fields_name_the_field(edit: Edit, match: str) -> None:
    description, archive = _split(SEEDS["classifier"])
    edit(description)
    _refused(_join(description, archive), match)


# -- layer classes and properties -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["IPluginV2Layer", "ILayer", "ConvolutionBase", "_LoopBoundary", "object", "__init__"]
)
def test_only_the_emulators_layer_classes(name: str) -> None:
    description, archive = _split(SEEDS["classifier"])
    description["layers"][0]["class"] = name
    _refused(
        _join(description, archive),
        rf"layer 0 \('conv'\): '{name}' is not a layer class of the emulator",
    )


@pytest.mark.parametrize(
    ("cls", "key", "value", "match"),
    [
        ("IConvolutionLayer", "stride_nd", "x", r"expected Dims"),
        ("IConvolutionLayer", "stride_nd", {"dims": [1, True]}, r"dims\[1\]: expected an int"),
        ("IConvolutionLayer", "stride_nd", {"perm": [1, 1]}, "expected Dims"),
        ("IConvolutionLayer", "stride_nd", {"dims": [1] * 9}, "expected Dims"),
        ("IConvolutionLayer", "stride_nd", {"dims": [2**70, 1]}, "outside the int64 range"),
        ("IConvolutionLayer", "num_groups", 1.0, "expected an int"),
        ("IConvolutionLayer", "num_groups", True, "expected an int"),
        (
            "IConvolutionLayer",
            "padding_mode",
            {"enum": "PoolingType", "name": "MAX"},
            "expected a PaddingMode member, got the string 'PoolingType'",
        ),
        (
            "IConvolutionLayer",
            "padding_mode",
            {"enum": "PaddingMode", "name": "__class__"},
            "the string '__class__' is not a member of PaddingMode",
        ),
        ("IConvolutionLayer", "padding_mode", 1, "expected a PaddingMode member"),
        ("IActivationLayer", "alpha", 1e39, "alpha must be a finite float32 value"),
        ("IActivationLayer", "alpha", 0.1, "alpha must be a finite float32 value"),
        ("IActivationLayer", "alpha", "0.5", "expected a finite number"),
        ("IPoolingLayer", "average_count_excludes_padding", 1, "expected a boolean"),
        ("ISoftMaxLayer", "axes", 3, "exactly one axis bit must be set"),
        ("IShuffleLayer", "first_transpose", {"dims": [0, 1]}, "expected a Permutation"),
        ("IShuffleLayer", "reshape_dims", [0, -1], "expected Dims"),
        ("IScaleLayer", "min_rank", 5, "min_rank is 3 or 4"),
    ],
)
def test_property_values_the_setters_refuse(cls: str, key: str, value: Any, match: str) -> None:
    description, archive = _split(SEEDS["classifier"])
    _layer(description, cls)["p"][key] = value
    _refused(_join(description, archive), rf"layer \d+ \('[^']*'\): property '{key}': .*{match}")


def test_numbers_beyond_float64_are_refused() -> None:
    description, archive = _split(SEEDS["classifier"])
    _layer(description, "IPoolingLayer")["p"]["blend_factor"] = "BIG"
    text = json.dumps(description).replace('"BIG"', "1e400")
    _refused(
        _join(None, archive, text), "property 'blend_factor': expected a finite number, got inf"
    )


def test_unknown_and_missing_properties() -> None:
    description, archive = _split(SEEDS["classifier"])
    conv = _layer(description, "IConvolutionLayer")
    conv["p"]["__class__"] = {"dims": []}
    _refused(_join(description, archive), "unknown property '__class__' \\(a IConvolutionLayer")
    del conv["p"]["__class__"]
    del conv["p"]["dilation_nd"]
    _refused(_join(description, archive), "property 'dilation_nd' is missing")


def test_properties_of_resize_loops_and_nms() -> None:
    description, archive = _split(SEEDS["shapes"])
    resize = _layer(description, "IResizeLayer")
    resize["p"]["scales"] = {"floats": [1.0, 1.0, 2.0, 2.0]}
    resize["p"]["shape"] = {"dims": [1, 2, 4, 4]}
    _refused(_join(description, archive), "'shape' and 'scales' are both set")
    description, archive = _split(SEEDS["loop"])
    _layer(description, "ILoopOutputLayer")["p"]["kind"]["name"] = "CONCATENATE"
    _refused(_join(description, archive), "the emulator has LoopOutput.LAST_VALUE only")
    description, archive = _split(SEEDS["loop"])
    _layer(description, "IRecurrenceLayer")["p"]["next"] = -1
    _refused(_join(description, archive), "the next value is not set")
    description, archive = _split(SEEDS["loop"])
    _layer(description, "IRecurrenceLayer")["p"]["next"] = 999
    _refused(_join(description, archive), "the next value is tensor 999, which no layer computes")


def test_inputs_outputs_and_weights_roles_per_class() -> None:
    description, archive = _split(SEEDS["classifier"])
    _layer(description, "IElementWiseLayer")["inputs"].pop()
    _refused(_join(description, archive), "1 inputs; a IElementWiseLayer takes 2")
    description, archive = _split(SEEDS["classifier"])
    conv = _layer(description, "IConvolutionLayer")
    conv["w"]["power"] = conv["w"].pop("bias")
    _refused(_join(description, archive), "a IConvolutionLayer has no weights 'power'")
    del conv["w"]["power"]
    arrays = _arrays(archive)
    del arrays["l0_bias"]
    _refused(_join(description, _archive(arrays)), "weights 'bias' are missing")


def test_a_layer_that_does_not_infer_is_named() -> None:
    description, archive = _split(SEEDS["classifier"])
    _layer(description, "IConvolutionLayer")["p"]["stride_nd"] = {"dims": [0, 1]}
    _refused(
        _join(description, archive),
        r"layer 0 \('conv'\), profile 0 at its min shapes: kernel size, stride and dilation",
    )
    description, archive = _split(SEEDS["shapes"])
    resize = _layer(description, "IResizeLayer")
    description["layers"][description["layers"].index(resize)]["inputs"].pop()
    resize["p"]["scales"], resize["p"]["shape"] = {"floats": [1.0, 1.0, 1e308, 1e308]}, None
    _refused(_join(description, archive), "infinity|at most 2147483647")


# -- weights --------------------------------------------------------------------------------------


def test_weights_missing_shared_or_unused() -> None:
    description, archive = _split(SEEDS["classifier"])
    arrays = _arrays(archive)
    del arrays["l0_kernel"]
    _refused(
        _join(description, _archive(arrays)),
        r"layer 0 \('conv'\): weights 'kernel': 'l0_kernel' is missing from the archive",
    )
    arrays = _arrays(archive)
    arrays["extra"] = np.zeros(3, np.float32)
    _refused(_join(description, _archive(arrays)), "holds 'extra', which no layer uses")
    description["layers"][0]["w"]["bias"]["key"] = "l0_kernel"
    _refused(_join(description, archive), "'l0_kernel' is also the weights of layer 0")


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (
            np.zeros(108, np.float64),
            "holds 108 float64 values as 'l0_kernel', expected 108 float32",
        ),
        (np.zeros(107, np.float32), "holds 107 float32 values"),
        (np.zeros((108, 1), np.float32), "holds 108x1 float32 values"),
        (np.zeros(108, ">f4"), ">f4 values"),
        (np.zeros(108, np.complex64), "complex64 values"),
        (np.array([None] * 108, dtype=object), "never unpickles"),
    ],
    ids=["float64", "count", "2d", "big-endian", "complex", "pickle"],
)
def test_weights_of_the_wrong_type_or_count(array: np.ndarray, match: str) -> None:
    description, archive = _split(SEEDS["classifier"])
    arrays = _arrays(archive)
    arrays["l0_kernel"] = array
    buffer = io.BytesIO()
    np.savez(buffer, **arrays, allow_pickle=True)  # type: ignore[arg-type]
    _refused(_join(description, buffer.getvalue()), match)


def test_weights_declared_of_another_type_or_count() -> None:
    description, archive = _split(SEEDS["classifier"])
    kernel = description["layers"][0]["w"]["kernel"]
    kernel["dtype"] = "HALF"
    _refused(_join(description, archive), "expected 108 float16")
    kernel["dtype"], kernel["count"] = "FLOAT", 100
    _refused(_join(description, archive), "expected 100 float32")
    kernel["dtype"], kernel["count"] = "FP8", 108
    _refused(_join(description, archive), "the emulator computes no FP8 weights")


def test_an_array_larger_than_the_archive_is_refused_before_it_is_read() -> None:
    description, archive = _split(SEEDS["classifier"])
    description["layers"][0]["w"]["kernel"]["count"] = 10**12
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (10**12,)}
    )
    arrays = _arrays(archive)
    del arrays["l0_kernel"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as forged:
        forged.writestr("l0_kernel.npy", b"\x93NUMPY\x01\x00" + header.getvalue()[8:])
        for key, array in arrays.items():
            member = io.BytesIO()
            np.save(member, array)
            forged.writestr(f"{key}.npy", member.getvalue())
    _refused(_join(description, buffer.getvalue()), "'l0_kernel' is larger than the archive")


def test_a_corrupt_archive() -> None:
    description, archive = _split(SEEDS["classifier"])
    _refused(_join(description, b"PK\x03\x04" + bytes(200)), "weights archive")
    _refused(_join(description, b""), "weights archive")
    damaged = bytearray(archive)
    for index in range(0, len(damaged), 7):
        damaged[index] ^= 0x5A
    _refused(_join(description, bytes(damaged)), "weights archive")


# -- wiring and profiles --------------------------------------------------------------------------


def test_tensors_read_before_they_are_computed() -> None:
    description, archive = _split(SEEDS["classifier"])
    layers = description["layers"]
    layers[0]["inputs"][0] = layers[1]["outputs"][0]
    _refused(
        _join(description, archive),
        r"layer 0 \('conv'\): input 0 is tensor \d+, which is neither a network input nor",
    )
    description, archive = _split(SEEDS["classifier"])
    layers = description["layers"]
    layers[2]["outputs"][0] = layers[1]["outputs"][0]
    _refused(_join(description, archive), r"its output tensor \d+ is already an output of layer 1")
    description, archive = _split(SEEDS["classifier"])
    description["layers"][0]["outputs"][0] = description["io"][0]["id"]
    _refused(_join(description, archive), r"its output tensor \d+ is already a network input")


def test_io_tensors_unique_and_computed() -> None:
    description, archive = _split(SEEDS["shapes"])
    description["io"][2]["name"] = description["io"][1]["name"]
    _refused(_join(description, archive), r"io\[2\] \('total'\): io\[1\] has the same name")
    description, archive = _split(SEEDS["shapes"])
    description["io"][2]["id"] = description["io"][1]["id"]
    _refused(_join(description, archive), r"io\[1\] is the same tensor")
    description, archive = _split(SEEDS["shapes"])
    description["io"][1]["id"] = 12345
    _refused(_join(description, archive), "output tensor 12345 is computed by no layer")
    description, archive = _split(SEEDS["shapes"])
    description["io"][1]["dtype"] = "FLOAT"
    _refused(_join(description, archive), r"declared \[1, 2, -1, 1\] FLOAT, but its layer outputs")
    description, archive = _split(SEEDS["shapes"])
    description["io"] = description["io"][:1]
    _refused(_join(description, archive), "the plan has no outputs")


def test_loop_wiring() -> None:
    description, archive = _split(SEEDS["loop"])
    recurrence = _layer(description, "IRecurrenceLayer")
    output = _layer(description, "ILoopOutputLayer")
    description["io"][1]["id"] = recurrence["outputs"][0]
    description["io"][1]["shape"] = [2]
    _refused(_join(description, archive), r"io\[1\] \('y'\): an output computed inside a loop")
    description, archive = _split(SEEDS["loop"])
    recurrence = _layer(description, "IRecurrenceLayer")
    recurrence["p"]["next"] = _layer(description, "ILoopOutputLayer")["outputs"][0]
    _refused(_join(description, archive), "the next value is computed after the loop")
    description, archive = _split(SEEDS["loop"])
    _layer(description, "ITripLimitLayer")["p"]["kind"]["name"] = "WHILE"
    _refused(_join(description, archive), "a WHILE trip limit must be BOOL")
    assert output  # the loop's other layers are what the cases above rewire


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (_set("io.0.profiles.0.0.0", 3), r"io\[0\]': profiles\[0\]: min 3 > opt 2 \(dimension 0\)"),
        (_set("io.0.profiles.0.2.0", 1), r"profiles\[0\]: opt 2 > max 1"),
        (_set("io.0.profiles.0.1", [2, 3, 8]), r"opt \[2, 3, 8\] does not have the rank"),
        (_set("io.0.profiles.1.0.1", 4), r"dimension 1 is 3 in the shape, 4..3 in the profile"),
        (_set("io.0.profiles.0.2.0", 2**31), r"profiles\[0\]: max\[0\]: 2147483648 is outside"),
        (_set("io.0.profiles.0.0.0", -1), r"min\[0\]: -1 is outside 0"),
        (_set("io.1.profiles", [[[1, 5], [1, 5], [1, 5]]]), "an output has no profiles"),
        (_set("io.0.shape", [-1, 3, 8, 8, 1, 1, 1, 1, 1]), "at most 8"),
    ],
)
def test_bad_profiles(edit: Edit, match: str) -> None:
    description, archive = _split(SEEDS["classifier"])
    edit(description)
    _refused(_join(description, archive), match)


def test_build_time_types_must_match_inference() -> None:
    description, archive = _split(SEEDS["classifier"])
    description["layers"][0]["outputs_types"][0][0] = [-1, 4, 8, 9]
    _refused(
        _join(description, archive),
        r"profile 0 at its min shapes: inferred \[1, 4, 8, 8\] FLOAT, the plan declares "
        r"\[-1, 4, 8, 9\] FLOAT",
    )


def test_a_plan_too_large_for_memory_runs_to_a_plan_error() -> None:
    """A forged resize to 2**20 x 2**20 loads (its dims are within bounds) and is refused
    before any of it is computed, not with a MemoryError halfway through."""
    description, archive = _split(SEEDS["shapes"])
    resize = _layer(description, "IResizeLayer")
    resize["inputs"].pop()
    resize["p"]["shape"] = {"dims": [1, 2, 2**20, 2**20]}
    plan = load_plan(_join(description, archive))
    with pytest.raises(PlanError, match=r"would need .* of memory"):
        run_plan(plan, {"x": np.zeros((1, 2, 2, 2), np.float32)})


@pytest.mark.parametrize("fault", ["initial", "next"])
def test_builds_refuse_loops_the_emulator_cannot_run(fault: str) -> None:
    """A recurrence's initial value computed in its own loop, or its next value computed after
    the loop: both built and failed at run time (KeyError) before; the build refuses them."""
    builder, net, config = _builder()
    loop = net.add_loop()
    first = loop.add_recurrence(net.add_input("x", trt.float32, (1,)))
    second = loop.add_recurrence(first.get_output(0) if fault == "initial" else _constant(net, [1]))
    first.set_input(1, first.get_output(0))
    loop.add_trip_limit(_constant(net, 2, np.int32), trt.TripLimit.COUNT)
    output = loop.add_loop_output(second.get_output(0), trt.LoopOutput.LAST_VALUE).get_output(0)
    net.mark_output(output)
    second.set_input(1, second.get_output(0) if fault == "initial" else _constant(net, [2]))
    assert builder.build_serialized_network(net, config) is None
    (message,) = [m for _, m in builder._logger._messages]
    assert {
        "initial": "the initial value of a recurrence must be computed before its loop",
        "next": "the next value is computed after the loop",
    }[fault] in message


# -- the runtime, and refit through the validated description -------------------------------------


def test_the_runtime_logs_the_error_and_returns_none() -> None:
    description, archive = _split(SEEDS["classifier"])
    description["layers"][0]["p"]["stride_nd"] = "x"
    logger = trt.Logger(trt.Logger.INTERNAL_ERROR)
    assert trt.Runtime(logger).deserialize_cuda_engine(_join(description, archive)) is None
    (message,) = [m for s, m in logger._messages if s == trt.Logger.ERROR]
    assert message.startswith("deserialize_cuda_engine: layer 0 ('conv'): property 'stride_nd'")


def test_refit_reads_the_validated_description() -> None:
    logger = trt.Logger(trt.Logger.INTERNAL_ERROR)
    engine = trt.Runtime(logger).deserialize_cuda_engine(SEEDS["classifier"])
    assert (
        engine.refittable
        and not trt.Runtime(logger).deserialize_cuda_engine(SEEDS["loop"]).refittable
    )
    refitter = trt.Refitter(engine, logger)
    assert refitter.get_all_weights()[0] == "conv.weight"
    assert refitter.set_named_weights("conv.weight", np.zeros(108, np.float32))
    assert refitter.refit_cuda_engine()
    refitted = bytes(engine.serialize())
    assert load_plan(refitted).layers[0][0]._w["kernel"].numpy().tolist() == [0.0] * 108
    _, archive = _split(refitted)
    assert _arrays(archive).keys() == _arrays(_split(SEEDS["classifier"])[1]).keys()


# -- field tables ---------------------------------------------------------------------------------


def _case_plans() -> list[bytes]:
    """Every op case of tests/cases.py emitted for the emulator (TensorRT's network and
    TensorRT-RTX's, whose NMS is a loop), and the seeds."""
    emulator = import_trt("emulated")
    plans = list(SEEDS.values())
    for product in ("tensorrt", "tensorrt-rtx"):
        for case in CASES:
            builder = ModelBuilder(case.id)
            types = case_input_types(case)
            inputs = [builder.input(f"x{i}", t.shape, dtype=t.dtype) for i, t in enumerate(types)]
            builder.output(builder.node(case.op, *inputs, name="op"), "y")
            graph, weights = prepare_graph(
                builder.build(), random_weights(builder.build(), seed=0), "fp32"
            )
            emitted = emit_network(emulator, graph, weights, product=product)
            plans.append(build_engine(emitted, BuildConfig()))
    return [*plans, _plugin_plan()]


def _plugin_plan() -> bytes:
    """A plan with an IPluginV3Layer: the Mish plugin of examples/custom_ops."""
    import trtdsl
    from trtdsl.ir.ops.custom import custom_op_scope

    with custom_op_scope():
        trtdsl.load_ops(Path(__file__).parents[1] / "examples" / "custom_ops" / "mish.py")
        builder = ModelBuilder("plugin")
        builder.output(builder.mish_plugin(builder.input("x", (1, 4)), name="op"), "y")
        emitted = emit_network(import_trt("emulated"), builder.build(), {})
        return build_engine(emitted, BuildConfig())


def test_field_tables_are_exactly_what_layers_serialize() -> None:
    """Each class's declared properties and weights are the keys its layers write, and every
    layer class of the emulator is among those checked."""
    classes = _plan_layer_classes()
    seen: set[str] = set()
    for blob in _case_plans():
        description, _ = _split(blob)
        for layer in description["layers"]:
            cls = classes[layer["class"]]
            assert set(layer["p"]) == set(plan_fields(cls)), cls.__name__
            assert set(layer["w"]) == set(plan_weights(cls)), cls.__name__
            seen.add(cls.__name__)
    assert seen == set(classes)
    assert "ConvolutionBase" not in classes and "_LoopBoundary" not in classes


# -- fuzzing --------------------------------------------------------------------------------------


def _run(blob: bytes) -> bool:
    """Deserialize ``blob`` (which loads) and run it on seeded inputs at profile 0's min
    shapes; True when it ran (False: skipped for size, or refused by a documented error)."""
    logger = trt.Logger(trt.Logger.INTERNAL_ERROR)
    engine = trt.Runtime(logger).deserialize_cuda_engine(blob)
    assert engine is not None, logger._messages
    context = engine.create_execution_context()
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    rng = np.random.default_rng(0)
    buffers = []
    try:
        for name in names:
            if engine.get_tensor_mode(name) != trt.TensorIOMode.INPUT:
                continue
            shape = tuple(engine.get_tensor_profile_shape(name, 0)[0])
            if math.prod(shape) > 1 << 16:
                return False
            assert context.set_input_shape(name, shape), logger._messages
            dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
            buffers.append((rng.standard_normal(shape) * 3).astype(dtype))
            assert context.set_tensor_address(name, buffers[-1].ctypes.data)
        for name in names:
            if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                continue
            shape = tuple(context.get_tensor_shape(name))
            if -1 in shape or math.prod(shape) > 1 << 20:
                return False
            buffers.append(np.zeros(shape, trt.nptype(engine.get_tensor_dtype(name))))
            assert context.set_tensor_address(name, buffers[-1].ctypes.data)
        with np.errstate(all="ignore"):  # a nudged plan may compute NaN (POW of a negative)
            return bool(context.execute_async_v3(0))
    except (EmulatorError, TypeError) as error:  # documented: unsupported, or no NumPy type
        assert not isinstance(error, TypeError) or "numpy datatype" in str(error)
        return False


def _paths(tree: Tree, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every node of a JSON tree, as key paths (the root excluded)."""
    children: list[tuple[Any, Any]] = []
    if isinstance(tree, dict):
        children = list(tree.items())
    elif isinstance(tree, list):
        children = list(enumerate(tree))
    paths = []
    for key, value in children:
        paths.append((*prefix, key))
        paths.extend(_paths(value, (*prefix, key)))
    return paths


_NAMES = sorted(_plan_layer_classes()) + [
    "FLOAT", "HALF", "INT32", "INT64", "BOOL", "BF16", "FP8", "ILayer", "x", "probs", "y",
    "conv", "l0_kernel", "l0_bias", "dims", "perm", "floats", "enum", "name", "MAX", "SUM",
    "LAST_VALUE", "WHILE", "COUNT", "PaddingMode", "DataType", "",
]  # fmt: skip

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 70),
    st.sampled_from([2**31, 2**63, 2**64, -(2**63) - 1, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from(_NAMES),
    st.text(max_size=8),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.sampled_from(_NAMES), inner, max_size=3),
        st.builds(lambda v: {"dims": v}, st.lists(st.integers(-2, 9), max_size=9)),
        st.builds(
            lambda e, n: {"enum": e, "name": n},
            st.sampled_from(["PaddingMode", "DataType", "PoolingType", "TripLimit", "X"]),
            st.sampled_from(_NAMES),
        ),
    ),
    max_leaves=6,
)


def _nudge(value: Any, rng: random.Random, data: st.DataObject) -> Any:
    """A value near ``value`` (what a careless edit or a near-miss forgery gives)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + rng.choice([-1, 1, 2, -value - 1, value])
    if isinstance(value, float):
        return value * rng.choice([-1.0, 0.5, 2.0, 0.0])
    if isinstance(value, str):
        return rng.choice([rng.choice(_NAMES), value + "_", ""])
    return data.draw(_VALUES)


def _mutate(tree: Tree, rng: random.Random, data: st.DataObject) -> None:
    """One edit of a node (its field picked uniformly, then one node of that field): delete
    it, replace it by any JSON value, nudge it, or duplicate or swap a list entry."""
    fields: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for path in _paths(tree):
        fields.setdefault(tuple(k for k in path if isinstance(k, str)), []).append(path)
    path = rng.choice(fields[rng.choice(sorted(fields))])
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    action = rng.choice(["delete", "replace", "nudge", "nudge", "nudge", "duplicate", "swap"])
    if action == "delete":
        del parent[key]
    elif action == "replace":
        parent[key] = data.draw(_VALUES)
    elif action == "nudge":
        parent[key] = _nudge(parent[key], rng, data)
    elif isinstance(parent, list) and action == "duplicate":
        parent.insert(key, copy.deepcopy(parent[key]))
    elif isinstance(parent, list):
        other = rng.randrange(len(parent))
        parent[key], parent[other] = parent[other], parent[key]


def _load_or_refuse(blob: bytes) -> bool:
    """load_plan either succeeds (True) or raises PlanError (False); nothing else."""
    try:
        load_plan(blob)
    except PlanError:
        return False
    return True


_SETTINGS = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_fuzz_the_json_description() -> None:
    loaded, ran = [0], [0]

    @_SETTINGS
    @given(
        st.sampled_from(sorted(SEEDS)),
        st.integers(1, 3),
        st.randoms(use_true_random=True),
        st.data(),
    )
    def check(seed: str, count: int, rng: random.Random, data: st.DataObject) -> None:
        description, archive = _split(SEEDS[seed])
        for _ in range(count):
            if _paths(description):
                _mutate(description, rng, data)
        text = json.dumps(description)  # may hold NaN or Infinity: refused as not JSON
        blob = _join(None, archive, text)
        if _load_or_refuse(blob):
            loaded[0] += 1
            ran[0] += _run(blob)

    check()
    assert loaded[0] >= 10 and ran[0] >= 5, (loaded, ran)


def _variant(value: Any, rng: random.Random) -> Any:
    """A property value of the same shape as ``value``, near it or of another kind: another
    member of its enum (or of another enum), dims off by a little, a changed number."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return rng.choice([value - 1, value + 1, value * 2, -value, 0, rng.randint(-2, 40)])
    if isinstance(value, float):
        return rng.choice([value * 2, -value, 0.0, 0.5, 1e30, rng.uniform(-2, 2)])
    if isinstance(value, dict) and "enum" in value:
        enum = value["enum"] if rng.random() < 0.85 else rng.choice(sorted(ENUMS))
        return {"enum": enum, "name": rng.choice(sorted(ENUMS[enum].__members__))}
    if isinstance(value, dict) and len(value) == 1:
        (tag, entries), entries = next(iter(value.items())), list(next(iter(value.values())))
        if entries and rng.random() < 0.7:
            at = rng.randrange(len(entries))
            entries[at] = _variant(entries[at], rng)
        elif rng.random() < 0.5:
            entries.append(rng.choice([0, 1, 2]))
        else:
            entries = entries[:-1]
        return {tag: entries}
    if value is None:
        return rng.choice([{"dims": [1, 2, 3, 3]}, {"floats": [1.0, 1.0, 2.0, 2.0]}, 0])
    return value


def test_fuzz_layer_properties() -> None:
    """Near-miss properties (another enum member, dims off by one, ...): many load, and a
    plan that loads runs, or refuses to at run time with the emulator's documented errors."""
    loaded, ran = [0], [0]

    @_SETTINGS
    @given(st.sampled_from(sorted(SEEDS)), st.integers(1, 2), st.randoms(use_true_random=True))
    def check(seed: str, count: int, rng: random.Random) -> None:
        description, archive = _split(SEEDS[seed])
        for _ in range(count):
            layer = rng.choice([x for x in description["layers"] if x["p"]])
            key = rng.choice(sorted(layer["p"]))
            layer["p"][key] = _variant(layer["p"][key], rng)
        blob = _join(description, archive)
        if _load_or_refuse(blob):
            loaded[0] += 1
            ran[0] += _run(blob)

    check()
    assert loaded[0] >= 40 and ran[0] >= 25, (loaded, ran)


def test_fuzz_the_bytes() -> None:
    loaded = [0]

    @_SETTINGS
    @given(st.sampled_from(sorted(SEEDS)), st.data())
    def check(seed: str, data: st.DataObject) -> None:
        blob = bytearray(SEEDS[seed])
        _, archive = _split(bytes(blob))
        regions = {
            "header": (0, len(MAGIC) + 8),
            "json": (len(MAGIC) + 8, len(blob) - len(archive)),
            "archive": (len(blob) - len(archive), len(blob)),
        }
        for _ in range(data.draw(st.integers(1, 4))):
            low, high = regions[data.draw(st.sampled_from(sorted(regions)))]
            at = data.draw(st.integers(low, max(low, min(high, len(blob)) - 1)))
            action = data.draw(st.sampled_from(["flip", "set", "delete", "insert", "cut"]))
            if action == "flip" and at < len(blob):
                blob[at] ^= 1 << data.draw(st.integers(0, 7))
            elif action == "set" and at < len(blob):
                blob[at] = data.draw(st.integers(0, 255))
            elif action == "delete":
                del blob[at : at + data.draw(st.integers(1, 16))]
            elif action == "insert":
                blob[at:at] = data.draw(st.binary(min_size=1, max_size=16))
            else:
                del blob[at:]
        if _load_or_refuse(bytes(blob)):
            loaded[0] += 1
            _run(bytes(blob))

    check()
    assert loaded[0] >= 5, loaded
