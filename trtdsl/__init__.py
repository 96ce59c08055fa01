"""trtdsl: a network-definition DSL for hand-built TensorRT engines.

The public API is what this module re-exports; everything else is internal. Importing trtdsl
never imports TensorRT, cuda-python, onnx or torch.
"""

from trtdsl.backends.onnx_export import export_onnx as export_onnx
from trtdsl.backends.reference import capture_reference as capture_reference
from trtdsl.backends.reference import run_reference as run_reference
from trtdsl.backends.trt import BuildConfig as BuildConfig
from trtdsl.backends.trt import ShapeRange as ShapeRange
from trtdsl.backends.trt import build_engine as build_engine
from trtdsl.backends.trt import emit_network as emit_network
from trtdsl.backends.trt import import_trt as import_trt
from trtdsl.backends.trt import prepare_graph as prepare_graph
from trtdsl.debug.compare import compare_layerwise as compare_layerwise
from trtdsl.debug.compare import perturb_weights as perturb_weights
from trtdsl.debug.folding import folding_error as folding_error
from trtdsl.engine import Engine as Engine
from trtdsl.errors import BackendError as BackendError
from trtdsl.errors import ModelError as ModelError
from trtdsl.errors import OpArgumentError as OpArgumentError
from trtdsl.errors import ShapeError as ShapeError
from trtdsl.errors import TrtdslError as TrtdslError
from trtdsl.errors import WeightError as WeightError
from trtdsl.frontend.builder import ModelBuilder as ModelBuilder
from trtdsl.frontend.builder import Tensor as Tensor
from trtdsl.frontend.load import load_model as load_model
from trtdsl.frontend.load import load_ops as load_ops
from trtdsl.frontend.load import load_yaml as load_yaml
from trtdsl.ir import OPS as OPS
from trtdsl.ir import DimRange as DimRange
from trtdsl.ir import DType as DType
from trtdsl.ir import Graph as Graph
from trtdsl.ir import Node as Node
from trtdsl.ir import ParamSpec as ParamSpec
from trtdsl.ir import TensorType as TensorType
from trtdsl.ir.ops import Op as Op
from trtdsl.ir.ops import make_op as make_op
from trtdsl.ir.ops.custom import CustomOp as CustomOp
from trtdsl.ir.ops.custom import KernelLaunch as KernelLaunch
from trtdsl.ir.ops.custom import PluginKernel as PluginKernel
from trtdsl.ir.ops.custom import custom_op as custom_op
from trtdsl.ir.ops.custom import custom_op_scope as custom_op_scope
from trtdsl.ir.types import Precision as Precision
from trtdsl.ir.types import ValueRange as ValueRange
from trtdsl.passes.fold_bn import fold_batchnorm as fold_batchnorm
from trtdsl.passes.precision import apply_precision as apply_precision
from trtdsl.runtime import EngineRunner as EngineRunner
from trtdsl.runtime import benchmark as benchmark
from trtdsl.runtime import inspect_engine as inspect_engine
from trtdsl.runtime import open_engine as open_engine
from trtdsl.weights import BoundWeights as BoundWeights
from trtdsl.weights import bind_weights as bind_weights
from trtdsl.weights import load_weights as load_weights
from trtdsl.weights import open_safetensors as open_safetensors
from trtdsl.weights import prefix_rule as prefix_rule
from trtdsl.weights import random_weights as random_weights

__version__ = "0.1.0"
