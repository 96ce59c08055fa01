"""Every public name of trtdsl.emulator exists in the real TensorRT 11.4 bindings, and it is
always labelled as an emulation."""

from __future__ import annotations

import ast
import enum
import inspect
import textwrap
import types
from pathlib import Path

import pytest

import trtdsl.emulator as trt

NAMES_FILE = Path(__file__).parent / "data" / "trt_names_11.4.txt"
REAL_NAMES = frozenset(NAMES_FILE.read_text().split())
# Attributes that every class inherits from Python builtins (the real pybind classes have their
# own equivalents, which are not identifiers in the .so).
_INHERITED = (
    set(dir(int)) | set(dir(tuple)) | set(dir(bytes)) | set(dir(enum.IntEnum)) | {"name", "value"}
)


def _in_real_bindings(name: str) -> bool:
    # NOTE: the linker stores a string as the tail of a longer one when it can ("REFIT" only
    # lives inside "INCLUDE_REFIT"), so a bound name may appear only as a suffix.
    return name in REAL_NAMES or any(real.endswith(name) for real in REAL_NAMES)


def _instance_attributes(klass: type) -> set[str]:
    """Public attributes a class's methods assign on ``self`` (e.g. ``self.debug_sync = ...``)."""
    if issubclass(klass, enum.Enum):
        return set()  # functional enums have no class statement
    tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
    return {
        target.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id == "self"
        and not target.attr.startswith("_")
    }


def _argument_names(function: object) -> set[str]:
    parameters = inspect.signature(function).parameters.values()  # type: ignore[arg-type]
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return {p.name for p in parameters if p.kind not in variadic and not p.name.startswith("_")} - {
        "self"
    }


def _public_names() -> dict[str, set[str]]:
    """{where: names} for module attributes, class members, enum members and argument names."""
    found: dict[str, set[str]] = {"trtdsl.emulator": set()}
    for name, value in vars(trt).items():
        if name.startswith("_") or isinstance(value, types.ModuleType):
            continue  # submodules are the emulator's file layout, not API
        found["trtdsl.emulator"].add(name)
        if not isinstance(value, type):
            if callable(value):
                found[name] = _argument_names(value)
            continue
        members = set()
        if issubclass(value, enum.Enum):
            members |= set(value.__members__)
        for klass in value.__mro__:
            if klass.__module__.startswith("trtdsl.emulator"):
                members |= {m for m in vars(klass) if not m.startswith("_")}
                members |= _instance_attributes(klass)
        members -= _INHERITED - set(vars(value))
        arguments = set()
        for member in members | {"__init__"}:
            attribute = getattr(value, member, None)
            if inspect.isfunction(attribute):
                arguments |= _argument_names(attribute)
        found[name] = members | arguments
    return found


def test_names_file_is_the_extracted_list() -> None:
    assert len(REAL_NAMES) > 1800
    assert not any(name.startswith(("N8nvinfer", "_Z")) for name in REAL_NAMES)
    assert {
        "add_convolution_nd",
        "average_count_excludes_padding",
        "execute_async_v3",
    } <= REAL_NAMES


def test_every_public_emulator_name_is_a_real_tensorrt_name() -> None:
    unknown = {
        where: sorted(n for n in names if not _in_real_bindings(n))
        for where, names in _public_names().items()
    }
    unknown = {where: names for where, names in unknown.items() if names}
    assert unknown == {}


