"""Data-movement layers: shuffle, concatenation, slice, padding and constant."""

from __future__ import annotations

from typing import Any

import numpy as np

from trtdsl.emulator.enums import DataType, LayerType, SampleMode
from trtdsl.emulator.layers.base import (
    ILayer,
    Shape,
    dims_property,
    dyn,
    require,
    value_property,
    weights_property,
)
from trtdsl.emulator.layers.fields import (
    DIMS,
    PERMUTATION,
    PlanField,
    field_property,
    optional,
)
from trtdsl.emulator.types import (
    Dims,
    Permutation,
    check_type,
    to_dims,
    volume,
    weights_array,
)


def _perm(order: Permutation, rank: int, what: str) -> tuple[int, ...]:
    require(len(order) >= rank, f"{what} has {len(order)} entries, input rank is {rank}")
    used = tuple(order[:rank])
    require(
        sorted(used) == list(range(rank)), f"{what} {used} is not a permutation of 0..{rank - 1}"
    )
    return used


class IShuffleLayer(ILayer):
    """first_transpose, then reshape (0 copies a dim when zero_is_placeholder, -1 infers one
    dim), then second_transpose. Transposes default to the identity; no reshape by default."""

    _TYPE = LayerType.SHUFFLE
    _TYPE_NAME = "Shuffle"

    zero_is_placeholder = value_property(
        "zero_is_placeholder",
        bool,
        "Whether 0 in reshape_dims copies the input dim. Default: True.",
    )

    def _permutation(key: str, doc: str) -> property:  # type: ignore[misc]
        def fget(self: IShuffleLayer) -> Permutation:
            return Permutation(self._p[key])

        def fset(self: IShuffleLayer, value: Any) -> None:
            if not isinstance(value, Permutation):
                check_type(value, (tuple, list), f"IShuffleLayer.{key}")
            self._p[key] = Permutation(value)
            self._touch()

        return field_property(PlanField(key, PERMUTATION), fget, fset, doc)

    first_transpose = _permutation("first_transpose", "Permutation applied before the reshape.")
    second_transpose = _permutation("second_transpose", "Permutation applied after the reshape.")

    def _get_reshape_dims(self) -> Dims | None:
        value = self._p["reshape_dims"]
        return None if value is None else Dims(value)

    def _set_reshape_dims(self, value: Any) -> None:
        self._p["reshape_dims"] = to_dims(value, "IShuffleLayer.reshape_dims")
        self._touch()

    reshape_dims = field_property(
        PlanField("reshape_dims", optional(DIMS)),
        _get_reshape_dims,
        _set_reshape_dims,
        "The reshape target, or None when not set.",
    )

    def _reshaped(self, dims: Shape) -> Shape:
        """Apply reshape_dims to ``dims``; -1 (dynamic) input dims that are copied by a 0
        placeholder cancel out, so (-1, 2, 3) reshaped to (0, -1) is (-1, 6)."""
        target = self._p["reshape_dims"]
        if target is None:
            return dims
        require(sum(1 for v in target if v == -1) <= 1, f"reshape_dims {target}: more than one -1")
        require(all(v >= -1 for v in target), f"reshape_dims {target}: values below -1")
        out, copied = [], set()
        for i, v in enumerate(target):
            if v == 0 and self._p["zero_is_placeholder"]:
                require(i < len(dims), f"reshape_dims {target}: placeholder 0 at {i} past rank")
                out.append(dims[i])
                copied.add(i)
            else:
                out.append(v)
        inferred = list(target).index(-1) if -1 in target else None
        dynamic_in = {i for i, d in enumerate(dims) if dyn(d)}
        # Dynamic input dims cancel when each is copied to the same position in the output.
        cancels = dynamic_in <= copied
        in_static = volume(d for i, d in enumerate(dims) if i not in dynamic_in)
        out_static = volume(
            v for j, v in enumerate(out) if j != inferred and not (j in copied and dyn(v))
        )
        if inferred is not None:
            if cancels:
                require(
                    out_static > 0 and in_static % out_static == 0,
                    f"cannot reshape {dims} to {target}",
                )
                out[inferred] = in_static // out_static
        elif cancels:
            require(
                in_static == out_static,
                f"cannot reshape {dims} ({in_static} values per dynamic slice) to {tuple(out)}",
            )
        return tuple(out)

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        shape = shapes[0]
        first = _perm(self._p["first_transpose"], len(shape), "first_transpose")
        transposed = tuple(shape[i] for i in first)
        reshaped = self._reshaped(transposed)
        second = _perm(self._p["second_transpose"], len(reshaped), "second_transpose")
        return [(tuple(reshaped[i] for i in second), dtypes[0])]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        x = xs[0]
        x = np.transpose(x, _perm(self._p["first_transpose"], x.ndim, "first_transpose"))
        x = x.reshape(self._reshaped(x.shape))
        x = np.transpose(x, _perm(self._p["second_transpose"], x.ndim, "second_transpose"))
        return [np.asarray(x, order="C")]


