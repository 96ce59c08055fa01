"""Every case's NumPy reference against its torch.nn.functional oracle, in float32.

Tolerances come from each case (rtol = atol = 1e-5 unless the case says otherwise; casts are
compared exactly). TF32 is off so that torch's own matmuls are full float32.
"""

from __future__ import annotations

import numpy as np
import pytest
from cases import CASES, OpCase, case_arrays
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trtdsl.errors import TrtdslError
from trtdsl.ir.ops import make_op
from trtdsl.ir.types import DType, TensorType

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


# -- whole networks: the zoo graph on the reference executor vs an independent torch forward ----


def _torch_resnet(torch, F, w: dict, x):  # type: ignore[no-untyped-def]
    """torchvision's ResNet forward (v1.5: stride on the 3x3), written against state_dict keys."""

    def bn(t, prefix):  # type: ignore[no-untyped-def]
        return F.batch_norm(
            t, w[f"{prefix}.running_mean"], w[f"{prefix}.running_var"],
            w[f"{prefix}.weight"], w[f"{prefix}.bias"], False, 0.0, 1e-5,
        )  # fmt: skip

    bottleneck = "layer1.0.conv3.weight" in w
    y = F.relu(bn(F.conv2d(x, w["conv1.weight"], stride=2, padding=3), "bn1"))
    y = F.max_pool2d(y, 3, 2, 1)
    for layer in (1, 2, 3, 4):
        block = 0
        while f"layer{layer}.{block}.conv1.weight" in w:
            p = f"layer{layer}.{block}"
            stride = 2 if layer > 1 and block == 0 else 1
            if bottleneck:
                out = F.relu(bn(F.conv2d(y, w[f"{p}.conv1.weight"]), f"{p}.bn1"))
                out = F.conv2d(out, w[f"{p}.conv2.weight"], stride=stride, padding=1)
                out = F.relu(bn(out, f"{p}.bn2"))
                out = bn(F.conv2d(out, w[f"{p}.conv3.weight"]), f"{p}.bn3")
            else:
                out = F.conv2d(y, w[f"{p}.conv1.weight"], stride=stride, padding=1)
                out = F.relu(bn(out, f"{p}.bn1"))
                out = bn(F.conv2d(out, w[f"{p}.conv2.weight"], padding=1), f"{p}.bn2")
            if f"{p}.downsample.0.weight" in w:
                y = F.conv2d(y, w[f"{p}.downsample.0.weight"], stride=stride)
                y = bn(y, f"{p}.downsample.1")
            y = F.relu(out + y)
            block += 1
    y = torch.flatten(F.adaptive_avg_pool2d(y, 1), 1)
    return F.linear(y, w["fc.weight"], w["fc.bias"])


@pytest.mark.parametrize("model", ["resnet18", "resnet50"])
def test_zoo_resnet_reference_matches_torch(model: str, torch_modules) -> None:  # type: ignore[no-untyped-def]
    """The zoo graph, seeded random weights and the NumPy reference executor against torch.

    Tolerance: max |difference| <= 1e-5 * max |logit| (measured: ~5e-7), looser than the
    per-op 1e-5 relative bound because 20-50 float32 layers accumulate in a different order
    (GEMM vs torch's convolution) and compound; a 1% change of one BN variance deep in
    ResNet-50 moves the logits by ~9e-5 of their maximum, so it would be caught.
    """
    from trtdsl.backends.reference import run_reference
    from trtdsl.frontend.load import load_model
    from trtdsl.weights import random_weights

    torch, F = torch_modules
    graph = load_model(model, shapes={"x": (2, 3, 64, 64)})
    weights = random_weights(graph, seed=5)
    x = np.random.default_rng(6).standard_normal((2, 3, 64, 64)).astype(np.float32)
    (got,) = run_reference(graph, weights, {"x": x}).values()
    tw = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in weights.items()}
    with torch.no_grad():
        want = _torch_resnet(torch, F, tw, torch.from_numpy(x)).numpy()
    assert got.shape == want.shape == (2, 1000)
    assert np.abs(want).max() > 1e-3, "degenerate logits would make the comparison vacuous"
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()


# -- random spatial configurations: same accept/reject decision and same values as torch -------

SPATIAL = dict(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])


@settings(**SPATIAL)
@given(
    kind=st.sampled_from(["max", "avg"]),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    ceil_mode=st.booleans(),
    count_include_pad=st.booleans(),
    hw=st.tuples(st.integers(1, 9), st.integers(1, 9)),
)
def test_random_pooling_agrees_with_torch(
    kind: str,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    ceil_mode: bool,
    count_include_pad: bool,
    hw: tuple[int, int],
) -> None:
    import torch
    import torch.nn.functional as F

    kwargs: dict[str, object] = dict(
        kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode
    )
    if kind == "avg":
        kwargs["count_include_pad"] = count_include_pad
    torch_pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    x = np.random.default_rng(0).standard_normal((1, 2, *hw)).astype(np.float32)
    try:
        want = torch_pool(torch.from_numpy(x), **kwargs).numpy()
    except RuntimeError:
        want = None
    try:
        op = make_op(f"{kind}_pool2d", kwargs)
        (out_type,) = op.infer_outputs([TensorType(DType.FLOAT32, (1, 2, *hw))])
    except TrtdslError:
        assert want is None, "torch accepts what trtdsl rejects"
        return
    assert want is not None, "trtdsl accepts what torch rejects"
    assert out_type.shape == want.shape
    np.testing.assert_allclose(op.reference([x], {}), want, rtol=1e-6, atol=1e-6)


@settings(**SPATIAL)
@given(
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    groups=st.sampled_from([1, 2, 4]),
    hw=st.tuples(st.integers(1, 9), st.integers(1, 9)),
)
def test_random_conv2d_agrees_with_torch(
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
    hw: tuple[int, int],
) -> None:
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, *hw)).astype(np.float32)
    w = rng.standard_normal((4, 4 // groups, *kernel)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    try:
        want = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), **kwargs)
    except RuntimeError:
        want = None
    try:
        op = make_op("conv2d", dict(out_channels=4, kernel_size=kernel, **kwargs))
        (out_type,) = op.infer_outputs([TensorType(DType.FLOAT32, x.shape)])
    except TrtdslError:
        assert want is None, "torch accepts what trtdsl rejects"
        return
    assert want is not None, "trtdsl accepts what torch rejects"
    assert out_type.shape == tuple(want.shape)
    got = op.reference([x], {"weight": w, "bias": b})
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-5)


@settings(**SPATIAL)
@given(
    out=st.tuples(st.one_of(st.none(), st.integers(1, 9)), st.integers(1, 9)),
    hw=st.tuples(st.integers(1, 9), st.integers(1, 9)),
)
def test_random_adaptive_avg_pool_agrees_with_torch(
    out: tuple[int | None, int], hw: tuple[int, int]
) -> None:
    import torch
    import torch.nn.functional as F

    x = np.random.default_rng(2).standard_normal((1, 3, *hw)).astype(np.float32)
    want = F.adaptive_avg_pool2d(torch.from_numpy(x), out).numpy()
    op = make_op("adaptive_avg_pool2d", dict(output_size=out))
    (out_type,) = op.infer_outputs([TensorType(DType.FLOAT32, x.shape)])
    assert out_type.shape == want.shape
    np.testing.assert_allclose(op.reference([x], {}), want, rtol=1e-6, atol=1e-6)
