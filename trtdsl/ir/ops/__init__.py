"""All op families; importing this package fills the ``OPS`` registry."""

from trtdsl.ir.ops import activation as activation
from trtdsl.ir.ops import attention as attention
from trtdsl.ir.ops import cast as cast
from trtdsl.ir.ops import conv as conv
from trtdsl.ir.ops import detection as detection
from trtdsl.ir.ops import elementwise as elementwise
from trtdsl.ir.ops import linear as linear
from trtdsl.ir.ops import matmul as matmul
from trtdsl.ir.ops import normalization as normalization
from trtdsl.ir.ops import parameter as parameter
from trtdsl.ir.ops import pooling as pooling
from trtdsl.ir.ops import quantize as quantize
from trtdsl.ir.ops import reduce as reduce
from trtdsl.ir.ops import resize as resize
from trtdsl.ir.ops import shape as shape
from trtdsl.ir.ops import shuffle as shuffle
from trtdsl.ir.ops import slicing as slicing
from trtdsl.ir.ops.base import OPS as OPS
from trtdsl.ir.ops.base import Op as Op
from trtdsl.ir.ops.base import ParamSpec as ParamSpec
from trtdsl.ir.ops.base import make_op as make_op
from trtdsl.ir.ops.base import op_class as op_class
