"""The table of small op cases that drives every per-op test (shapes, reference, ONNX, TensorRT).

Public API (stable; other test modules import it with ``from cases import ...``, the tests
directory being on ``sys.path`` under pytest's default import mode):

- ``OpCase``: one op instance, static float32 input shapes, the expected output shapes and a
  ``torch.nn.functional`` oracle ``torch_fn(F, torch, inputs, params) -> Tensor``, where
  ``inputs`` is a list of torch tensors and ``params`` maps state_dict roles (``weight``,
  ``bias``, ``running_mean``, ...) to torch tensors. ``rtol``/``atol`` are the tolerances the
  oracle test uses for this case.
- ``CASES``: every case, ids ``<op_name>`` or ``<op_name>-<variant>`` (``conv2d-depthwise``);
  every registered op has at least one.
- ``case_arrays(case, seed=0) -> (inputs, params)``: seeded float32 NumPy inputs and every
  non-optional parameter of the op (batch-norm ``running_var`` positive; conv and linear
  weights scaled by 1/sqrt(fan_in)).
- ``case_input_types(case)``: the input TensorTypes.
- ``ErrorCase`` (defined in ``error_cases.py``): attributes or inputs an op must reject with
  ``error`` whose message matches ``match`` (``input_shapes is None``: ``make_op`` itself must
  raise). Each op's error cases are the ``errors`` field of its first row; ``ERROR_CASES``
  collects them in table order. ``error_case_input_types``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from error_cases import ErrorCase as ErrorCase
from error_cases import error_case as error_case
from error_cases import error_case_input_types as error_case_input_types

from trtdsl.ir.ops import Op, make_op
from trtdsl.ir.types import DType, TensorType

TorchFn = Callable[[Any, Any, list[Any], dict[str, Any]], Any]
"""``torch_fn(F, torch, inputs, params) -> torch.Tensor`` (F is ``torch.nn.functional``)."""


@dataclass(frozen=True)
class OpCase:
    """One op applied to static float32 inputs.

    Attributes:
        id: ``<op_name>`` or ``<op_name>-<variant>``; unique; used as the pytest id.
        op: the op instance (built through ``make_op``, so attributes are normalised).
        input_shapes: one static shape per input.
        expected_shapes: one static shape per output.
        torch_fn: the PyTorch oracle, or None where PyTorch has no direct equivalent.
        input_scale: inputs are standard normal times this (reaches activation knees).
        nonzero_inputs: indices of inputs drawn with |x| in [0.5, 2] (divisors).
        rtol, atol: tolerances of the torch comparison.
        expected_dtypes: dtype names of the outputs (default float32 for each).
        input_dtypes: dtype names of the inputs (default float32 for each); int8 inputs are
            drawn uniformly from [-128, 127], bool inputs true or false with probability 1/2.
        int_range: int32 and int64 inputs are drawn uniformly from ``[low, high)`` (indices
            valid for the axis they index).
        errors: the op's error cases (on the op's first row only).
    """

    id: str
    op: Op
    input_shapes: tuple[tuple[int, ...], ...]
    expected_shapes: tuple[tuple[int, ...], ...]
    torch_fn: TorchFn | None
    input_scale: float = 1.0
    nonzero_inputs: tuple[int, ...] = ()
    rtol: float = 1e-5
    atol: float = 1e-5
    expected_dtypes: tuple[str, ...] | None = None
    input_dtypes: tuple[str, ...] | None = None
    int_range: tuple[int, int] = (0, 10)
    errors: tuple[ErrorCase, ...] = ()

    def output_types(self) -> tuple[TensorType, ...]:
        """The expected output TensorTypes."""
        dtypes = self.expected_dtypes or ("float32",) * len(self.expected_shapes)
        return tuple(
            TensorType(DType.parse(d), s) for d, s in zip(dtypes, self.expected_shapes, strict=True)
        )


def _case(
    case_id: str,
    op_name: str,
    kwargs: Mapping[str, Any],
    input_shapes: tuple[tuple[int, ...], ...],
    expected: tuple[int, ...],
    torch_fn: TorchFn | None,
    **extra: Any,
) -> OpCase:
    return OpCase(case_id, make_op(op_name, kwargs), input_shapes, (expected,), torch_fn, **extra)


def _conv(**kw: Any) -> TorchFn:
    return lambda F, torch, x, p: F.conv2d(x[0], p["weight"], p.get("bias"), **kw)


def _bn(eps: float) -> TorchFn:
    return lambda F, torch, x, p: F.batch_norm(
        x[0], p["running_mean"], p["running_var"], p["weight"], p["bias"], False, 0.0, eps
    )


def _fq_tensor(torch: Any, x: Any, scale: Any) -> Any:
    """torch's per-tensor INT8 fake quantization (zero point 0, range [-128, 127])."""
    return torch.fake_quantize_per_tensor_affine(x, float(scale), 0, -128, 127)


def _fq_channel(torch: Any, x: Any, scale: Any, axis: int) -> Any:
    """torch's per-channel INT8 fake quantization along ``axis`` (zero points 0)."""
    zero = torch.zeros(scale.shape[0], dtype=torch.int32)
    return torch.fake_quantize_per_channel_affine(x, scale, zero, axis, -128, 127)


def _dequantize(torch: Any, q: Any, scale: Any, axis: int | None = None) -> Any:
    """torch's own dequantization of int8 values ``q`` (a qint8 tensor's ``dequantize()``)."""
    with warnings.catch_warnings():  # torch 2.13 deprecates quantized tensors (not removed)
        warnings.simplefilter("ignore", UserWarning)
        if axis is None:
            return torch._make_per_tensor_quantized_tensor(q, float(scale), 0).dequantize()
        zero = torch.zeros(scale.shape[0], dtype=torch.long)
        quantized = torch._make_per_channel_quantized_tensor(q, scale.double(), zero, axis)
        return quantized.dequantize()


def _int8(torch: Any, fake: Any, scale: Any) -> Any:
    """The INT8 values of fake-quantized ``fake`` (exact: q * scale / scale rounds back to q)."""
    return torch.round(fake / scale).to(torch.int8)


def _unary(fn_name: str, **kw: Any) -> TorchFn:
    return lambda F, torch, x, p: getattr(F, fn_name)(x[0], **kw)


def _attention(num_heads: int, batch_first: bool) -> TorchFn:
    """``torch.nn.MultiheadAttention``'s functional form (eval, no masks, no weights returned)."""

    def attention(F: Any, torch: Any, x: list[Any], p: dict[str, Any]) -> Any:
        q, k, v = (x[0], x[0], x[0]) if len(x) == 1 else x
        if batch_first:
            q, k, v = (t.transpose(0, 1) for t in (q, k, v))
        out, _ = F.multi_head_attention_forward(
            q, k, v, p["in_proj_weight"].shape[1], num_heads,
            p["in_proj_weight"], p.get("in_proj_bias"), None, None, False, 0.0,
            p["out_proj.weight"], p.get("out_proj.bias"), training=False, need_weights=False,
        )  # fmt: skip
        return out.transpose(0, 1) if batch_first else out

    return attention


