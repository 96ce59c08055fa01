"""A CPU emulator of the TensorRT 11.4 Python API, usable as ``import trtdsl.emulator as trt``.

It covers the network-definition, build and I/O-tensor execution API that trtdsl uses, with
TensorRT's semantics (shape rules, defaults, GKCRS kernels, bitmask axes, strong typing) and
names checked against the real 11.4 bindings. It is always labelled as an emulation:
``__version__`` ends in "-emulated", the Logger prefixes every message, engines say so in their
repr, and plans carry a header that no TensorRT runtime (nor this one, reversed) will accept.
"""

from trtdsl.emulator.builder import Builder as Builder
from trtdsl.emulator.builder import IBuilderConfig as IBuilderConfig
from trtdsl.emulator.builder import IOptimizationProfile as IOptimizationProfile
from trtdsl.emulator.builder import ITimingCache as ITimingCache
from trtdsl.emulator.engine import ICudaEngine as ICudaEngine
from trtdsl.emulator.engine import IExecutionContext as IExecutionContext
from trtdsl.emulator.engine import Runtime as Runtime
from trtdsl.emulator.enums import ActivationType as ActivationType
from trtdsl.emulator.enums import AttentionIOForm as AttentionIOForm
from trtdsl.emulator.enums import AttentionNormalizationOp as AttentionNormalizationOp
from trtdsl.emulator.enums import BoundingBoxFormat as BoundingBoxFormat
from trtdsl.emulator.enums import BuilderFlag as BuilderFlag
from trtdsl.emulator.enums import CausalMaskKind as CausalMaskKind
from trtdsl.emulator.enums import CumulativeOperation as CumulativeOperation
from trtdsl.emulator.enums import DataType as DataType
from trtdsl.emulator.enums import DeviceType as DeviceType
from trtdsl.emulator.enums import ElementWiseOperation as ElementWiseOperation
from trtdsl.emulator.enums import EngineCapability as EngineCapability
from trtdsl.emulator.enums import EngineStat as EngineStat
from trtdsl.emulator.enums import (
    ExecutionContextAllocationStrategy as ExecutionContextAllocationStrategy,
)  # noqa: E501
from trtdsl.emulator.enums import GatherMode as GatherMode
from trtdsl.emulator.enums import HardwareCompatibilityLevel as HardwareCompatibilityLevel
from trtdsl.emulator.enums import InterpolationMode as InterpolationMode
from trtdsl.emulator.enums import LayerInformationFormat as LayerInformationFormat
from trtdsl.emulator.enums import LayerType as LayerType
from trtdsl.emulator.enums import LoopOutput as LoopOutput
from trtdsl.emulator.enums import MatrixOperation as MatrixOperation
from trtdsl.emulator.enums import MemoryPoolType as MemoryPoolType
from trtdsl.emulator.enums import NetworkDefinitionCreationFlag as NetworkDefinitionCreationFlag
from trtdsl.emulator.enums import PaddingMode as PaddingMode
from trtdsl.emulator.enums import PoolingType as PoolingType
from trtdsl.emulator.enums import PreviewFeature as PreviewFeature
from trtdsl.emulator.enums import ProfilingVerbosity as ProfilingVerbosity
from trtdsl.emulator.enums import ReduceOperation as ReduceOperation
from trtdsl.emulator.enums import ResizeCoordinateTransformation as ResizeCoordinateTransformation
from trtdsl.emulator.enums import ResizeRoundMode as ResizeRoundMode
from trtdsl.emulator.enums import ResizeSelector as ResizeSelector
from trtdsl.emulator.enums import SampleMode as SampleMode
from trtdsl.emulator.enums import ScaleMode as ScaleMode
from trtdsl.emulator.enums import ScatterMode as ScatterMode
from trtdsl.emulator.enums import TacticSource as TacticSource
from trtdsl.emulator.enums import TensorFormat as TensorFormat
from trtdsl.emulator.enums import TensorIOMode as TensorIOMode
from trtdsl.emulator.enums import TensorLocation as TensorLocation
from trtdsl.emulator.enums import TopKOperation as TopKOperation
from trtdsl.emulator.enums import TripLimit as TripLimit
from trtdsl.emulator.enums import UnaryOperation as UnaryOperation
from trtdsl.emulator.enums import WeightsRole as WeightsRole
from trtdsl.emulator.inspector import EngineInspector as EngineInspector
from trtdsl.emulator.layers import IActivationLayer as IActivationLayer
from trtdsl.emulator.layers import IAttention as IAttention
from trtdsl.emulator.layers import IAttentionInputLayer as IAttentionInputLayer
from trtdsl.emulator.layers import IAttentionOutputLayer as IAttentionOutputLayer
from trtdsl.emulator.layers import ICastLayer as ICastLayer
from trtdsl.emulator.layers import IConcatenationLayer as IConcatenationLayer
from trtdsl.emulator.layers import IConstantLayer as IConstantLayer
from trtdsl.emulator.layers import IConvolutionLayer as IConvolutionLayer
from trtdsl.emulator.layers import ICumulativeLayer as ICumulativeLayer
from trtdsl.emulator.layers import IDeconvolutionLayer as IDeconvolutionLayer
from trtdsl.emulator.layers import IDequantizeLayer as IDequantizeLayer
from trtdsl.emulator.layers import IElementWiseLayer as IElementWiseLayer
from trtdsl.emulator.layers import IGatherLayer as IGatherLayer
from trtdsl.emulator.layers import IIdentityLayer as IIdentityLayer
from trtdsl.emulator.layers import ILayer as ILayer
from trtdsl.emulator.layers import ILoop as ILoop
from trtdsl.emulator.layers import ILoopOutputLayer as ILoopOutputLayer
from trtdsl.emulator.layers import IMatrixMultiplyLayer as IMatrixMultiplyLayer
from trtdsl.emulator.layers import INMSLayer as INMSLayer
from trtdsl.emulator.layers import INormalizationLayer as INormalizationLayer
from trtdsl.emulator.layers import IPaddingLayer as IPaddingLayer
from trtdsl.emulator.layers import IPluginV3Layer as IPluginV3Layer
from trtdsl.emulator.layers import IPoolingLayer as IPoolingLayer
from trtdsl.emulator.layers import IQuantizeLayer as IQuantizeLayer
from trtdsl.emulator.layers import IRecurrenceLayer as IRecurrenceLayer
from trtdsl.emulator.layers import IReduceLayer as IReduceLayer
from trtdsl.emulator.layers import IResizeLayer as IResizeLayer
from trtdsl.emulator.layers import IScaleLayer as IScaleLayer
from trtdsl.emulator.layers import IScatterLayer as IScatterLayer
from trtdsl.emulator.layers import ISelectLayer as ISelectLayer
from trtdsl.emulator.layers import IShapeLayer as IShapeLayer
from trtdsl.emulator.layers import IShuffleLayer as IShuffleLayer
from trtdsl.emulator.layers import ISliceLayer as ISliceLayer
from trtdsl.emulator.layers import ISoftMaxLayer as ISoftMaxLayer
from trtdsl.emulator.layers import ITopKLayer as ITopKLayer
from trtdsl.emulator.layers import ITripLimitLayer as ITripLimitLayer
from trtdsl.emulator.layers import IUnaryLayer as IUnaryLayer
from trtdsl.emulator.logger import ILogger as ILogger
from trtdsl.emulator.logger import Logger as Logger
from trtdsl.emulator.network import INetworkDefinition as INetworkDefinition
from trtdsl.emulator.plan import EMULATED_VERSION as __version__  # noqa: F401
from trtdsl.emulator.plugins import DynamicPluginTensorDesc as DynamicPluginTensorDesc
from trtdsl.emulator.plugins import IDimensionExpr as IDimensionExpr
from trtdsl.emulator.plugins import IExprBuilder as IExprBuilder
from trtdsl.emulator.plugins import IPluginCreatorV3One as IPluginCreatorV3One
from trtdsl.emulator.plugins import IPluginRegistry as IPluginRegistry
from trtdsl.emulator.plugins import IPluginV3OneBuild as IPluginV3OneBuild
from trtdsl.emulator.plugins import IPluginV3OneCore as IPluginV3OneCore
from trtdsl.emulator.plugins import IPluginV3OneRuntime as IPluginV3OneRuntime
from trtdsl.emulator.plugins import PluginField as PluginField
from trtdsl.emulator.plugins import PluginFieldCollection as PluginFieldCollection
from trtdsl.emulator.plugins import PluginFieldType as PluginFieldType
from trtdsl.emulator.plugins import PluginTensorDesc as PluginTensorDesc
from trtdsl.emulator.plugins import TensorRTPhase as TensorRTPhase
from trtdsl.emulator.plugins import get_plugin_registry as get_plugin_registry
from trtdsl.emulator.profiling import IProfiler as IProfiler
from trtdsl.emulator.profiling import IProgressMonitor as IProgressMonitor
from trtdsl.emulator.profiling import Profiler as Profiler
from trtdsl.emulator.refit import Refitter as Refitter
from trtdsl.emulator.tensor import ITensor as ITensor
from trtdsl.emulator.types import Dims as Dims
from trtdsl.emulator.types import IHostMemory as IHostMemory
from trtdsl.emulator.types import Permutation as Permutation
from trtdsl.emulator.types import Weights as Weights
from trtdsl.emulator.types import nptype as nptype
from trtdsl.emulator.types import volume as volume

# DataType aliases, as in the real module.
float32 = DataType.FLOAT
float16 = DataType.HALF
bfloat16 = DataType.BF16
int8 = DataType.INT8
int32 = DataType.INT32
int64 = DataType.INT64
bool = DataType.BOOL  # noqa: A001 (the real module shadows the builtin too)
uint8 = DataType.UINT8
fp8 = DataType.FP8
int4 = DataType.INT4
fp4 = DataType.FP4
e8m0 = DataType.E8M0

#: True in the emulator only; real TensorRT has no such name (tests exclude it from the names
#: check). Code may test ``getattr(trt, "__emulated__", False)`` to label its results.
__emulated__ = True