@pytest.mark.parametrize(
    ("owner", "name"),
    [
        (trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH"),
        (trt.BuilderFlag, "FP16"),
        (trt.BuilderFlag, "INT8"),
        (trt.BuilderFlag, "OBEY_PRECISION_CONSTRAINTS"),
        (trt.ILayer, "precision"),
        (trt.ILayer, "set_output_type"),
        (trt.Builder, "build_engine"),
        (trt.IBuilderConfig, "max_workspace_size"),
        (trt.IExecutionContext, "execute_async_v2"),
        (trt.ICudaEngine, "num_bindings"),
        (trt.INetworkDefinition, "add_convolution"),
    ],
)
def test_names_removed_before_11_are_absent(owner: type, name: str) -> None:
    assert not hasattr(owner, name)


def test_tensor_dtype_is_read_only() -> None:
    builder = trt.Builder(trt.Logger())
    x = builder.create_network().add_input("x", trt.float32, (1, 2))
    with pytest.raises(AttributeError):
        x.dtype = trt.float16


def test_emulation_is_labelled() -> None:
    assert trt.__version__ == "11.4.0-emulated"
    assert trt.__emulated__ is True
    logger = trt.Logger(trt.Logger.VERBOSE)
    builder = trt.Builder(logger)
    assert "emulated" in repr(builder)
    network = builder.create_network()
    layer = network.add_convolution_nd(network.add_input("x", trt.float32, (2, 2)), 1, (1, 1), None)
    with pytest.raises(RuntimeError, match="Could not get tensor shape"):
        layer.get_output(0).shape  # noqa: B018
    assert logger._messages and "Only 2D or 3D" in logger._messages[-1][1]


@pytest.mark.parametrize(
    "name",
    ["EXPLICIT_BATCH", "FP16", "max_workspace_size", "execute_async_v2", "set_output_type",
     "build_engine", "num_bindings", "average_count_exclude_padding", "add_convolution"],
)  # fmt: skip
def test_names_check_rejects_removed_and_misspelled_names(name: str) -> None:
    assert not _in_real_bindings(name)


# Argument names and order of the real bindings (TensorRT python/src/infer at v11.1, every name
# present in the 11.4 .so), for the calls trtdsl makes.
SIGNATURES = {
    "INetworkDefinition.add_input": "name dtype shape",
    "INetworkDefinition.mark_output": "tensor",
    "INetworkDefinition.add_convolution_nd": "input num_output_maps kernel_shape kernel bias",
    "INetworkDefinition.add_pooling_nd": "input type window_size",
    "INetworkDefinition.add_activation": "input type",
    "INetworkDefinition.add_scale": "input mode shift scale power",
    "INetworkDefinition.add_scale_nd": "input mode shift scale power channel_axis",
    "INetworkDefinition.add_softmax": "input",
    "INetworkDefinition.add_concatenation": "inputs",
    "INetworkDefinition.add_elementwise": "input1 input2 op",
    "INetworkDefinition.add_unary": "input op",
    "INetworkDefinition.add_padding_nd": "input pre_padding post_padding",
    "INetworkDefinition.add_shuffle": "input",
    "INetworkDefinition.add_slice": "input start shape stride",
    "INetworkDefinition.add_reduce": "input op axes keep_dims",
    "INetworkDefinition.add_matrix_multiply": "input0 op0 input1 op1",
    "INetworkDefinition.add_constant": "shape weights",
    "INetworkDefinition.add_identity": "input",
    "INetworkDefinition.add_cast": "input to_type",
    "INetworkDefinition.get_layer": "index",
    "INetworkDefinition.set_weights_name": "weights name",
    "ILayer.get_input": "index",
    "ILayer.set_input": "index tensor",
    "ITensor.set_dimension_name": "index name",
    "Builder.create_network": "flags",
    "Builder.build_serialized_network": "network config",
    "IBuilderConfig.set_memory_pool_limit": "pool pool_size",
    "IBuilderConfig.set_flag": "flag",
    "IBuilderConfig.add_optimization_profile": "profile",
    "IBuilderConfig.create_timing_cache": "serialized_timing_cache",
    "IBuilderConfig.set_timing_cache": "cache ignore_mismatch",
    "IOptimizationProfile.set_shape": "input min opt max",
    "IOptimizationProfile.get_shape": "input",
    "ITimingCache.combine": "input_cache ignore_mismatch",
    "Runtime.deserialize_cuda_engine": "serialized_engine",
    "ICudaEngine.get_tensor_name": "index",
    "ICudaEngine.get_tensor_mode": "name",
    "ICudaEngine.get_tensor_profile_shape": "name profile_index",
    "IExecutionContext.set_input_shape": "name shape",
    "IExecutionContext.set_tensor_address": "name memory",
    "IExecutionContext.execute_async_v3": "stream_handle",
    "IExecutionContext.execute_v2": "bindings",
    "IExecutionContext.set_optimization_profile_async": "profile_index stream_handle",
    "EngineInspector.get_layer_information": "layer_index format",
    "EngineInspector.get_engine_information": "format",
    "Logger.__init__": "min_severity",
    "ILogger.log": "severity msg",
    "IProfiler.report_layer_time": "layer_name ms",
    "IProgressMonitor.phase_start": "phase_name parent_phase num_steps",
    "IProgressMonitor.step_complete": "phase_name step",
    "IProgressMonitor.phase_finish": "phase_name",
}


@pytest.mark.parametrize(("method", "arguments"), SIGNATURES.items(), ids=list(SIGNATURES))
def test_keyword_arguments_follow_the_real_signatures(method: str, arguments: str) -> None:
    owner, name = method.split(".")
    function = getattr(getattr(trt, owner), name)
    assert list(inspect.signature(function).parameters)[1:] == arguments.split()