def _self_attention(qkv: str | None, out: str | None, conv1d: bool, causal: bool) -> TorchFn:
    """A ``self_attention`` case's oracle: the projections as ``F.linear`` (or ``x @ W + b``
    for Hugging Face's Conv1D layout), ``F.scaled_dot_product_attention`` on 2 heads with a
    2-D key padding mask as ``mask[:, None, None, :]``, and a mask and ``causal`` together as
    ``mask & tril``."""

    def project(torch: Any, x: Any, p: dict[str, Any], name: str) -> Any:
        w, b = p[f"{name}.weight"], p.get(f"{name}.bias")
        y = x @ w if conv1d else x @ w.T
        return y if b is None else y + b

    def fn(F: Any, torch: Any, x: list[Any], p: dict[str, Any]) -> Any:
        n, length, e = x[0].shape
        if qkv is not None:
            q, k, v = project(torch, x[0], p, qkv).split(e, dim=-1)
        else:
            q, k, v = (project(torch, x[0], p, name) for name in ("query", "key", "value"))
        q, k, v = (t.reshape(n, length, 2, e // 2).transpose(1, 2) for t in (q, k, v))
        mask = x[1] if len(x) == 2 else None
        if mask is not None and mask.dim() == 2:
            mask = mask[:, None, None, :]
        if mask is not None and causal:
            mask = mask & torch.ones(length, length, dtype=torch.bool).tril()
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=causal and mask is None
        )
        y = y.transpose(1, 2).reshape(n, length, e)
        return y if out is None else project(torch, y, p, out)

    return fn


def _torch_nms(score_threshold: float, iou_threshold: float, max_det: int, multi: bool) -> TorchFn:
    """An independent torch version of ``nms``: greedy batched NMS per image (torchvision's
    ``batched_nms`` semantics), rows (x1, y1, x2, y2, score, class), padding (0, 0, 0, 0, 0, -1)."""

    def fn(F: Any, torch: Any, x: list[Any], p: dict[str, Any]) -> Any:
        boxes, scores = x
        out = torch.zeros(boxes.shape[0], max_det, 6)
        out[:, :, 5] = -1
        for n in range(boxes.shape[0]):
            if multi:
                anchor, cls = torch.nonzero(scores[n] > score_threshold, as_tuple=True)
            else:
                best, arg = scores[n].max(dim=1)
                anchor = torch.nonzero(best > score_threshold).flatten()
                cls = arg[anchor]
            value = scores[n, anchor, cls]
            order = torch.argsort(value, descending=True, stable=True)
            b = boxes[n, anchor[order]].double()
            lo, hi = torch.minimum(b[:, :2], b[:, 2:]), torch.maximum(b[:, :2], b[:, 2:])
            area = (hi - lo).prod(dim=1)
            keep: list[int] = []
            for i in range(len(order)):
                ok = True
                for j in keep:
                    if cls[order[j]] != cls[order[i]]:
                        continue
                    wh = (torch.minimum(hi[i], hi[j]) - torch.maximum(lo[i], lo[j])).clamp(min=0)
                    inter = wh[0] * wh[1]
                    if inter / (area[i] + area[j] - inter) > iou_threshold:
                        ok = False
                        break
                if ok:
                    keep.append(i)
            kept = order[torch.tensor(keep[:max_det], dtype=torch.long)]
            rows = len(kept)
            out[n, :rows, :4] = boxes[n, anchor[kept]]
            out[n, :rows, 4] = scores[n, anchor[kept], cls[kept]]
            out[n, :rows, 5] = cls[kept].float()
        return out

    return fn


def _torch_anchors(strides: tuple[int, ...], offset: float, points: bool) -> TorchFn:
    """Ultralytics' ``make_anchors``, written in torch: (1, 2, A) points or (1, 1, A) strides."""

    def fn(F: Any, torch: Any, x: list[Any], p: dict[str, Any]) -> Any:
        anchor_points, stride_tensor = [], []
        for feat, stride in zip(x, strides, strict=True):
            h, w = feat.shape[2:]
            sx = torch.arange(w, dtype=torch.float32) + offset
            sy = torch.arange(h, dtype=torch.float32) + offset
            sy, sx = torch.meshgrid(sy, sx, indexing="ij")
            anchor_points.append(torch.stack((sx, sy), -1).view(-1, 2))
            stride_tensor.append(torch.full((h * w, 1), float(stride)))
        grid = torch.cat(anchor_points) if points else torch.cat(stride_tensor)
        return grid.transpose(0, 1).unsqueeze(0).contiguous()

    return fn


CASES: tuple[OpCase, ...] = (
    # -- conv2d -------------------------------------------------------------------------------
    _case(
        "conv2d",
        "conv2d",
        dict(out_channels=8, kernel_size=3, padding=1),
        ((2, 3, 8, 8),),
        (2, 8, 8, 8),
        _conv(padding=1),
        errors=(
            error_case(
                "conv2d-missing",
                "conv2d",
                dict(out_channels=4),
                None,
                "missing required.*kernel_size",
            ),
            error_case(
                "conv2d-unknown",
                "conv2d",
                dict(out_channels=4, kernel_size=3, pad=1),
                None,
                "'padding'",
            ),
            error_case(
                "conv2d-kernel-zero",
                "conv2d",
                dict(out_channels=4, kernel_size=0),
                None,
                "kernel_size",
            ),
            error_case(
                "conv2d-groups",
                "conv2d",
                dict(out_channels=5, kernel_size=3, groups=2),
                None,
                "not divisible by groups",
            ),
            error_case(
                "conv2d-rank",
                "conv2d",
                dict(out_channels=4, kernel_size=3),
                ((3, 8, 8),),
                "expected a rank-4 NCHW input, got float32",
            ),
            error_case(
                "conv2d-too-small",
                "conv2d",
                dict(out_channels=4, kernel_size=5),
                ((1, 3, 3, 8),),
                "does not fit",
            ),
            error_case(
                "conv2d-groups-input",
                "conv2d",
                dict(out_channels=4, kernel_size=1, groups=2),
                ((1, 3, 4, 4),),
                "input channels 3 are not divisible by groups 2",
            ),
            error_case(
                "conv2d-symbolic-channels",
                "conv2d",
                dict(out_channels=4, kernel_size=1),
                ((1, "C", 4, 4),),
                "channel dimension must be static",
            ),
            error_case(
                "conv2d-int-input",
                "conv2d",
                dict(out_channels=4, kernel_size=1),
                ((1, 3, 4, 4),),
                "expected a floating-point input",
                ("int32",),
            ),
        ),
    ),
    _case(
        "conv2d-strided-asymmetric",
        "conv2d",
        dict(out_channels=6, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), bias=False),
        ((1, 4, 9, 7),),
        (1, 6, 5, 6),
        _conv(stride=(2, 1), padding=(1, 0)),
    ),
    _case(
        "conv2d-dilated",
        "conv2d",
        dict(out_channels=4, kernel_size=3, dilation=2, padding=2),
        ((1, 3, 10, 10),),
        (1, 4, 10, 10),
        _conv(dilation=2, padding=2),
    ),
    _case(
        "conv2d-dilated-asymmetric",
        "conv2d",
        dict(out_channels=4, kernel_size=(3, 5), stride=(1, 2), padding=(2, 1), dilation=(2, 1)),
        ((1, 2, 8, 11),),
        (1, 4, 8, 5),
        _conv(stride=(1, 2), padding=(2, 1), dilation=(2, 1)),
    ),
    _case(
        "conv2d-depthwise",
        "conv2d",
        dict(out_channels=6, kernel_size=3, stride=2, padding=1, groups=6),
        ((2, 6, 9, 9),),
        (2, 6, 5, 5),
        _conv(stride=2, padding=1, groups=6),
    ),
    _case(
        "conv2d-grouped",
        "conv2d",
        dict(out_channels=8, kernel_size=3, padding=1, groups=2, bias=False),
        ((1, 4, 5, 5),),
        (1, 8, 5, 5),
        _conv(padding=1, groups=2),
    ),
    _case(
        "conv2d-pointwise-strided",
        "conv2d",
        dict(out_channels=5, kernel_size=1, stride=2),
        ((1, 3, 7, 7),),
        (1, 5, 4, 4),
        _conv(stride=2),
    ),
    # -- batch_norm2d -------------------------------------------------------------------------
    _case(
        "batch_norm2d",
        "batch_norm2d",
        {},
        ((2, 4, 5, 5),),
        (2, 4, 5, 5),
        _bn(1e-5),
        errors=(
            error_case(
                "batch_norm2d-eps", "batch_norm2d", dict(eps=0.0), None, "eps must be a positive"
            ),
            error_case(
                "batch_norm2d-eps-str", "batch_norm2d", dict(eps="small"), None, "eps must be"
            ),
            error_case(
                "batch_norm2d-rank", "batch_norm2d", {}, ((2, 3),), "expected a rank-4 NCHW input"
            ),
        ),
    ),
    _case(
        "batch_norm2d-eps",
        "batch_norm2d",
        dict(eps=1e-3),
        ((1, 3, 4, 6),),
        (1, 3, 4, 6),
        _bn(1e-3),
    ),
    # -- activations --------------------------------------------------------------------------
    _case(
        "relu",
        "relu",
        {},
        ((2, 3, 4, 5),),
        (2, 3, 4, 5),
        _unary("relu"),
        errors=(
            error_case(
                "relu-argument", "relu", dict(inplace=True), None, "unknown argument 'inplace'"
            ),
            error_case("relu-arity", "relu", {}, ((2,), (2,)), r"expected 1 input\(s\), got 2"),
        ),
    ),
    _case("relu6", "relu6", {}, ((2, 3, 4, 5),), (2, 3, 4, 5), _unary("relu6"), input_scale=4.0),
    _case(
        "clip",
        "clip",
        dict(min=-0.5, max=0.5),
        ((2, 3, 4),),
        (2, 3, 4),
        lambda F, torch, x, p: torch.clamp(x[0], -0.5, 0.5),
        errors=(
            error_case("clip-none", "clip", {}, None, "give min, max or both"),
            error_case(
                "clip-order",
                "clip",
                dict(min=1.0, max=0.0),
                None,
                "min 1.0 is greater than max 0.0",
            ),
            error_case(
                "clip-nan", "clip", dict(min=float("nan")), None, "min must be a finite number"
            ),
        ),
    ),
    _case(
        "clip-min-only",
        "clip",
        dict(min=0.25),
        ((2, 3, 4),),
        (2, 3, 4),
        lambda F, torch, x, p: torch.clamp(x[0], min=0.25),
    ),
    _case(
        "clip-max-only",
        "clip",
        dict(max=-0.1),
        ((5, 7),),
        (5, 7),
        lambda F, torch, x, p: torch.clamp(x[0], max=-0.1),
    ),
    _case(
        "leaky_relu",
        "leaky_relu",
        {},
        ((2, 3, 4),),
        (2, 3, 4),
        _unary("leaky_relu"),
        errors=(
            error_case(
                "leaky_relu-slope", "leaky_relu", dict(negative_slope="a"), None, "negative_slope"
            ),
        ),
    ),
    _case(
        "leaky_relu-slope",
        "leaky_relu",
        dict(negative_slope=0.2),
        ((1, 2, 3, 3),),
        (1, 2, 3, 3),
        _unary("leaky_relu", negative_slope=0.2),
    ),
    _case(
        "sigmoid",
        "sigmoid",
        {},
        ((2, 3, 4, 5),),
        (2, 3, 4, 5),
        _unary("sigmoid"),
        input_scale=4.0,
        errors=(error_case("sigmoid-int", "sigmoid", {}, ((2,),), "floating-point", ("int64",)),),
    ),
    _case("silu", "silu", {}, ((2, 3, 4, 5),), (2, 3, 4, 5), _unary("silu"), input_scale=4.0),
    _case("tanh", "tanh", {}, ((2, 3, 4, 5),), (2, 3, 4, 5), _unary("tanh"), input_scale=2.0),
    _case(
        "gelu",
        "gelu",
        {},
        ((2, 3, 4, 5),),
        (2, 3, 4, 5),
        _unary("gelu"),
        input_scale=3.0,
        errors=(
            error_case(
                "gelu-approximate", "gelu", dict(approximate="erf"), None, "'none', 'tanh'.*'erf'"
            ),
            error_case("gelu-int", "gelu", {}, ((2,),), "floating-point", ("int8",)),
        ),
    ),
    _case(
        "gelu-tanh",
        "gelu",
        dict(approximate="tanh"),
        ((2, 3, 4, 5),),
        (2, 3, 4, 5),
        _unary("gelu", approximate="tanh"),
        input_scale=3.0,
    ),
    _case(
        "hardsigmoid",
        "hardsigmoid",
        {},
        ((2, 3, 4, 5),),
        (2, 3, 4, 5),
        _unary("hardsigmoid"),
        input_scale=4.0,
    ),
    _case(
        "hardswish",
        "hardswish",
        {},
        ((2, 3, 4, 5),),
        (2, 3, 4, 5),
        _unary("hardswish"),
        input_scale=4.0,
    ),
    # -- pooling ------------------------------------------------------------------------------
    _case(
        "max_pool2d",
        "max_pool2d",
        dict(kernel_size=3, stride=2, padding=1),
        ((2, 3, 9, 9),),
        (2, 3, 5, 5),
        _unary("max_pool2d", kernel_size=3, stride=2, padding=1),
        errors=(
            error_case(
                "max_pool2d-missing", "max_pool2d", {}, None, "missing required.*kernel_size"
            ),
            error_case(
                "max_pool2d-stride", "max_pool2d", dict(kernel_size=2, stride=0), None, "stride"
            ),
            error_case(
                "max_pool2d-padding",
                "max_pool2d",
                dict(kernel_size=3, padding=2),
                None,
                r"at most half of kernel_size \(3, 3\)",
            ),
            error_case(
                "max_pool2d-ceil", "max_pool2d", dict(kernel_size=2, ceil_mode=1), None, "ceil_mode"
            ),
            error_case(
                "max_pool2d-too-small",
                "max_pool2d",
                dict(kernel_size=3),
                ((1, 1, 2, 8),),
                "does not fit",
            ),
        ),
    ),
    _case(
        "max_pool2d-stride-default",
        "max_pool2d",
        dict(kernel_size=2),
        ((1, 3, 6, 7),),
        (1, 3, 3, 3),
        _unary("max_pool2d", kernel_size=2),
    ),
    _case(
        "max_pool2d-ceil",
        "max_pool2d",
        dict(kernel_size=3, stride=2, ceil_mode=True),
        ((1, 2, 8, 8),),
        (1, 2, 4, 4),
        _unary("max_pool2d", kernel_size=3, stride=2, ceil_mode=True),
    ),
    _case(
        # H: ceil((3+2-2)/2)+1 = 3, but the third window would start in the right padding,
        # so PyTorch drops it (2). W: ceil((6+2-2)/2)+1 = 4, no window dropped.
        "max_pool2d-ceil-last-window",
        "max_pool2d",
        dict(kernel_size=2, stride=2, padding=1, ceil_mode=True),
        ((1, 2, 3, 6),),
        (1, 2, 2, 4),
        _unary("max_pool2d", kernel_size=2, stride=2, padding=1, ceil_mode=True),
    ),
    _case(
        "max_pool2d-asymmetric",
        "max_pool2d",
        dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0)),
        ((1, 2, 7, 5),),
        (1, 2, 4, 4),
        _unary("max_pool2d", kernel_size=(3, 2), stride=(2, 1), padding=(1, 0)),
    ),
    _case(
        "avg_pool2d",
        "avg_pool2d",
        dict(kernel_size=3, stride=2, padding=1),
        ((2, 3, 8, 8),),
        (2, 3, 4, 4),
        _unary("avg_pool2d", kernel_size=3, stride=2, padding=1),
        errors=(
            error_case(
                "avg_pool2d-padding",
                "avg_pool2d",
                dict(kernel_size=(2, 4), padding=(1, 3)),
                None,
                "padding <= kernel_size // 2",
            ),
            error_case(
                "avg_pool2d-count",
                "avg_pool2d",
                dict(kernel_size=2, count_include_pad="yes"),
                None,
                "count_include_pad must be true or false",
            ),
            error_case(
                "avg_pool2d-symbolic",
                "avg_pool2d",
                dict(kernel_size=2, ceil_mode=True),
                (("N", 3, "H", 8),),
                "ceil_mode needs static spatial dimensions",
            ),
        ),
    ),
    _case(
        "avg_pool2d-exclude-pad",
        "avg_pool2d",
        dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
        ((2, 3, 8, 8),),
        (2, 3, 4, 4),
        _unary("avg_pool2d", kernel_size=3, stride=2, padding=1, count_include_pad=False),
    ),
    _case(
        "avg_pool2d-ceil-include-pad",
        "avg_pool2d",
        dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
        ((1, 2, 8, 8),),
        (1, 2, 5, 5),
        _unary("avg_pool2d", kernel_size=3, stride=2, padding=1, ceil_mode=True),
    ),
    _case(
        "avg_pool2d-ceil-exclude-pad",
        "avg_pool2d",
        dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
        ((1, 2, 8, 8),),
        (1, 2, 5, 5),
        _unary(
            "avg_pool2d",
            kernel_size=3,
            stride=2,
            padding=1,
            ceil_mode=True,
            count_include_pad=False,
        ),
    ),
    _case(
        "avg_pool2d-ceil-last-window",
        "avg_pool2d",
        dict(kernel_size=2, stride=2, padding=1, ceil_mode=True),
        ((1, 2, 3, 6),),
        (1, 2, 2, 4),
        _unary("avg_pool2d", kernel_size=2, stride=2, padding=1, ceil_mode=True),
    ),
    _case(
        "avg_pool2d-stride-default",
        "avg_pool2d",
        dict(kernel_size=(2, 3)),
        ((1, 3, 6, 7),),
        (1, 3, 3, 2),
        _unary("avg_pool2d", kernel_size=(2, 3)),
    ),
    _case(
        "adaptive_avg_pool2d",
        "adaptive_avg_pool2d",
        dict(output_size=1),
        ((2, 8, 7, 7),),
        (2, 8, 1, 1),
        _unary("adaptive_avg_pool2d", output_size=1),
        errors=(
            error_case(
                "adaptive_avg_pool2d-zero",
                "adaptive_avg_pool2d",
                dict(output_size=0),
                None,
                "output_size must be >= 1",
            ),
            error_case(
                "adaptive_avg_pool2d-none",
                "adaptive_avg_pool2d",
                dict(output_size=(None, 0)),
                None,
                "ints >= 1 or None",
            ),
            error_case(
                "adaptive_avg_pool2d-rank",
                "adaptive_avg_pool2d",
                dict(output_size=1),
                ((2, 8),),
                "expected a rank-4",
            ),
        ),
    ),
    _case(
        "adaptive_avg_pool2d-uneven",
        "adaptive_avg_pool2d",
        dict(output_size=(3, 4)),
        ((1, 2, 7, 9),),
        (1, 2, 3, 4),
        _unary("adaptive_avg_pool2d", output_size=(3, 4)),
    ),
    _case(
        "adaptive_avg_pool2d-even",
        "adaptive_avg_pool2d",
        dict(output_size=(2, 3)),
        ((1, 3, 4, 6),),
        (1, 3, 2, 3),
        _unary("adaptive_avg_pool2d", output_size=(2, 3)),
    ),
    _case(
        "adaptive_avg_pool2d-keep-height",
        "adaptive_avg_pool2d",
        dict(output_size=(None, 2)),
        ((1, 2, 5, 5),),
        (1, 2, 5, 2),
        _unary("adaptive_avg_pool2d", output_size=(None, 2)),
    ),
    # -- linear -------------------------------------------------------------------------------
    _case(
        "linear",
        "linear",
        dict(out_features=5),
        ((3, 8),),
        (3, 5),
        lambda F, torch, x, p: F.linear(x[0], p["weight"], p["bias"]),
        errors=(
            error_case(
                "linear-out",
                "linear",
                dict(out_features=0),
                None,
                "out_features must be an int >= 1",
            ),
            error_case("linear-bias", "linear", dict(out_features=2, bias="no"), None, "bias"),
            error_case(
                "linear-symbolic-features",
                "linear",
                dict(out_features=3),
                (("N", "K"),),
                "feature\\) dimension must be static",
            ),
            error_case("linear-scalar", "linear", dict(out_features=3), ((),), "rank >= 1"),
        ),
    ),
    _case(
        "linear-nobias-3d",
        "linear",
        dict(out_features=6, bias=False),
        ((2, 3, 4),),
        (2, 3, 6),
        lambda F, torch, x, p: F.linear(x[0], p["weight"]),
    ),
    # -- shape ops ----------------------------------------------------------------------------
    _case(
        "flatten",
        "flatten",
        {},
        ((2, 3, 4, 5),),
        (2, 60),
        lambda F, torch, x, p: torch.flatten(x[0], 1),
        errors=(
            error_case(
                "flatten-start", "flatten", dict(start_dim=1.5), None, "start_dim must be an int"
            ),
            error_case(
                "flatten-order",
                "flatten",
                dict(start_dim=2, end_dim=1),
                ((2, 3, 4),),
                "start_dim 2 comes after end_dim 1",
            ),
            error_case(
                "flatten-range",
                "flatten",
                dict(start_dim=4),
                ((2, 3, 4),),
                "start_dim 4 out of range",
            ),
            error_case(
                "flatten-symbolic",
                "flatten",
                dict(start_dim=0),
                (("N", 3, 4),),
                r"cannot merge symbolic dimension\(s\) \['N'\]",
            ),
        ),
    ),
    _case(
        "flatten-leading",
        "flatten",
        dict(start_dim=0, end_dim=2),
        ((2, 3, 4, 5),),
        (24, 5),
        lambda F, torch, x, p: torch.flatten(x[0], 0, 2),
    ),
    _case(
        "flatten-negative",
        "flatten",
        dict(start_dim=-2),
        ((2, 3, 4, 5),),
        (2, 3, 20),
        lambda F, torch, x, p: torch.flatten(x[0], -2),
    ),
    _case(
        "reshape",
        "reshape",
        dict(shape=[6, -1]),
        ((2, 3, 4),),
        (6, 4),
        lambda F, torch, x, p: torch.reshape(x[0], (6, -1)),
        errors=(
            error_case(
                "reshape-two-minus-one", "reshape", dict(shape=[-1, -1]), None, "at most once"
            ),
            error_case(
                "reshape-zero",
                "reshape",
                dict(shape=[0, 4]),
                None,
                "ints >= 1, -1 or dimension names",
            ),
            error_case("reshape-type", "reshape", dict(shape=3.5), None, "shape must be a list"),
            error_case(
                "reshape-count",
                "reshape",
                dict(shape=[5, 5]),
                ((2, 12),),
                r"\(24 elements\) into \[5, 5\] \(25 elements\)",
            ),
            error_case(
                "reshape-divide", "reshape", dict(shape=[5, -1]), ((2, 12),), "do not divide by 5"
            ),
            error_case(
                "reshape-absorb-symbol",
                "reshape",
                dict(shape=[-1]),
                (("N", 12),),
                r"-1 cannot absorb symbolic dimension\(s\) \['N'\]",
            ),
            error_case(
                "reshape-symbol-position",
                "reshape",
                dict(shape=[2, "N", -1]),
                (("N", 2, 6),),
                "symbolic size 'N' at position 1 must be the input's dimension 1",
            ),
        ),
    ),
    _case(
        "reshape-split",
        "reshape",
        dict(shape=[2, 3, 2, 2]),
        ((2, 12),),
        (2, 3, 2, 2),
        lambda F, torch, x, p: torch.reshape(x[0], (2, 3, 2, 2)),
    ),
    _case(
        "permute",
        "permute",
        dict(dims=[0, 2, 3, 1]),
        ((2, 3, 4, 5),),
        (2, 4, 5, 3),
        lambda F, torch, x, p: torch.permute(x[0], (0, 2, 3, 1)),
        errors=(
            error_case(
                "permute-type", "permute", dict(dims="012"), None, "dims must be a list of ints"
            ),
            error_case(
                "permute-length",
                "permute",
                dict(dims=[0, 1]),
                ((2, 3, 4),),
                "has 2 entries, expected one per axis of the rank-3 input",
            ),
            error_case(
                "permute-duplicate",
                "permute",
                dict(dims=[0, 2, -1]),
                ((2, 3, 4),),
                "not a permutation of 0..2",
            ),
        ),
    ),
    _case(
        "permute-negative",
        "permute",
        dict(dims=[-1, 0, 1]),
        ((2, 3, 4),),
        (4, 2, 3),
        lambda F, torch, x, p: torch.permute(x[0], (-1, 0, 1)),
    ),
    _case(
        "concat",
        "concat",
        {},
        ((1, 2, 3, 3), (1, 3, 3, 3)),
        (1, 5, 3, 3),
        lambda F, torch, x, p: torch.cat(x, 1),
        errors=(
            error_case("concat-dim", "concat", dict(dim=None), None, "dim must be an int"),
            error_case(
                "concat-mismatch",
                "concat",
                dict(dim=1),
                ((1, 2, 3), (1, 2, 4)),
                r"differs from input 0 float32\[1,2,3\] at axis 2 \(4 vs 3\)",
            ),
            error_case("concat-rank", "concat", {}, ((1, 2, 3), (1, 2)), "input 1 has rank 2"),
            error_case(
                "concat-dtype",
                "concat",
                {},
                ((1, 2), (1, 2)),
                "input 1 has dtype float16, expected float32",
                ("float32", "float16"),
            ),
            error_case(
                "concat-symbolic-axis",
                "concat",
                dict(dim=0),
                (("N", 2), ("N", 2)),
                "cannot concatenate along symbolic dimension 'N'",
            ),
            error_case("concat-empty", "concat", {}, (), "expected at least 1 input, got 0"),
        ),
    ),
    _case(
        "concat-axis3",
        "concat",
        dict(dim=3),
        ((1, 2, 3, 2), (1, 2, 3, 4), (1, 2, 3, 1)),
        (1, 2, 3, 7),
        lambda F, torch, x, p: torch.cat(x, 3),
    ),
    _case(
        "concat-negative-single",
        "concat",
        dict(dim=-1),
        ((2, 5),),
        (2, 5),
        lambda F, torch, x, p: torch.cat(x, -1),
    ),
    _case(
        "identity",
        "identity",
        {},
        ((2, 3, 4),),
        (2, 3, 4),
        lambda F, torch, x, p: x[0],
        errors=(error_case("identity-argument", "identity", dict(x=1), None, "accepted: none"),),
    ),
    _case(
        "dropout",
        "dropout",
        dict(p=0.2),
        ((2, 3, 4),),
        (2, 3, 4),
        lambda F, torch, x, p: F.dropout(x[0], 0.2, training=False),
        errors=(
            error_case("dropout-p", "dropout", dict(p=1.5), None, "p must be between 0 and 1"),
        ),
    ),
    # -- elementwise --------------------------------------------------------------------------
    _case(
        "add",
        "add",
        {},
        ((2, 3, 4, 4), (2, 3, 4, 4)),
        (2, 3, 4, 4),
        lambda F, torch, x, p: torch.add(x[0], x[1]),
        errors=(
            error_case(
                "add-broadcast",
                "add",
                {},
                ((2, 3), (4,)),
                r"shapes 2x3 and 4 do not broadcast \(3 vs 4\)",
            ),
            error_case(
                "add-other", "add", dict(other=float("nan")), None, "other must be a finite number"
            ),
        ),
    ),
    _case(
        "add-broadcast-channel",
        "add",
        {},
        ((2, 3, 4, 5), (3, 1, 1)),
        (2, 3, 4, 5),
        lambda F, torch, x, p: torch.add(x[0], x[1]),
    ),
    _case(
        "sub-broadcast-both",
        "sub",
        {},
        ((4, 1), (1, 5)),
        (4, 5),
        lambda F, torch, x, p: torch.sub(x[0], x[1]),
        errors=(
            error_case(
                "sub-dtype",
                "sub",
                {},
                ((2,), (2,)),
                r"input dtypes differ \(float32 vs float16\)",
                ("float32", "float16"),
            ),
            error_case("sub-other", "sub", dict(other="1"), None, "other must be a finite number"),
        ),
    ),
    _case(
        "sub",
        "sub",
        {},
        ((2, 3), (2, 3)),
        (2, 3),
        lambda F, torch, x, p: torch.sub(x[0], x[1]),
    ),
    _case(
        "mul",
        "mul",
        {},
        ((2, 3, 4), (2, 3, 4)),
        (2, 3, 4),
        lambda F, torch, x, p: torch.mul(x[0], x[1]),
        errors=(
            error_case(
                "mul-arity", "mul", {}, ((2,),), r"expected 2 inputs \(or 1 and 'other'\), got 1"
            ),
            error_case("mul-other", "mul", dict(other=True), None, "other must be a finite number"),
        ),
    ),
    _case(
        "mul-broadcast-rank",
        "mul",
        {},
        ((2, 3), (3,)),
        (2, 3),
        lambda F, torch, x, p: torch.mul(x[0], x[1]),
    ),
    _case(
        "div",
        "div",
        {},
        ((2, 3, 4), (2, 3, 4)),
        (2, 3, 4),
        lambda F, torch, x, p: torch.div(x[0], x[1]),
        nonzero_inputs=(1,),
        errors=(
            error_case("div-int", "div", {}, ((2,), (2,)), "floating-point", ("int32", "int32")),
            error_case(
                "div-other", "div", dict(other=float("inf")), None, "other must be a finite number"
            ),
        ),
    ),
    _case(
        "div-broadcast",
        "div",
        {},
        ((1, 4, 3, 3), (1, 4, 1, 1)),
        (1, 4, 3, 3),
        lambda F, torch, x, p: torch.div(x[0], x[1]),
        nonzero_inputs=(1,),
    ),
    # -- cast ---------------------------------------------------------------------------------
    _case(
        "cast-float16",
        "cast",
        dict(dtype="float16"),
        ((2, 3, 4),),
        (2, 3, 4),
        lambda F, torch, x, p: x[0].to(torch.float16),
        input_scale=100.0,
        expected_dtypes=("float16",),
        rtol=0.0,
        atol=0.0,
        errors=(
            error_case(
                "cast-dtype", "cast", dict(dtype="float8"), None, "cast: unknown dtype 'float8'"
            ),
        ),
    ),
    _case(
        "cast-bfloat16",
        "cast",
        dict(dtype="bf16"),
        ((3, 5),),
        (3, 5),
        lambda F, torch, x, p: x[0].to(torch.bfloat16),
        input_scale=100.0,
        expected_dtypes=("bfloat16",),
        rtol=0.0,
        atol=0.0,
    ),
    _case(
        "cast-int32",
        "cast",
        dict(dtype="int32"),
        ((4, 4),),
        (4, 4),
        lambda F, torch, x, p: x[0].to(torch.int32),
        input_scale=10.0,
        expected_dtypes=("int32",),
        rtol=0.0,
        atol=0.0,
    ),
    # -- softmax ------------------------------------------------------------------------------
    _case(
        "softmax",
        "softmax",
        {},
        ((2, 3, 5),),
        (2, 3, 5),
        lambda F, torch, x, p: F.softmax(x[0], dim=-1),
        input_scale=3.0,
        errors=(
            error_case("softmax-dim", "softmax", dict(dim=[1]), None, "dim must be an int"),
            error_case(
                "softmax-axis", "softmax", dict(dim=3), ((2, 3),), "dim 3 out of range for rank 2"
            ),
        ),
    ),
    _case(
        "softmax-channels",
        "softmax",
        dict(dim=1),
        ((2, 4, 3, 3),),
        (2, 4, 3, 3),
        lambda F, torch, x, p: F.softmax(x[0], dim=1),
        input_scale=3.0,
    ),
    _case(
        "softmax-axis0",
        "softmax",
        dict(dim=0),
        ((3, 5),),
        (3, 5),
        lambda F, torch, x, p: F.softmax(x[0], dim=0),
    ),
    # -- narrow (chunk/split pieces) -----------------------------------------------------------
    _case(
        "narrow",
        "narrow",
        dict(dim=1, start=2, length=3),
        ((2, 6, 3, 3),),
        (2, 3, 3, 3),
        lambda F, torch, x, p: torch.narrow(x[0], 1, 2, 3),
        errors=(
            error_case(
                "narrow-length", "narrow", dict(dim=1, start=0, length=0), None, "length must be"
            ),
            error_case(
                "narrow-bounds",
                "narrow",
                dict(dim=1, start=2, length=3),
                ((1, 4, 2),),
                "start 2 \\+ length 3 exceeds size 4 of axis 1",
            ),
        ),
    ),
    _case(
        "narrow-negative-dim",
        "narrow",
        dict(dim=-1, start=0, length=2),
        ((2, 3, 5),),
        (2, 3, 2),
        lambda F, torch, x, p: torch.narrow(x[0], -1, 0, 2),
    ),
    # -- channel shuffle ----------------------------------------------------------------------
    _case(
        "channel_shuffle",
        "channel_shuffle",
        dict(groups=2),
        ((2, 6, 3, 2),),
        (2, 6, 3, 2),
        lambda F, torch, x, p: F.channel_shuffle(x[0], 2),
        errors=(
            error_case(
                "channel_shuffle-groups", "channel_shuffle", dict(groups=0), None, "groups must be"
            ),
            error_case(
                "channel_shuffle-divide",
                "channel_shuffle",
                dict(groups=4),
                ((1, 6, 2, 2),),
                "6 channels of .* do not divide into 4 groups",
            ),
        ),
    ),
    _case(
        "channel_shuffle-groups3-rank3",
        "channel_shuffle",
        dict(groups=3),
        ((1, 6, 4),),
        (1, 6, 4),
        lambda F, torch, x, p: F.channel_shuffle(x[0], 3),
    ),
    # -- quantize / dequantize (symmetric INT8; FP8 cases are in test_quantize_ops.py) ---------
    _case(
        "quantize",
        "quantize",
        {},
        ((2, 3, 4, 5),),
        (2, 3, 4, 5),
        lambda F, torch, x, p: _int8(torch, _fq_tensor(torch, x[0], p["scale"]), p["scale"]),
        input_scale=2.0,
        expected_dtypes=("int8",),
        rtol=0.0,
        atol=0.0,
        errors=(
            error_case(
                "quantize-dtype", "quantize", dict(dtype="int32"), None, "dtype must be one of int8"
            ),
            error_case("quantize-axis", "quantize", dict(axis=1.5), None, "axis must be an int"),
            error_case(
                "quantize-int-input", "quantize", {}, ((2, 3),), "expected a float32", ("int8",)
            ),
            error_case(
                "quantize-axis-range", "quantize", dict(axis=2), ((2, 3),), "axis 2 out of range"
            ),
        ),
    ),
    _case(
        "quantize-per-channel",
        "quantize",
        dict(axis=1),
        ((2, 4, 3, 3),),
        (2, 4, 3, 3),
        lambda F, torch, x, p: _int8(
            torch, _fq_channel(torch, x[0], p["scale"], 1), p["scale"].reshape(1, -1, 1, 1)
        ),
        input_scale=2.0,
        expected_dtypes=("int8",),
        rtol=0.0,
        atol=0.0,
    ),
    _case(
        "dequantize",
        "dequantize",
        {},
        ((2, 3, 4, 5),),
        (2, 3, 4, 5),
        lambda F, torch, x, p: _dequantize(torch, x[0], p["scale"]),
        input_dtypes=("int8",),
        errors=(
            error_case(
                "dequantize-dtype", "dequantize", dict(dtype="int8"), None, "dtype must be one of"
            ),
            error_case(
                "dequantize-float-input", "dequantize", {}, ((2, 3),), "expected an int8 or float8"
            ),
        ),
    ),
    _case(
        "dequantize-per-channel-fp16",
        "dequantize",
        dict(axis=-3, dtype="float16"),
        ((2, 4, 3, 3),),
        (2, 4, 3, 3),
        lambda F, torch, x, p: _dequantize(torch, x[0], p["scale"], axis=1).half(),
        input_dtypes=("int8",),
        expected_dtypes=("float16",),
    ),
    _case(
        "quantized_conv2d",
        "quantized_conv2d",
        dict(out_channels=4, kernel_size=3, padding=1),
        ((2, 3, 6, 6),),
        (2, 4, 6, 6),
        lambda F, torch, x, p: F.conv2d(
            x[0], _fq_channel(torch, p["weight"], p["weight_scale"], 0), p["bias"], padding=1
        ),
        errors=(
            error_case(
                "quantized_conv2d-dtype",
                "quantized_conv2d",
                dict(out_channels=4, kernel_size=3, dtype="float16"),
                None,
                "dtype must be one of int8, float8_e4m3",
            ),
            error_case(
                "quantized_conv2d-groups",
                "quantized_conv2d",
                dict(out_channels=5, kernel_size=3, groups=2),
                None,
                "not divisible by groups",
            ),
        ),
    ),
    _case(
        "quantized_conv2d-depthwise-strided",
        "quantized_conv2d",
        dict(out_channels=6, kernel_size=3, stride=2, padding=1, groups=6, bias=False),
        ((1, 6, 7, 7),),
        (1, 6, 4, 4),
        lambda F, torch, x, p: F.conv2d(
            x[0], _fq_channel(torch, p["weight"], p["weight_scale"], 0), None, 2, 1, 1, 6
        ),
    ),
    _case(
        "quantized_linear",
        "quantized_linear",
        dict(out_features=5),
        ((3, 8),),
        (3, 5),
        lambda F, torch, x, p: F.linear(
            x[0], _fq_channel(torch, p["weight"], p["weight_scale"], 0), p["bias"]
        ),
        errors=(
            error_case(
                "quantized_linear-features",
                "quantized_linear",
                dict(out_features=0),
                None,
                "out_features",
            ),
        ),
    ),
    _case(
        "quantized_linear-rank3-nobias",
        "quantized_linear",
        dict(out_features=4, bias=False),
        ((2, 3, 6),),
        (2, 3, 4),
        lambda F, torch, x, p: F.linear(
            x[0], _fq_channel(torch, p["weight"], p["weight_scale"], 0)
        ),
    ),
    # -- interpolate (torch.nn.functional.interpolate) ---------------------------------------
    _case(
        "interpolate-nearest-size",
        "interpolate",
        dict(size=(5, 7)),
        ((1, 2, 3, 4),),
        (1, 2, 5, 7),
        lambda F, torch, x, p: F.interpolate(x[0], size=(5, 7), mode="nearest"),
        errors=(
            error_case(
                "interpolate-mode",
                "interpolate",
                dict(size=4, mode="bicubic"),
                None,
                "mode must be",
            ),
            error_case(
                "interpolate-size-and-scale",
                "interpolate",
                dict(size=4, scale_factor=2),
                None,
                "size or scale_factor, not both",
            ),
            error_case(
                "interpolate-nearest-align-corners",
                "interpolate",
                dict(size=4, align_corners=True),
                None,
                "align_corners applies to mode 'bilinear' only",
            ),
            error_case(
                "interpolate-no-size", "interpolate", {}, ((1, 2, 3, 3),), "give size, scale_factor"
            ),
            error_case(
                "interpolate-symbolic-fraction",
                "interpolate",
                dict(scale_factor=1.5),
                ((1, 2, "H", 4),),
                "only integer factors",
            ),
        ),
    ),
    _case(
        "interpolate-nearest-scale",
        "interpolate",
        dict(scale_factor=2),
        ((2, 3, 4, 5),),
        (2, 3, 8, 10),
        lambda F, torch, x, p: F.interpolate(x[0], scale_factor=2, mode="nearest"),
    ),
    _case(
        "interpolate-bilinear",
        "interpolate",
        dict(size=(7, 9), mode="bilinear"),
        ((1, 2, 4, 5),),
        (1, 2, 7, 9),
        lambda F, torch, x, p: F.interpolate(
            x[0], size=(7, 9), mode="bilinear", align_corners=False
        ),
    ),
    _case(
        "interpolate-bilinear-align-corners",
        "interpolate",
        dict(size=(7, 9), mode="bilinear", align_corners=True),
        ((1, 2, 4, 5),),
        (1, 2, 7, 9),
        lambda F, torch, x, p: F.interpolate(
            x[0], size=(7, 9), mode="bilinear", align_corners=True
        ),
    ),
    _case(
        "interpolate-bilinear-downsample",
        "interpolate",
        dict(size=(3, 4), mode="bilinear"),
        ((1, 2, 8, 9),),
        (1, 2, 3, 4),
        lambda F, torch, x, p: F.interpolate(
            x[0], size=(3, 4), mode="bilinear", align_corners=False
        ),
    ),
    _case(
        "interpolate-bilinear-scale",
        "interpolate",
        dict(scale_factor=(2, 3), mode="bilinear"),
        ((1, 2, 3, 4),),
        (1, 2, 6, 12),
        lambda F, torch, x, p: F.interpolate(
            x[0], scale_factor=(2, 3), mode="bilinear", align_corners=False
        ),
    ),
    _case(
        "interpolate-like",
        "interpolate",
        dict(mode="bilinear", align_corners=False),
        ((1, 3, 4, 5), (1, 1, 9, 11)),
        (1, 3, 9, 11),
        lambda F, torch, x, p: F.interpolate(
            x[0], size=x[1].shape[-2:], mode="bilinear", align_corners=False
        ),
    ),
    _case(
        "interpolate-like-from-1x1",
        "interpolate",
        dict(mode="bilinear"),
        ((2, 4, 1, 1), (2, 3, 6, 7)),
        (2, 4, 6, 7),
        lambda F, torch, x, p: F.interpolate(
            x[0], size=x[1].shape[-2:], mode="bilinear", align_corners=False
        ),
    ),
    # -- argmax -------------------------------------------------------------------------------
    _case(
        "argmax",
        "argmax",
        dict(dim=1),
        ((2, 5, 3, 4),),
        (2, 3, 4),
        lambda F, torch, x, p: torch.argmax(x[0], dim=1),
        expected_dtypes=("int64",),
        rtol=0.0,
        atol=0.0,
        errors=(
            error_case("argmax-dim", "argmax", dict(dim="1"), None, "dim must be an int"),
            error_case("argmax-range", "argmax", dict(dim=3), ((2, 3),), "dim 3 out of range"),
        ),
    ),
    _case(
        "argmax-keepdim-last",
        "argmax",
        dict(dim=-1, keepdim=True),
        ((3, 6),),
        (3, 1),
        lambda F, torch, x, p: torch.argmax(x[0], dim=-1, keepdim=True),
        expected_dtypes=("int64",),
        rtol=0.0,
        atol=0.0,
    ),
    # -- layer_norm ---------------------------------------------------------------------------
    _case(
        "layer_norm",
        "layer_norm",
        dict(normalized_shape=8),
        ((2, 3, 8),),
        (2, 3, 8),
        lambda F, torch, x, p: F.layer_norm(x[0], (8,), p["weight"], p["bias"], 1e-5),
        input_scale=3.0,
        errors=(
            error_case(
                "layer_norm-shape", "layer_norm", dict(normalized_shape=0), None, "normalized_shape"
            ),
            error_case(
                "layer_norm-mismatch",
                "layer_norm",
                dict(normalized_shape=5),
                ((2, 4),),
                "must equal normalized_shape",
            ),
        ),
    ),
    _case(
        "layer_norm-2d-no-affine",
        "layer_norm",
        dict(normalized_shape=(3, 4), eps=1e-6, elementwise_affine=False),
        ((2, 3, 4),),
        (2, 3, 4),
        lambda F, torch, x, p: F.layer_norm(x[0], (3, 4), None, None, 1e-6),
    ),
    # -- matmul -------------------------------------------------------------------------------
    _case(
        "matmul",
        "matmul",
        {},
        ((2, 3, 4), (2, 4, 5)),
        (2, 3, 5),
        lambda F, torch, x, p: torch.matmul(x[0], x[1]),
        errors=(
            error_case("matmul-inner", "matmul", {}, ((2, 3), (4, 5)), "contracted sizes differ"),
        ),
    ),
    _case(
        "matmul-broadcast",
        "matmul",
        {},
        ((2, 1, 3, 4), (3, 4, 2)),
        (2, 3, 3, 2),
        lambda F, torch, x, p: torch.matmul(x[0], x[1]),
    ),
    _case(
        "matmul-vector-matrix",
        "matmul",
        {},
        ((4,), (2, 4, 3)),
        (2, 3),
        lambda F, torch, x, p: torch.matmul(x[0], x[1]),
    ),
    _case(
        "matmul-matrix-vector",
        "matmul",
        {},
        ((2, 3, 4), (4,)),
        (2, 3),
        lambda F, torch, x, p: torch.matmul(x[0], x[1]),
    ),
    # -- multi_head_attention (torch.nn.MultiheadAttention) -----------------------------------
    _case(
        "multi_head_attention",
        "multi_head_attention",
        dict(embed_dim=8, num_heads=2, batch_first=True),
        ((2, 5, 8),),
        (2, 5, 8),
        _attention(2, batch_first=True),
        input_scale=0.5,  # keeps outputs small: the half-precision test's tolerance is absolute
        rtol=1e-4,
        atol=1e-5,
        errors=(
            error_case(
                "multi_head_attention-heads",
                "multi_head_attention",
                dict(embed_dim=10, num_heads=3),
                None,
                "not divisible by num_heads",
            ),
            error_case(
                "multi_head_attention-embed",
                "multi_head_attention",
                dict(embed_dim=8, num_heads=2),
                ((2, 3, 6),),
                "E = embed_dim = 8",
            ),
        ),
    ),
    _case(
        "multi_head_attention-cross-sequence-first",
        "multi_head_attention",
        dict(embed_dim=8, num_heads=4),
        ((4, 2, 8), (6, 2, 8), (6, 2, 8)),
        (4, 2, 8),
        _attention(4, batch_first=False),
        input_scale=0.5,
        rtol=1e-4,
        atol=1e-5,
    ),
    _case(
        "multi_head_attention-no-bias",
        "multi_head_attention",
        dict(embed_dim=6, num_heads=1, bias=False, batch_first=True),
        ((1, 3, 6),),
        (1, 3, 6),
        _attention(1, batch_first=True),
        rtol=1e-4,
        atol=1e-5,
    ),
    # -- parameter ----------------------------------------------------------------------------
    _case(
        "parameter",
        "parameter",
        dict(shape=(1, 2, 3)),
        (),
        (1, 2, 3),
        lambda F, torch, x, p: p[""],
        errors=(
            error_case(
                "parameter-shape",
                "parameter",
                dict(shape=(1, 0)),
                None,
                "shape entries must be >= 1",
            ),
        ),
    ),
    # -- expand, transpose --------------------------------------------------------------------
    _case(
        "expand",
        "expand",
        dict(sizes=(3, -1, -1)),
        ((1, 1, 4),),
        (3, 1, 4),
        lambda F, torch, x, p: x[0].expand(3, -1, -1),
        errors=(
            error_case("expand-sizes", "expand", dict(sizes=(2, 0)), None, "sizes entries must be"),
            error_case(
                "expand-non-unit",
                "expand",
                dict(sizes=(4, 3)),
                ((2, 3),),
                "only size-1 axes expand",
            ),
        ),
    ),
    _case(
        "expand-new-axes",
        "expand",
        dict(sizes=(2, 3, 4)),
        ((3, 1),),
        (2, 3, 4),
        lambda F, torch, x, p: x[0].expand(2, 3, 4),
    ),
    _case(
        "transpose",
        "transpose",
        dict(dim0=0, dim1=-1),
        ((2, 3, 4),),
        (4, 3, 2),
        lambda F, torch, x, p: torch.transpose(x[0], 0, -1),
        errors=(
            error_case(
                "transpose-dim", "transpose", dict(dim0=0, dim1=1.5), None, "dim1 must be an int"
            ),
        ),
    ),
    # -- select, slice ------------------------------------------------------------------------
    _case(
        "select",
        "select",
        dict(dim=1, index=-2),
        ((2, 5, 3),),
        (2, 3),
        lambda F, torch, x, p: torch.select(x[0], 1, -2),
        errors=(
            error_case(
                "select-index", "select", dict(dim=0, index="0"), None, "index must be an int"
            ),
            error_case(
                "select-range", "select", dict(dim=1, index=3), ((2, 3),), "index 3 out of range"
            ),
            error_case(
                "select-negative-dynamic",
                "select",
                dict(dim=1, index=-1),
                (("N", "L", 4),),
                r"negative index \(-1\) counts from the end of a static axis; axis 1 of "
                r"float32\[N,L,4\] is symbolic \('L'\): use an index >= 0",
            ),
        ),
    ),
    _case(
        "slice",
        "slice",
        dict(dim=1, start=1, step=2),
        ((2, 7, 3),),
        (2, 3, 3),
        lambda F, torch, x, p: x[0][:, 1::2],
        errors=(
            error_case(
                "slice-step", "slice", dict(dim=0, step=0), None, "step must be an int >= 1"
            ),
            error_case("slice-empty", "slice", dict(dim=0, start=3), ((2, 3),), "is empty"),
        ),
    ),
    _case(
        "slice-negative",
        "slice",
        dict(dim=-1, start=-3, end=-1),
        ((4, 6),),
        (4, 2),
        lambda F, torch, x, p: x[0][..., -3:-1],
    ),
    # -- scalar operands ----------------------------------------------------------------------
    _case(
        "add-scalar",
        "add",
        dict(other=1.5),
        ((2, 3),),
        (2, 3),
        lambda F, torch, x, p: torch.add(x[0], 1.5),
    ),
    _case(
        "sub-scalar",
        "sub",
        dict(other=0.25),
        ((2, 3, 4),),
        (2, 3, 4),
        lambda F, torch, x, p: torch.sub(x[0], 0.25),
    ),
    _case(
        "mul-scalar",
        "mul",
        dict(other=-2.0),
        ((3, 4),),
        (3, 4),
        lambda F, torch, x, p: torch.mul(x[0], -2.0),
    ),
    _case(
        "div-scalar",
        "div",
        dict(other=4.0),
        ((3, 4),),
        (3, 4),
        lambda F, torch, x, p: torch.div(x[0], 4.0),
    ),
    # -- conv_transpose2d ---------------------------------------------------------------------
    _case(
        "conv_transpose2d",
        "conv_transpose2d",
        dict(out_channels=4, kernel_size=3, stride=2, padding=1, output_padding=1),
        ((1, 3, 5, 5),),
        (1, 4, 10, 10),
        lambda F, torch, x, p: F.conv_transpose2d(
            x[0], p["weight"], p["bias"], stride=2, padding=1, output_padding=1
        ),
        errors=(
            error_case(
                "conv_transpose2d-output-padding",
                "conv_transpose2d",
                dict(out_channels=2, kernel_size=3, stride=2, output_padding=2),
                None,
                "output_padding",
            ),
        ),
    ),
    _case(
        "conv_transpose2d-grouped-dilated",
        "conv_transpose2d",
        dict(out_channels=4, kernel_size=(3, 2), groups=2, dilation=2, bias=False),
        ((2, 4, 4, 5),),
        (2, 4, 8, 7),
        lambda F, torch, x, p: F.conv_transpose2d(x[0], p["weight"], None, groups=2, dilation=2),
    ),
    # -- detection ----------------------------------------------------------------------------
    _case(
        "anchor_points",
        "anchor_points",
        dict(strides=[8, 16, 32]),
        ((1, 4, 8, 12), (1, 4, 4, 6), (1, 4, 2, 3)),
        (1, 2, 96 + 24 + 6),
        _torch_anchors((8, 16, 32), 0.5, points=True),
        errors=(
            error_case(
                "anchor_points-strides", "anchor_points", dict(strides=[]), None, "non-empty list"
            ),
            error_case(
                "anchor_points-levels",
                "anchor_points",
                dict(strides=[8, 16]),
                ((1, 2, 4, 4),),
                "need 2 feature maps",
            ),
        ),
    ),
    _case(
        "anchor_strides",
        "anchor_strides",
        dict(strides=[8, 16]),
        ((2, 3, 6, 4), (2, 5, 3, 2)),
        (1, 1, 24 + 6),
        _torch_anchors((8, 16), 0.5, points=False),
        errors=(
            error_case(
                "anchor_strides-symbolic",
                "anchor_strides",
                dict(strides=[8]),
                ((1, 2, "H", 4),),
                "symbolic height or width",
            ),
            error_case(
                "anchor_strides-zero", "anchor_strides", dict(strides=[8, 0]), None, "ints >= 1"
            ),
        ),
    ),
    _case(
        "nms",
        "nms",
        dict(score_threshold=0.25, iou_threshold=0.3, max_det=12),
        ((2, 40, 4), (2, 40, 3)),
        (2, 12, 6),
        _torch_nms(0.25, 0.3, 12, multi=False),
        input_scale=3.0,
        errors=(
            error_case(
                "nms-iou",
                "nms",
                dict(iou_threshold=1.5),
                None,
                "iou_threshold must be between 0 and 1",
            ),
            error_case("nms-score", "nms", dict(score_threshold=-0.1), None, "between 0 and 1"),
            error_case(
                "nms-max-det", "nms", dict(max_det=4000), None, "max_det must be at most 3840"
            ),
            error_case("nms-boxes", "nms", dict(), ((1, 10, 5), (1, 10, 3)), "boxes must be"),
        ),
    ),
    _case(
        "nms-multi-label",
        "nms",
        dict(score_threshold=0.5, iou_threshold=0.5, max_det=30, multi_label=True),
        ((1, 30, 4), (1, 30, 4)),
        (1, 30, 6),
        _torch_nms(0.5, 0.5, 30, multi=True),
        input_scale=3.0,
    ),
    _case(
        "count_nonzero",
        "count_nonzero",
        dict(dim=1),
        ((3, 5, 2),),
        (3, 2),
        lambda F, torch, x, p: torch.count_nonzero(x[0], dim=1),
        expected_dtypes=("int64",),
        errors=(
            error_case(
                "count_nonzero-dim-type", "count_nonzero", dict(dim="1"), None, "dim must be an int"
            ),
            error_case(
                "count_nonzero-dim", "count_nonzero", dict(dim=2), ((2, 3),), "out of range"
            ),
        ),
    ),
    # -- embedding, index_select, gather (integer indices) ------------------------------------
    _case(
        "embedding",
        "embedding",
        dict(num_embeddings=7, embedding_dim=4),
        ((2, 5),),
        (2, 5, 4),
        lambda F, torch, x, p: F.embedding(x[0], p["weight"]),
        input_dtypes=("int64",),
        int_range=(0, 7),
        errors=(
            error_case(
                "embedding-num",
                "embedding",
                dict(num_embeddings=0, embedding_dim=4),
                None,
                "num_embeddings must be an int >= 1",
            ),
            error_case(
                "embedding-padding",
                "embedding",
                dict(num_embeddings=4, embedding_dim=2, padding_idx=4),
                None,
                "padding_idx 4 is out of range for num_embeddings 4",
            ),
            error_case(
                "embedding-float-ids",
                "embedding",
                dict(num_embeddings=4, embedding_dim=2),
                ((2, 3),),
                r"ids must be int32 or int64, got float32\[2,3\]",
            ),
        ),
    ),
    _case(
        "embedding-int32-padding-idx",
        "embedding",
        dict(num_embeddings=5, embedding_dim=3, padding_idx=0),
        ((4,),),
        (4, 3),
        lambda F, torch, x, p: F.embedding(x[0], p["weight"], padding_idx=0),
        input_dtypes=("int32",),
        int_range=(0, 5),
    ),
    _case(
        "index_select",
        "index_select",
        dict(dim=1),
        ((3, 5, 4), (3,)),
        (3, 3, 4),
        lambda F, torch, x, p: torch.index_select(x[0], 1, x[1]),
        input_dtypes=("float32", "int64"),
        int_range=(0, 5),
        errors=(
            error_case("index_select-dim", "index_select", dict(dim=1.5), None, "dim must be"),
            error_case(
                "index_select-2d",
                "index_select",
                dict(dim=0),
                ((4, 2), (2, 2)),
                "index must be 1-D",
                ("float32", "int64"),
            ),
        ),
    ),
    _case(
        "gather",
        "gather",
        dict(dim=1),
        ((3, 5), (3, 2)),
        (3, 2),
        lambda F, torch, x, p: torch.gather(x[0], 1, x[1]),
        input_dtypes=("float32", "int64"),
        int_range=(0, 5),
        errors=(
            error_case("gather-dim", "gather", dict(dim="1"), None, "dim must be an int"),
            error_case(
                "gather-larger",
                "gather",
                dict(dim=1),
                ((3, 5), (4, 2)),
                "larger than the input",
                ("float32", "int32"),
            ),
            error_case(
                "gather-rank",
                "gather",
                dict(dim=0),
                ((3, 5), (3,)),
                "must have the rank of the input",
                ("float32", "int64"),
            ),
        ),
    ),
    # -- arange, full (values made at build time) ----------------------------------------------
    _case(
        "arange",
        "arange",
        dict(start=1, end=8, step=2, dtype="float32"),
        (),
        (4,),
        lambda F, torch, x, p: torch.arange(1, 8, 2, dtype=torch.float32),
        errors=(
            error_case("arange-step", "arange", dict(end=4, step=0), None, "step must not be 0"),
            error_case("arange-empty", "arange", dict(start=3, end=1), None, "give no values"),
            error_case(
                "arange-inexact",
                "arange",
                dict(end=3000, dtype="float16"),
                None,
                "not all exact in float16",
            ),
        ),
    ),
    _case(
        "arange_like",
        "arange_like",
        dict(dim=-1, start=2),
        ((2, 6),),
        (6,),
        lambda F, torch, x, p: torch.arange(2, 2 + x[0].shape[-1]),
        expected_dtypes=("int64",),
        errors=(
            error_case(
                "arange_like-dtype",
                "arange_like",
                dict(dim=0, dtype="float32"),
                None,
                "dtype must be one of int64, int32",
            ),
            error_case("arange_like-dim", "arange_like", dict(dim=2), ((2, 6),), "out of range"),
        ),
    ),
    _case(
        "full",
        "full",
        dict(size=[2, 3], fill_value=-1.5),
        (),
        (2, 3),
        lambda F, torch, x, p: torch.full((2, 3), -1.5),
        errors=(
            error_case("full-size", "full", dict(size=[2, 0], fill_value=1), None, "must be >= 1"),
            error_case(
                "full-nan", "full", dict(size=[2], fill_value=float("nan")), None, "not be NaN"
            ),
            error_case(
                "full-int",
                "full",
                dict(size=[2], fill_value=0.5, dtype="int32"),
                None,
                "not an integer",
            ),
        ),
    ),
    _case(
        "full_like",
        "full_like",
        dict(fill_value=2.0),
        ((2, 3),),
        (2, 3),
        lambda F, torch, x, p: torch.full_like(x[0], 2.0),
        errors=(
            error_case(
                "full_like-bool",
                "full_like",
                dict(fill_value=2, dtype="bool"),
                None,
                "a bool fill_value is 0 or 1",
            ),
            error_case(
                "full_like-fp8",
                "full_like",
                dict(fill_value=1),
                ((2,),),
                "cannot fill float8_e4m3",
                ("float8_e4m3",),
            ),
        ),
    ),
    # -- comparisons, where, abs --------------------------------------------------------------
    _case(
        "eq",
        "eq",
        {},
        ((2, 3, 4), (3, 1)),
        (2, 3, 4),
        lambda F, torch, x, p: torch.eq(x[0], x[1]),
        input_dtypes=("int64", "int64"),
        int_range=(0, 3),
        expected_dtypes=("bool",),
        errors=(
            error_case("eq-other", "eq", dict(other="1"), None, "other must be a finite"),
            error_case(
                "eq-bool", "eq", {}, ((2,), (2,)), "expected a numeric input", ("bool", "bool")
            ),
            error_case("eq-dtypes", "eq", {}, ((2,), (2,)), "dtypes differ", ("int64", "int32")),
            error_case(
                "eq-fraction", "eq", dict(other=0.5), ((2,),), "is not an integer", ("int64",)
            ),
        ),
    ),
    _case(
        "ne",
        "ne",
        {},
        ((2, 4), (2, 4)),
        (2, 4),
        lambda F, torch, x, p: torch.ne(x[0], x[1]),
        input_dtypes=("int32", "int32"),
        int_range=(0, 2),
        expected_dtypes=("bool",),
        errors=(error_case("ne-other", "ne", dict(other=[1]), None, "other must be"),),
    ),
    _case(
        "lt",
        "lt",
        {},
        ((2, 3, 4), (4,)),
        (2, 3, 4),
        lambda F, torch, x, p: torch.lt(x[0], x[1]),
        expected_dtypes=("bool",),
        errors=(error_case("lt-other", "lt", dict(other=[1]), None, "other must be"),),
    ),
    _case(
        "le",
        "le",
        dict(other=1),
        ((3, 4),),
        (3, 4),
        lambda F, torch, x, p: torch.le(x[0], 1),
        input_dtypes=("int64",),
        int_range=(0, 3),
        expected_dtypes=("bool",),
        errors=(error_case("le-other", "le", dict(other=[1]), None, "other must be"),),
    ),
    _case(
        "gt",
        "gt",
        dict(other=0.25),
        ((2, 5),),
        (2, 5),
        lambda F, torch, x, p: torch.gt(x[0], 0.25),
        expected_dtypes=("bool",),
        errors=(error_case("gt-other", "gt", dict(other=[1]), None, "other must be"),),
    ),
    _case(
        "ge",
        "ge",
        {},
        ((2, 3), (1, 3)),
        (2, 3),
        lambda F, torch, x, p: torch.ge(x[0], x[1]),
        input_dtypes=("int64", "int64"),
        int_range=(0, 3),
        expected_dtypes=("bool",),
        errors=(error_case("ge-other", "ge", dict(other=[1]), None, "other must be"),),
    ),
    _case(
        "where",
        "where",
        {},
        ((2, 1, 4), (2, 3, 4), (3, 1)),
        (2, 3, 4),
        lambda F, torch, x, p: torch.where(x[0], x[1], x[2]),
        input_dtypes=("bool", "float32", "float32"),
        errors=(
            error_case(
                "where-condition",
                "where",
                {},
                ((2,), (2,), (2,)),
                "condition must be bool",
                ("float32", "float32", "float32"),
            ),
            error_case(
                "where-dtypes",
                "where",
                {},
                ((2,), (2,), (2,)),
                "different dtypes",
                ("bool", "float32", "float16"),
            ),
        ),
    ),
    _case(
        "abs",
        "abs",
        {},
        ((2, 3, 4),),
        (2, 3, 4),
        lambda F, torch, x, p: torch.abs(x[0]),
        errors=(
            error_case("abs-arity", "abs", {}, ((2,), (2,)), r"expected 1 input\(s\), got 2"),
            error_case("abs-bool", "abs", {}, ((2,),), "numeric input", ("bool",)),
        ),
    ),
    _case(
        "abs-int32",
        "abs",
        {},
        ((3, 4),),
        (3, 4),
        lambda F, torch, x, p: torch.abs(x[0]),
        input_dtypes=("int32",),
        int_range=(-5, 5),
        expected_dtypes=("int32",),
    ),
    # -- cumsum -------------------------------------------------------------------------------
    _case(
        "cumsum",
        "cumsum",
        dict(dim=1),
        ((2, 5, 3),),
        (2, 5, 3),
        lambda F, torch, x, p: torch.cumsum(x[0], 1),
        errors=(
            error_case("cumsum-dim", "cumsum", dict(dim=None), None, "dim must be an int"),
            error_case("cumsum-scalar", "cumsum", dict(dim=0), ((),), "rank >= 1"),
            error_case("cumsum-bool", "cumsum", dict(dim=0), ((2,),), "int32", ("bool",)),
        ),
    ),
    _case(
        "cumsum-int32",
        "cumsum",
        dict(dim=-1),
        ((2, 6),),
        (2, 6),
        lambda F, torch, x, p: torch.cumsum(x[0], -1),
        input_dtypes=("int32",),
        int_range=(-3, 4),
        expected_dtypes=("int64",),
    ),
    # -- Hugging Face layers: hf_conv1d, self_attention ---------------------------------------
    _case(
        "hf_conv1d",
        "hf_conv1d",
        dict(out_features=5),
        ((2, 3, 6),),
        (2, 3, 5),
        lambda F, torch, x, p: x[0] @ p["weight"] + p["bias"],
        errors=(
            error_case(
                "hf_conv1d-features", "hf_conv1d", dict(out_features=0), None, "out_features"
            ),
            error_case(
                "hf_conv1d-symbolic",
                "hf_conv1d",
                dict(out_features=2),
                ((2, "C"),),
                "last \\(feature\\) dimension must be static",
            ),
        ),
    ),
    _case(
        "self_attention",
        "self_attention",
        dict(embed_dim=8, num_heads=2, q_proj="query", k_proj="key", v_proj="value"),
        ((2, 5, 8), (2, 1, 1, 5)),
        (2, 5, 8),
        _self_attention(None, None, conv1d=False, causal=False),
        rtol=1e-4,
        errors=(
            error_case(
                "self_attention-names",
                "self_attention",
                dict(embed_dim=8, num_heads=2, q_proj="query", qkv_proj="c_attn"),
                None,
                "give q_proj, k_proj and v_proj",
            ),
            error_case(
                "self_attention-heads",
                "self_attention",
                dict(embed_dim=8, num_heads=3, qkv_proj="c_attn"),
                None,
                "not divisible by num_heads 3",
            ),
            error_case(
                "self_attention-layout",
                "self_attention",
                dict(embed_dim=8, num_heads=2, qkv_proj="c_attn", weight_layout="Conv1D"),
                None,
                "weight_layout must be one of 'linear', 'conv1d'",
            ),
            error_case(
                "self_attention-name",
                "self_attention",
                dict(embed_dim=8, num_heads=2, qkv_proj="c attn"),
                None,
                "qkv_proj must be a state_dict name",
            ),
            error_case(
                "self_attention-mask",
                "self_attention",
                dict(embed_dim=8, num_heads=2, qkv_proj="c_attn"),
                ((2, 5, 8), (2, 3, 5, 5)),
                "does not broadcast to",
            ),
            error_case(
                "self_attention-mask-dtype",
                "self_attention",
                dict(embed_dim=8, num_heads=2, qkv_proj="c_attn"),
                ((2, 5, 8), (2, 5)),
                "mask must be bool or of the input's dtype",
                ("float32", "int64"),
            ),
            error_case(
                "self_attention-embed",
                "self_attention",
                dict(embed_dim=8, num_heads=2, qkv_proj="c_attn"),
                ((2, 5, 6),),
                "E = embed_dim = 8",
            ),
        ),
    ),
    _case(
        "self_attention-gpt2",
        "self_attention",
        dict(
            embed_dim=8,
            num_heads=2,
            qkv_proj="c_attn",
            out_proj="c_proj",
            weight_layout="conv1d",
            causal=True,
        ),
        ((2, 5, 8),),
        (2, 5, 8),
        _self_attention("c_attn", "c_proj", conv1d=True, causal=True),
        rtol=1e-4,
    ),
    _case(
        "self_attention-padding-causal",
        "self_attention",
        dict(
            embed_dim=8,
            num_heads=2,
            qkv_proj="in_proj",
            out_proj="out_proj",
            bias=False,
            causal=True,
        ),
        ((2, 5, 8), (2, 5)),
        (2, 5, 8),
        _self_attention("in_proj", "out_proj", conv1d=False, causal=True),
        input_dtypes=("float32", "bool"),
        rtol=1e-4,
    ),
)