class IConcatenationLayer(ILayer):
    """Concatenate along ``axis``. NOTE: the default axis is rank-3 (0 when rank < 3), not 1."""

    _TYPE = LayerType.CONCATENATION
    _TYPE_NAME = "Concatenation"
    _MAX_INPUTS = 1 << 16

    axis = value_property("axis", int, "Concatenation axis. Default: max(rank - 3, 0).")

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        first, axis = shapes[0], self._p["axis"]
        require(0 <= axis < len(first), f"concatenation axis {axis} out of range for {first}")
        total = 0
        for shape, dtype in zip(shapes, dtypes, strict=True):
            require(dtype == dtypes[0], f"concatenation inputs have types {dtypes[0]} and {dtype}")
            require(
                len(shape) == len(first),
                f"concatenation inputs {first} and {shape} differ in rank",
            )
            for i, (a, b) in enumerate(zip(first, shape, strict=True)):
                require(
                    i == axis or a == b or dyn(a, b),
                    f"concatenation inputs {first} and {shape} differ off axis {axis}",
                )
            total = -1 if dyn(total, shape[axis]) else total + shape[axis]
        return [(first[:axis] + (total,) + first[axis + 1 :], dtypes[0])]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.concatenate(xs, axis=self._p["axis"])]


class ISliceLayer(ILayer):
    """Output element i samples input at start + i*stride per axis; out-of-bounds behaviour by
    ``mode`` (STRICT_BOUNDS default: an error; WRAP, CLAMP, FILL with 0, REFLECT)."""

    _TYPE = LayerType.SLICE
    _TYPE_NAME = "Slice"
    _MAX_INPUTS = 4  # inputs 1-3: start, size, stride as shape tensors (shape_values.py)

    start = dims_property("start", "Start index per axis.")
    shape = dims_property("shape", "Output shape.")
    stride = dims_property("stride", "Stride per axis (may be negative).")
    mode = value_property("mode", SampleMode, "SampleMode. Default: STRICT_BOUNDS.")

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        shape, p = shapes[0], self._p
        for key in ("start", "shape", "stride"):
            require(
                len(p[key]) == len(shape), f"slice {key} {p[key]} does not match rank of {shape}"
            )
        # -1: an entry of a size shape tensor not known until run time.
        require(all(v >= -1 for v in p["shape"]), f"slice shape {p['shape']} is negative")
        return [(tuple(p["shape"]), dtypes[0])]

    def _validate(self, shapes: list[Shape], dtypes: list[DataType]) -> None:
        # As TensorRT-RTX: an out-of-bounds STRICT_BOUNDS slice infers, the build refuses it.
        shape, p = shapes[0], self._p
        if p["mode"] != SampleMode.STRICT_BOUNDS:
            return
        for n, s0, k, st in zip(shape, p["start"], p["shape"], p["stride"], strict=True):
            if k and not dyn(n, k):
                last = s0 + (k - 1) * st
                require(
                    0 <= s0 < n and 0 <= last < n,
                    f"slice of {shape} from {p['start']} by {p['stride']} to "
                    f"{p['shape']} is out of bounds (STRICT_BOUNDS)",
                )

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        x, p = xs[0], self._p
        mode = p["mode"]
        axes = list(zip(x.shape, p["start"], p["shape"], p["stride"], strict=True))
        if x.ndim and all(k == 0 or (st >= 1 and 0 <= s0 and s0 + (k - 1) * st < n)
                          for n, s0, k, st in axes):  # fmt: skip
            # Every index inside the input: a strided view (the same values as the gather).
            view = tuple(slice(s0, s0 + (k - 1) * st + 1, st) if k else slice(0, 0)
                         for _, s0, k, st in axes)  # fmt: skip
            return [np.ascontiguousarray(x[view])]
        index, valid = [], np.ones(tuple(p["shape"]), dtype=bool)
        for axis, (n, s0, k, st) in enumerate(
            zip(x.shape, p["start"], p["shape"], p["stride"], strict=True)
        ):  # noqa: E501
            idx = s0 + np.arange(k) * st
            if mode == SampleMode.WRAP:
                idx = idx % n
            elif mode == SampleMode.CLAMP:
                idx = np.clip(idx, 0, n - 1)
            elif mode == SampleMode.REFLECT:
                period = max(2 * (n - 1), 1)
                idx = idx % period
                idx = np.where(idx >= n, period - idx, idx)
            elif mode == SampleMode.FILL:
                inside = (idx >= 0) & (idx < n)
                shape = [1] * x.ndim
                shape[axis] = k
                valid = valid & inside.reshape(shape)
                idx = np.clip(idx, 0, max(n - 1, 0))
            index.append(idx)
        y = x[np.ix_(*index)] if x.ndim else x.copy()
        if mode == SampleMode.FILL:
            y = np.where(valid, y, np.zeros((), dtype=x.dtype))
        return [np.asarray(y, dtype=x.dtype, order="C")]


