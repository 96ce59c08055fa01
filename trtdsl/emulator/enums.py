"""TensorRT 11.4 enums as Python IntEnums (member names from the 11.4 binding).

Integer values follow the TensorRT 11.1 C++ headers where they are known; code should never rely
on them (TensorRT renumbered enums between 10 and 11), only on names and ``1 << int(flag)``.
"""

from __future__ import annotations

import enum


class _TrtEnum(enum.IntEnum):
    """pybind11-style enum: ``str(x)`` is ``"Type.MEMBER"`` as in the real bindings."""

    def __str__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    __repr__ = __str__


def _enum(name: str, members: str, start: int = 0) -> type[_TrtEnum]:
    """An enum whose members are numbered consecutively from ``start`` unless ``M=v`` is given."""
    values: dict[str, int] = {}
    value = start
    for token in members.split():
        if "=" in token:
            token, number = token.split("=")
            value = int(number)
        values[token] = value
        value += 1
    return _TrtEnum(name, values)  # type: ignore[return-value]


DataType = _enum("DataType", "FLOAT HALF INT8 INT32 BOOL UINT8 FP8 BF16 INT64 INT4 FP4 E8M0")
Severity = _enum("Severity", "INTERNAL_ERROR ERROR WARNING INFO VERBOSE")
LayerType = _enum(
    "LayerType",
    "CONVOLUTION CAST ACTIVATION POOLING LRN SCALE SOFTMAX DECONVOLUTION CONCATENATION"
    " ELEMENTWISE PLUGIN UNARY PADDING SHUFFLE REDUCE TOPK GATHER MATRIX_MULTIPLY RAGGED_SOFTMAX"
    " CONSTANT IDENTITY PLUGIN_V2 SLICE SHAPE PARAMETRIC_RELU RESIZE TRIP_LIMIT RECURRENCE"
    " ITERATOR LOOP_OUTPUT SELECT FILL QUANTIZE DEQUANTIZE CONDITION CONDITIONAL_INPUT"
    " CONDITIONAL_OUTPUT SCATTER EINSUM ASSERTION ONE_HOT NON_ZERO GRID_SAMPLE NMS"
    " REVERSE_SEQUENCE NORMALIZATION PLUGIN_V3 SQUEEZE UNSQUEEZE CUMULATIVE DYNAMIC_QUANTIZE"
    " ATTENTION_INPUT ATTENTION_OUTPUT ROTARY_EMBEDDING KV_CACHE_UPDATE MOE DIST_COLLECTIVE",
)
ActivationType = _enum(
    "ActivationType",
    "RELU SIGMOID TANH LEAKY_RELU ELU SELU SOFTSIGN SOFTPLUS CLIP HARD_SIGMOID SCALED_TANH"
    " THRESHOLDED_RELU GELU_ERF GELU_TANH",
)
PoolingType = _enum("PoolingType", "MAX AVERAGE MAX_AVERAGE_BLEND")
PaddingMode = _enum("PaddingMode", "EXPLICIT_ROUND_DOWN EXPLICIT_ROUND_UP SAME_UPPER SAME_LOWER")
ScaleMode = _enum("ScaleMode", "UNIFORM CHANNEL ELEMENTWISE")
ElementWiseOperation = _enum(
    "ElementWiseOperation",
    "SUM PROD MAX MIN SUB DIV POW FLOOR_DIV AND OR XOR EQUAL GREATER LESS",
)
UnaryOperation = _enum(
    "UnaryOperation",
    "EXP LOG SQRT RECIP ABS NEG SIN COS TAN SINH COSH ASIN ACOS ATAN ASINH ACOSH ATANH CEIL"
    " FLOOR ERF NOT SIGN ROUND ISINF ISNAN",
)
ReduceOperation = _enum("ReduceOperation", "SUM PROD MAX MIN AVG NONE")
MatrixOperation = _enum("MatrixOperation", "NONE TRANSPOSE VECTOR")
SampleMode = _enum("SampleMode", "STRICT_BOUNDS WRAP CLAMP FILL REFLECT")
InterpolationMode = _enum("InterpolationMode", "NEAREST LINEAR CUBIC")
ResizeCoordinateTransformation = _enum(
    "ResizeCoordinateTransformation", "ALIGN_CORNERS ASYMMETRIC HALF_PIXEL"
)
ResizeSelector = _enum("ResizeSelector", "FORMULA UPPER")
ResizeRoundMode = _enum("ResizeRoundMode", "HALF_UP HALF_DOWN FLOOR CEIL")
WeightsRole = _enum("WeightsRole", "KERNEL BIAS SHIFT SCALE CONSTANT ANY")
TensorIOMode = _enum("TensorIOMode", "NONE INPUT OUTPUT")
TensorLocation = _enum("TensorLocation", "DEVICE HOST")
TensorFormat = _enum(
    "TensorFormat",
    "LINEAR CHW2 HWC8 CHW4 CHW16 CHW32 DHWC8 CDHW32 HWC DLA_LINEAR DLA_HWC4 HWC16 DHWC",
)
MemoryPoolType = _enum(
    "MemoryPoolType",
    "WORKSPACE DLA_MANAGED_SRAM DLA_LOCAL_DRAM DLA_GLOBAL_DRAM TACTIC_DRAM TACTIC_SHARED_MEMORY",
)
ProfilingVerbosity = _enum("ProfilingVerbosity", "LAYER_NAMES_ONLY NONE DETAILED")
BuilderFlag = _enum(
    "BuilderFlag",
    "DEBUG=2 GPU_FALLBACK REFIT DISABLE_TIMING_CACHE TF32 SPARSE_WEIGHTS SAFETY_SCOPE"
    " DIRECT_IO=11 VERSION_COMPATIBLE EXCLUDE_LEAN_RUNTIME ERROR_ON_TIMING_CACHE_MISS=15"
    " DISABLE_COMPILATION_CACHE=17 STRIP_PLAN REFIT_IDENTICAL WEIGHT_STREAMING"
    " REFIT_INDIVIDUAL=22 STRICT_NANS MONITOR_MEMORY EDITABLE_TIMING_CACHE=26"
    " DISTRIBUTIVE_INDEPENDENCE",
)
# NOTE: STRONGLY_TYPED is deprecated and ignored in TensorRT 11 (networks are always strongly
# typed); EXPLICIT_BATCH no longer exists, so referencing it raises AttributeError as on 11.x.
NetworkDefinitionCreationFlag = _enum(
    "NetworkDefinitionCreationFlag",
    "STRONGLY_TYPED PREFER_JIT_PYTHON_PLUGINS PREFER_AOT_PYTHON_PLUGINS",
)
ExecutionContextAllocationStrategy = _enum(
    "ExecutionContextAllocationStrategy", "STATIC ON_PROFILE_CHANGE USER_MANAGED"
)
EngineCapability = _enum("EngineCapability", "STANDARD SAFETY DLA_STANDALONE")
DeviceType = _enum("DeviceType", "GPU DLA")
TacticSource = _enum("TacticSource", "EDGE_MASK_CONVOLUTIONS JIT_CONVOLUTIONS")
HardwareCompatibilityLevel = _enum(
    "HardwareCompatibilityLevel", "NONE AMPERE_PLUS SAME_COMPUTE_CAPABILITY"
)
PreviewFeature = _enum("PreviewFeature", "ALIASED_PLUGIN_IO_10_03 RUNTIME_ACTIVATION_RESIZE_10_10")
LayerInformationFormat = _enum("LayerInformationFormat", "ONELINE JSON")
EngineStat = _enum("EngineStat", "TOTAL_WEIGHTS_SIZE STRIPPED_WEIGHTS_SIZE")

ENUMS: dict[str, type[_TrtEnum]] = {
    cls.__name__: cls
    for cls in (
        DataType,
        Severity,
        LayerType,
        ActivationType,
        PoolingType,
        PaddingMode,
        ScaleMode,
        ElementWiseOperation,
        UnaryOperation,
        ReduceOperation,
        MatrixOperation,
        SampleMode,
        InterpolationMode,
        ResizeCoordinateTransformation,
        ResizeSelector,
        ResizeRoundMode,
        WeightsRole,
        TensorIOMode,
        TensorLocation,
        TensorFormat,
        MemoryPoolType,
        ProfilingVerbosity,
        BuilderFlag,
        NetworkDefinitionCreationFlag,
        ExecutionContextAllocationStrategy,
        EngineCapability,
        DeviceType,
        TacticSource,
        HardwareCompatibilityLevel,
        PreviewFeature,
        LayerInformationFormat,
        EngineStat,
    )
}
