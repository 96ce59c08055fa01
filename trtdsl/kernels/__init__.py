"""NumPy compute kernels shared by the IR reference semantics and the TensorRT emulator.

Kernels take explicit, backend-neutral parameters (begin/end padding, strides, ...); mapping
PyTorch or TensorRT attributes onto them is the caller's job. They run on a thread pool
(``threads``; default: the cores this process may use) with results that never depend on the
number of threads (``trtdsl.kernels.parallel``).
"""

from trtdsl.kernels.attention import (
    scaled_dot_product_attention as scaled_dot_product_attention,
)
from trtdsl.kernels.conv import conv2d as conv2d
from trtdsl.kernels.gemm import linear as linear
from trtdsl.kernels.gemm import matmul as matmul
from trtdsl.kernels.normalization import layer_norm as layer_norm
from trtdsl.kernels.normalization import softmax as softmax
from trtdsl.kernels.parallel import available_cores as available_cores
from trtdsl.kernels.parallel import thread_count as thread_count
from trtdsl.kernels.parallel import threads as threads
from trtdsl.kernels.pointwise import Activation as Activation
from trtdsl.kernels.pointwise import activate as activate
from trtdsl.kernels.pool import pool2d as pool2d
from trtdsl.kernels.pool import pool_output_size as pool_output_size
