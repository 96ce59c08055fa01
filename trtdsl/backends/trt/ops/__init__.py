"""TensorRT emitters, one module per op family mirroring ``trtdsl/ir/ops/``.

Importing this package fills ``EMITTERS``.
"""

from trtdsl.backends.trt.ops import activation as activation
from trtdsl.backends.trt.ops import attention as attention
from trtdsl.backends.trt.ops import cast as cast
from trtdsl.backends.trt.ops import conv as conv
from trtdsl.backends.trt.ops import creation as creation
from trtdsl.backends.trt.ops import detection as detection
from trtdsl.backends.trt.ops import elementwise as elementwise
from trtdsl.backends.trt.ops import hf_linear as hf_linear
from trtdsl.backends.trt.ops import indexing as indexing
from trtdsl.backends.trt.ops import linear as linear
from trtdsl.backends.trt.ops import matmul as matmul
from trtdsl.backends.trt.ops import normalization as normalization
from trtdsl.backends.trt.ops import parameter as parameter
from trtdsl.backends.trt.ops import pooling as pooling
from trtdsl.backends.trt.ops import quantize as quantize
from trtdsl.backends.trt.ops import reduce as reduce
from trtdsl.backends.trt.ops import resize as resize
from trtdsl.backends.trt.ops import scan as scan
from trtdsl.backends.trt.ops import self_attention as self_attention
from trtdsl.backends.trt.ops import shape as shape
from trtdsl.backends.trt.ops import shuffle as shuffle
from trtdsl.backends.trt.ops import slicing as slicing
