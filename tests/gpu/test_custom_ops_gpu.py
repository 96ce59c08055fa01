"""The example plugins' CUDA C on a real GPU without TensorRT (level: GPU without TensorRT):
each kernel compiled with NVRTC and launched through ``cuda.bindings.driver``
(``trtdsl.backends.trt.plugin_kernel``), compared with the op's NumPy reference, and the
deformable convolution also with ``torchvision.ops.deform_conv2d`` on CUDA.

    python -m pytest -q -p no:cacheprovider tests/gpu/test_custom_ops_gpu.py

needs a CUDA GPU, cuda-python >= 12 (cuda.bindings.nvrtc, cuda.bindings.driver) and PyTorch
with CUDA (device buffers); torchvision for the deform_conv2d comparison.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import trtdsl
from trtdsl.backends.trt.plugin_kernel import compile_kernel, cuda_unavailable_reason, launch_kernel
from trtdsl.ir.ops.custom import custom_op_scope

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "custom_ops"
_REASON = cuda_unavailable_reason()
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(_REASON is not None, reason=f"needs CUDA with cuda-python: {_REASON}"),
]


@pytest.fixture(autouse=True)
def _scope() -> Iterator[None]:
    with custom_op_scope():
        yield


@pytest.fixture
def torch() -> Any:
    torch = pytest.importorskip("torch", reason="needs PyTorch for device buffers")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch has no CUDA device")
    torch.zeros(1, device="cuda")  # the primary context, shared with the kernels
    return torch


def _run(op: Any, torch: Any, arrays: list[np.ndarray], out_shape: tuple[int, ...]) -> np.ndarray:
    """``op``'s kernel on ``arrays`` (inputs then weights): NVRTC, then cuLaunchKernel."""
    assert op.kernel is not None
    tensors = [torch.from_numpy(np.ascontiguousarray(a)).cuda() for a in arrays]
    out = torch.empty(out_shape, dtype=torch.float32, device="cuda")
    kernel = compile_kernel(op.kernel.source, op.kernel.name)
    launch = op.launch([tuple(a.shape) for a in arrays])
    stream = torch.cuda.current_stream().cuda_stream
    launch_kernel(kernel, launch, [t.data_ptr() for t in tensors] + [out.data_ptr()], stream)
    torch.cuda.synchronize()
    return np.asarray(out.cpu().numpy())


def test_mish_kernel_equals_its_reference_and_torch(torch: Any) -> None:
    mish: ModuleType = trtdsl.load_ops(EXAMPLES / "mish.py")
    x = np.linspace(-40, 40, 3 * 5 * 67 * 13, dtype=np.float32).reshape(3, 5, 67, 13)
    got = _run(mish.MishPlugin(), torch, [x], x.shape)
    np.testing.assert_allclose(got, mish.MishPlugin().reference([x], {}), rtol=2e-6, atol=2e-6)
    want = torch.nn.functional.mish(torch.from_numpy(x).cuda()).cpu().numpy()
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize(("stride", "padding", "dilation", "groups"), [(1, 1, 1, 1), (2, 2, 2, 2)])
def test_deform_conv2d_kernel_equals_reference_and_torchvision(
    torch: Any, stride: int, padding: int, dilation: int, groups: int
) -> None:
    deform: ModuleType = trtdsl.load_ops(EXAMPLES / "deform_conv2d.py")
    rng = np.random.default_rng(1)
    op = deform.DeformConv2d(out_channels=5, kernel_size=3, stride=stride, padding=padding,
                             dilation=dilation)  # fmt: skip
    x = rng.standard_normal((2, 4, 11, 9)).astype(np.float32)
    ho, wo = op._geometry(trtdsl.TensorType(trtdsl.DType.FLOAT32, x.shape))
    offset = (rng.standard_normal((2, 2 * groups * 9, ho, wo)) * 2).astype(np.float32)
    mask = rng.uniform(0, 1, (2, groups * 9, ho, wo)).astype(np.float32)
    weight = rng.standard_normal((5, 4, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    got = _run(op, torch, [x, offset, mask, weight, bias], (2, 5, ho, wo))
    reference = op.reference([x, offset, mask], {"weight": weight, "bias": bias})
    np.testing.assert_allclose(got, reference, rtol=1e-4, atol=1e-4)
    torchvision = pytest.importorskip("torchvision", reason="needs torchvision")
    cuda = [torch.from_numpy(a).cuda() for a in (x, offset, weight, bias, mask)]
    want = torchvision.ops.deform_conv2d(
        cuda[0], cuda[1], cuda[2], cuda[3], stride=stride, padding=padding, dilation=dilation,
        mask=cuda[4],
    ).cpu().numpy()  # fmt: skip
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(reference, want, rtol=1e-4, atol=1e-4)


def test_a_kernel_nvrtc_rejects_is_one_clear_error(torch: Any) -> None:
    with pytest.raises(trtdsl.BackendError, match="kernel broken: NVRTC could not compile"):
        compile_kernel('extern "C" __global__ void broken(float* x) { x[0] = y; }', "broken")
