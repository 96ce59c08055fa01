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


class DataType(_TrtEnum):
    """TensorRT DataType (11.4 member names)."""

    FLOAT = 0
    HALF = 1
    INT8 = 2
    INT32 = 3
    BOOL = 4
    UINT8 = 5
    FP8 = 6
    BF16 = 7
    INT64 = 8
    INT4 = 9
    FP4 = 10
    E8M0 = 11


class Severity(_TrtEnum):
    """TensorRT Severity (11.4 member names)."""

    INTERNAL_ERROR = 0
    ERROR = 1
    WARNING = 2
    INFO = 3
    VERBOSE = 4


class LayerType(_TrtEnum):
    """TensorRT LayerType (11.4 member names)."""

    CONVOLUTION = 0
    CAST = 1
    ACTIVATION = 2
    POOLING = 3
    LRN = 4
    SCALE = 5
    SOFTMAX = 6
    DECONVOLUTION = 7
    CONCATENATION = 8
    ELEMENTWISE = 9
    PLUGIN = 10
    UNARY = 11
    PADDING = 12
    SHUFFLE = 13
    REDUCE = 14
    TOPK = 15
    GATHER = 16
    MATRIX_MULTIPLY = 17
    RAGGED_SOFTMAX = 18
    CONSTANT = 19
    IDENTITY = 20
    PLUGIN_V2 = 21
    SLICE = 22
    SHAPE = 23
    PARAMETRIC_RELU = 24
    RESIZE = 25
    TRIP_LIMIT = 26
    RECURRENCE = 27
    ITERATOR = 28
    LOOP_OUTPUT = 29
    SELECT = 30
    FILL = 31
    QUANTIZE = 32
    DEQUANTIZE = 33
    CONDITION = 34
    CONDITIONAL_INPUT = 35
    CONDITIONAL_OUTPUT = 36
    SCATTER = 37
    EINSUM = 38
    ASSERTION = 39
    ONE_HOT = 40
    NON_ZERO = 41
    GRID_SAMPLE = 42
    NMS = 43
    REVERSE_SEQUENCE = 44
    NORMALIZATION = 45
    PLUGIN_V3 = 46
    SQUEEZE = 47
    UNSQUEEZE = 48
    CUMULATIVE = 49
    DYNAMIC_QUANTIZE = 50
    ATTENTION_INPUT = 51
    ATTENTION_OUTPUT = 52
    ROTARY_EMBEDDING = 53
    KV_CACHE_UPDATE = 54
    MOE = 55
    DIST_COLLECTIVE = 56


class ActivationType(_TrtEnum):
    """TensorRT ActivationType (11.4 member names)."""

    RELU = 0
    SIGMOID = 1
    TANH = 2
    LEAKY_RELU = 3
    ELU = 4
    SELU = 5
    SOFTSIGN = 6
    SOFTPLUS = 7
    CLIP = 8
    HARD_SIGMOID = 9
    SCALED_TANH = 10
    THRESHOLDED_RELU = 11
    GELU_ERF = 12
    GELU_TANH = 13


class PoolingType(_TrtEnum):
    """TensorRT PoolingType (11.4 member names)."""

    MAX = 0
    AVERAGE = 1
    MAX_AVERAGE_BLEND = 2


class PaddingMode(_TrtEnum):
    """TensorRT PaddingMode (11.4 member names)."""

    EXPLICIT_ROUND_DOWN = 0
    EXPLICIT_ROUND_UP = 1
    SAME_UPPER = 2
    SAME_LOWER = 3


class ScaleMode(_TrtEnum):
    """TensorRT ScaleMode (11.4 member names)."""

    UNIFORM = 0
    CHANNEL = 1
    ELEMENTWISE = 2


class ElementWiseOperation(_TrtEnum):
    """TensorRT ElementWiseOperation (11.4 member names)."""

    SUM = 0
    PROD = 1
    MAX = 2
    MIN = 3
    SUB = 4
    DIV = 5
    POW = 6
    FLOOR_DIV = 7
    AND = 8
    OR = 9
    XOR = 10
    EQUAL = 11
    GREATER = 12
    LESS = 13