class IPaddingLayer(ILayer):
    """Zero padding of the last two dims (negative values crop)."""

    _TYPE = LayerType.PADDING
    _TYPE_NAME = "Padding"

    pre_padding_nd = dims_property("pre_padding_nd", "Padding before the last two dims.")
    post_padding_nd = dims_property("post_padding_nd", "Padding after the last two dims.")

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        shape, pre, post = shapes[0], self._p["pre_padding_nd"], self._p["post_padding_nd"]
        require(len(pre) == 2 and len(post) == 2, "only 2D padding is supported")
        # NOTE: TensorRT does not state the minimum rank here; the emulator asks for >= 4.
        require(len(shape) >= 4, f"padding input must have at least 4 dims, got {shape}")
        spatial = []
        for n, b, a in zip(shape[-2:], pre, post, strict=True):
            out = -1 if dyn(n) else n + b + a
            require(out == -1 or out >= 0, f"padding {pre}/{post} crops {shape} below 0")
            spatial.append(out)
        return [(tuple(shape[:-2]) + tuple(spatial), dtypes[0])]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        x, pre, post = xs[0], self._p["pre_padding_nd"], self._p["post_padding_nd"]
        crop = [slice(None)] * (x.ndim - 2)
        pads = [(0, 0)] * (x.ndim - 2)
        for n, b, a in zip(x.shape[-2:], pre, post, strict=True):
            crop.append(slice(max(-b, 0), n - max(-a, 0)))
            pads.append((max(b, 0), max(a, 0)))
        return [np.asarray(np.pad(x[tuple(crop)], pads), order="C")]


class IConstantLayer(ILayer):
    """A tensor from weights: its dtype is the weights' dtype; shape () is a scalar."""

    _TYPE = LayerType.CONSTANT
    _TYPE_NAME = "Constant"
    _MAX_INPUTS = 0
    _MIN_INPUTS = 0

    shape = dims_property("shape", "Output shape.")
    weights = weights_property("weights", "The values, volume(shape) of them.")

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        shape, weights = tuple(self._p["shape"]), self._w["weights"]
        require(all(v >= 0 for v in shape), f"constant shape {shape} must be known")
        require(
            weights.size == volume(shape),
            f"constant has {weights.size} weights, shape {shape} needs {volume(shape)}",
        )
        # NOTE: TensorRT 11.4's documentation says IConstantLayer "does not support boolean and
        # uint8 types"; TensorRT-RTX 1.7 refuses UINT8 but accepts and builds BOOL. The emulator
        # keeps the documented rule.
        require(
            weights.dtype not in (DataType.BOOL, DataType.UINT8),
            f"constant layer does not support {weights.dtype}",
        )
        return [(shape, weights.dtype)]

    def _output_dtypes(self, dtypes: list[DataType]) -> list[DataType]:
        return [self._w["weights"].dtype]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        # A read-only view, not a copy per run: no layer writes over its inputs.
        value = weights_array(self._w["weights"]).reshape(tuple(self._p["shape"])).view()
        value.flags.writeable = False
        return [value]
