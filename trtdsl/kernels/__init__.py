"""NumPy compute kernels shared by the IR reference semantics and the TensorRT emulator.

Kernels take explicit, backend-neutral parameters (begin/end padding, strides, ...); mapping
PyTorch or TensorRT attributes onto them is the caller's job.
"""

from trtdsl.kernels.conv import conv2d as conv2d
from trtdsl.kernels.pool import pool2d as pool2d
from trtdsl.kernels.pool import pool_output_size as pool_output_size
