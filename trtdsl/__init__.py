"""trtdsl: a network-definition DSL for hand-built TensorRT engines.

The public API is what this module re-exports; everything else is internal. Importing trtdsl
never imports TensorRT, cuda-python, onnx or torch.
"""

from trtdsl.backends.reference import capture_reference as capture_reference
from trtdsl.backends.reference import run_reference as run_reference
from trtdsl.errors import BackendError as BackendError
from trtdsl.errors import ModelError as ModelError
from trtdsl.errors import ShapeError as ShapeError
from trtdsl.errors import TrtdslError as TrtdslError
from trtdsl.errors import WeightError as WeightError
from trtdsl.frontend.builder import ModelBuilder as ModelBuilder
from trtdsl.frontend.builder import Tensor as Tensor
from trtdsl.frontend.load import load_model as load_model
from trtdsl.frontend.load import load_yaml as load_yaml
from trtdsl.ir import OPS as OPS
from trtdsl.ir import DimRange as DimRange
from trtdsl.ir import DType as DType
from trtdsl.ir import Graph as Graph
from trtdsl.ir import Node as Node
from trtdsl.ir import ParamSpec as ParamSpec
from trtdsl.ir import TensorType as TensorType
from trtdsl.passes.fold_bn import fold_batchnorm as fold_batchnorm
from trtdsl.weights import BoundWeights as BoundWeights
from trtdsl.weights import bind_weights as bind_weights
from trtdsl.weights import load_weights as load_weights
from trtdsl.weights import open_safetensors as open_safetensors
from trtdsl.weights import prefix_rule as prefix_rule
from trtdsl.weights import random_weights as random_weights

__version__ = "0.1.0"