class UnaryOperation(_TrtEnum):
    """TensorRT UnaryOperation (11.4 member names)."""

    EXP = 0
    LOG = 1
    SQRT = 2
    RECIP = 3
    ABS = 4
    NEG = 5
    SIN = 6
    COS = 7
    TAN = 8
    SINH = 9
    COSH = 10
    ASIN = 11
    ACOS = 12
    ATAN = 13
    ASINH = 14
    ACOSH = 15
    ATANH = 16
    CEIL = 17
    FLOOR = 18
    ERF = 19
    NOT = 20
    SIGN = 21
    ROUND = 22
    ISINF = 23
    ISNAN = 24


class ReduceOperation(_TrtEnum):
    """TensorRT ReduceOperation (11.4 member names)."""

    SUM = 0
    PROD = 1
    MAX = 2
    MIN = 3
    AVG = 4
    NONE = 5


class MatrixOperation(_TrtEnum):
    """TensorRT MatrixOperation (11.4 member names)."""

    NONE = 0
    TRANSPOSE = 1
    VECTOR = 2


class SampleMode(_TrtEnum):
    """TensorRT SampleMode (11.4 member names)."""

    STRICT_BOUNDS = 0
    WRAP = 1
    CLAMP = 2
    FILL = 3
    REFLECT = 4


class InterpolationMode(_TrtEnum):
    """TensorRT InterpolationMode (11.4 member names)."""

    NEAREST = 0
    LINEAR = 1
    CUBIC = 2


class ResizeCoordinateTransformation(_TrtEnum):
    """TensorRT ResizeCoordinateTransformation (11.4 member names)."""

    ALIGN_CORNERS = 0
    ASYMMETRIC = 1
    HALF_PIXEL = 2


class ResizeSelector(_TrtEnum):
    """TensorRT ResizeSelector (11.4 member names)."""

    FORMULA = 0
    UPPER = 1


class ResizeRoundMode(_TrtEnum):
    """TensorRT ResizeRoundMode (11.4 member names)."""

    HALF_UP = 0
    HALF_DOWN = 1
    FLOOR = 2
    CEIL = 3


class WeightsRole(_TrtEnum):
    """TensorRT WeightsRole (11.4 member names)."""

    KERNEL = 0
    BIAS = 1
    SHIFT = 2
    SCALE = 3
    CONSTANT = 4
    ANY = 5


class TensorIOMode(_TrtEnum):
    """TensorRT TensorIOMode (11.4 member names)."""

    NONE = 0
    INPUT = 1
    OUTPUT = 2


class TensorLocation(_TrtEnum):
    """TensorRT TensorLocation (11.4 member names)."""

    DEVICE = 0
    HOST = 1


class TensorFormat(_TrtEnum):
    """TensorRT TensorFormat (11.4 member names)."""

    LINEAR = 0
    CHW2 = 1
    HWC8 = 2
    CHW4 = 3
    CHW16 = 4
    CHW32 = 5
    DHWC8 = 6
    CDHW32 = 7
    HWC = 8
    DLA_LINEAR = 9
    DLA_HWC4 = 10
    HWC16 = 11
    DHWC = 12


class MemoryPoolType(_TrtEnum):
    """TensorRT MemoryPoolType (11.4 member names)."""

    WORKSPACE = 0
    DLA_MANAGED_SRAM = 1
    DLA_LOCAL_DRAM = 2
    DLA_GLOBAL_DRAM = 3
    TACTIC_DRAM = 4
    TACTIC_SHARED_MEMORY = 5


class ProfilingVerbosity(_TrtEnum):
    """TensorRT ProfilingVerbosity (11.4 member names)."""

    LAYER_NAMES_ONLY = 0
    NONE = 1
    DETAILED = 2


class BuilderFlag(_TrtEnum):
    """TensorRT BuilderFlag (11.4 member names)."""

    DEBUG = 2
    GPU_FALLBACK = 3
    REFIT = 4
    DISABLE_TIMING_CACHE = 5
    TF32 = 6
    SPARSE_WEIGHTS = 7
    SAFETY_SCOPE = 8
    DIRECT_IO = 11
    VERSION_COMPATIBLE = 12
    EXCLUDE_LEAN_RUNTIME = 13
    ERROR_ON_TIMING_CACHE_MISS = 15
    DISABLE_COMPILATION_CACHE = 17
    STRIP_PLAN = 18
    REFIT_IDENTICAL = 19
    WEIGHT_STREAMING = 20
    REFIT_INDIVIDUAL = 22
    STRICT_NANS = 23
    MONITOR_MEMORY = 24
    EDITABLE_TIMING_CACHE = 26
    DISTRIBUTIVE_INDEPENDENCE = 27


