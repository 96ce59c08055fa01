"""Every case's NumPy reference against its torch.nn.functional oracle, in float32.

Tolerances come from each case (rtol = atol = 1e-5 unless the case says otherwise; casts are
compared exactly). TF32 is off so that torch's own matmuls are full float32.
"""

from __future__ import annotations

import numpy as np
import pytest
from cases import CASES, OpCase, case_arrays

pytestmark = pytest.mark.oracle

ORACLE_CASES = [c for c in CASES if c.torch_fn is not None]


@pytest.fixture(scope="module")
def torch_modules():  # type: ignore[no-untyped-def]
    import torch
    import torch.nn.functional as F

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return torch, F


def test_every_case_has_an_oracle() -> None:
    assert len(ORACLE_CASES) == len(CASES), [c.id for c in CASES if c.torch_fn is None]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("case", ORACLE_CASES, ids=lambda c: c.id)
def test_reference_matches_torch(case: OpCase, seed: int, torch_modules) -> None:  # type: ignore[no-untyped-def]
    torch, F = torch_modules
    inputs, params = case_arrays(case, seed=seed)
    expected = case.torch_fn(  # type: ignore[misc]
        F,
        torch,
        [torch.from_numpy(x.copy()) for x in inputs],
        {k: torch.from_numpy(v.copy()) for k, v in params.items()},
    )
    if expected.dtype == torch.bfloat16:
        expected = expected.to(torch.float32)  # the IR holds bfloat16 values in float32
    got = case.op.reference(inputs, params)
    assert isinstance(got, np.ndarray)
    want = expected.numpy()
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=case.rtol, atol=case.atol)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_over_a_wide_range(approximate: str, torch_modules) -> None:  # type: ignore[no-untyped-def]
    from trtdsl.ir.ops import make_op

    torch, F = torch_modules
    x = np.linspace(-12, 12, 20001, dtype=np.float32)
    got = make_op("gelu", dict(approximate=approximate)).reference([x], {})
    want = F.gelu(torch.from_numpy(x), approximate=approximate).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_erf_kernel_matches_torch(torch_modules) -> None:  # type: ignore[no-untyped-def]
    from trtdsl.kernels.special import erf

    torch, _ = torch_modules
    x = np.linspace(-7, 7, 14001)
    np.testing.assert_allclose(erf(x), torch.erf(torch.from_numpy(x)).numpy(), rtol=0, atol=1e-10)
