"""The typed, immutable intermediate representation."""

from trtdsl.ir import ops as ops
from trtdsl.ir.graph import Graph as Graph
from trtdsl.ir.graph import Node as Node
from trtdsl.ir.graph import Port as Port
from trtdsl.ir.ops import OPS as OPS
from trtdsl.ir.ops import Op as Op
from trtdsl.ir.ops import ParamSpec as ParamSpec
from trtdsl.ir.types import DimRange as DimRange
from trtdsl.ir.types import DType as DType
from trtdsl.ir.types import TensorType as TensorType
