"""trtdsl: a network-definition DSL for hand-built TensorRT engines.

The public API is what this module re-exports; everything else is internal.
"""

from trtdsl.errors import BackendError as BackendError
from trtdsl.errors import ModelError as ModelError
from trtdsl.errors import ShapeError as ShapeError
from trtdsl.errors import TrtdslError as TrtdslError
from trtdsl.errors import WeightError as WeightError
from trtdsl.frontend.builder import ModelBuilder as ModelBuilder
from trtdsl.frontend.builder import Tensor as Tensor
from trtdsl.ir import DimRange as DimRange
from trtdsl.ir import DType as DType
from trtdsl.ir import Graph as Graph
from trtdsl.ir import Node as Node
from trtdsl.ir import TensorType as TensorType

__version__ = "0.1.0"