CASES_BY_ID: Mapping[str, OpCase] = {c.id: c for c in CASES}

ERROR_CASES: tuple[ErrorCase, ...] = tuple(e for case in CASES for e in case.errors)
"""Every op's error cases (the ``errors`` fields of the rows), in table order."""
assert len(CASES_BY_ID) == len(CASES), "duplicate case ids"


def case_input_types(case: OpCase) -> tuple[TensorType, ...]:
    """The static input types of ``case`` (float32 unless ``input_dtypes`` says otherwise)."""
    dtypes = case.input_dtypes or ("float32",) * len(case.input_shapes)
    return tuple(
        TensorType(DType.parse(d), s) for d, s in zip(dtypes, case.input_shapes, strict=True)
    )


def case_arrays(case: OpCase, seed: int = 0) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """Seeded float32 inputs and parameters for ``case``.

    Returns:
        (inputs, params): one array per input shape; every non-optional parameter role of
        ``case.op.params(...)`` with its ParamSpec shape (quantization scales, roles ending in
        ``scale``, positive). Deterministic in (case.id, seed).
    """
    rng = np.random.default_rng([seed, *case.id.encode()])
    inputs: list[np.ndarray] = []
    for i, (shape, t) in enumerate(zip(case.input_shapes, case_input_types(case), strict=True)):
        if t.dtype is DType.INT8:
            inputs.append(rng.integers(-128, 128, shape).astype(np.int8))
            continue
        if t.dtype in (DType.INT32, DType.INT64):
            inputs.append(rng.integers(*case.int_range, shape).astype(t.dtype.to_numpy()))
            continue
        if t.dtype is DType.BOOL:
            inputs.append(rng.random(shape) < 0.5)
            continue
        if i in case.nonzero_inputs:
            magnitude = rng.uniform(0.5, 2.0, shape)
            x = np.where(rng.random(shape) < 0.5, -magnitude, magnitude)
        else:
            x = rng.standard_normal(shape) * case.input_scale
        inputs.append(x.astype(np.float32))
    params: dict[str, np.ndarray] = {}
    for role, spec in case.op.params(case_input_types(case)).items():
        if spec.optional:
            continue
        if role == "running_var":
            value = rng.uniform(0.5, 1.5, spec.shape)
        elif (role == "weight" or role.endswith(".weight")) and len(spec.shape) >= 2:
            value = rng.standard_normal(spec.shape) / math.sqrt(math.prod(spec.shape[1:]))
        elif role.endswith("scale"):
            value = rng.uniform(0.01, 0.05, spec.shape)
        else:
            value = rng.standard_normal(spec.shape)
        params[role] = value.astype(spec.dtype.to_numpy())
    return inputs, params