# NOTE: STRONGLY_TYPED is deprecated and ignored in TensorRT 11 (networks are always strongly
# typed); EXPLICIT_BATCH no longer exists, so referencing it raises AttributeError as on 11.x.
class NetworkDefinitionCreationFlag(_TrtEnum):
    """TensorRT NetworkDefinitionCreationFlag (11.4 member names)."""

    STRONGLY_TYPED = 0
    PREFER_JIT_PYTHON_PLUGINS = 1
    PREFER_AOT_PYTHON_PLUGINS = 2


class ExecutionContextAllocationStrategy(_TrtEnum):
    """TensorRT ExecutionContextAllocationStrategy (11.4 member names)."""

    STATIC = 0
    ON_PROFILE_CHANGE = 1
    USER_MANAGED = 2


class EngineCapability(_TrtEnum):
    """TensorRT EngineCapability (11.4 member names)."""

    STANDARD = 0
    SAFETY = 1
    DLA_STANDALONE = 2


class DeviceType(_TrtEnum):
    """TensorRT DeviceType (11.4 member names)."""

    GPU = 0
    DLA = 1


class TacticSource(_TrtEnum):
    """TensorRT TacticSource (11.4 member names)."""

    EDGE_MASK_CONVOLUTIONS = 0
    JIT_CONVOLUTIONS = 1


class HardwareCompatibilityLevel(_TrtEnum):
    """TensorRT HardwareCompatibilityLevel (11.4 member names)."""

    NONE = 0
    AMPERE_PLUS = 1
    SAME_COMPUTE_CAPABILITY = 2


class PreviewFeature(_TrtEnum):
    """TensorRT PreviewFeature (11.4 member names)."""

    ALIASED_PLUGIN_IO_10_03 = 0
    RUNTIME_ACTIVATION_RESIZE_10_10 = 1


class LayerInformationFormat(_TrtEnum):
    """TensorRT LayerInformationFormat (11.4 member names)."""

    ONELINE = 0
    JSON = 1


class EngineStat(_TrtEnum):
    """TensorRT EngineStat (11.4 member names)."""

    TOTAL_WEIGHTS_SIZE = 0
    STRIPPED_WEIGHTS_SIZE = 1


class TopKOperation(_TrtEnum):
    """TensorRT TopKOperation (11.4 member names)."""

    MAX = 0
    MIN = 1


class GatherMode(_TrtEnum):
    """TensorRT GatherMode (11.4 member names)."""

    DEFAULT = 0
    ELEMENT = 1
    ND = 2


class AttentionNormalizationOp(_TrtEnum):
    """TensorRT AttentionNormalizationOp (11.4 member names)."""

    NONE = 0
    SOFTMAX = 1


class CausalMaskKind(_TrtEnum):
    """TensorRT CausalMaskKind (11.4 member names)."""

    NONE = 0
    UPPER_LEFT = 1
    LOWER_RIGHT = 2


class AttentionIOForm(_TrtEnum):
    """TensorRT AttentionIOForm (11.4 member names)."""

    PADDED_BHND = 0
    PACKED_NHD = 1


class CumulativeOperation(_TrtEnum):
    """TensorRT CumulativeOperation (11.4 member names): the reduction of an ICumulativeLayer."""

    SUM = 0


class ScatterMode(_TrtEnum):
    """TensorRT ScatterMode (11.4 member names)."""

    ELEMENT = 0
    ND = 1


class BoundingBoxFormat(_TrtEnum):
    """TensorRT BoundingBoxFormat (11.4 member names): the boxes of INMSLayer."""

    CORNER_PAIRS = 0
    CENTER_SIZES = 1


class TripLimit(_TrtEnum):
    """TensorRT TripLimit (11.4 member names): how an ILoop ends."""

    COUNT = 0
    WHILE = 1


class LoopOutput(_TrtEnum):
    """TensorRT LoopOutput (11.4 member names): what an ILoopOutputLayer gives."""

    LAST_VALUE = 0
    CONCATENATE = 1
    REVERSE = 2


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
        TopKOperation,
        GatherMode,
        ScatterMode,
        BoundingBoxFormat,
        TripLimit,
        LoopOutput,
        AttentionNormalizationOp,
        CausalMaskKind,
        AttentionIOForm,
        CumulativeOperation,
    )
}
