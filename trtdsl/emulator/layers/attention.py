"""Fused attention: IAttention (``add_attention_v2``) and the two layers it puts in the network.

As in TensorRT-RTX, an IAttention is not a layer itself: the network gets an ATTENTION_INPUT
layer (query, key, value) and an ATTENTION_OUTPUT layer, named ``<name>_AttentionInput`` and
``<name>_AttentionOutput`` after the attention's name; its metadata goes on the output layer.
The emulator computes ``softmax(Q K^T + mask) V`` in the input layer (TensorRT does not scale: Q
comes pre-scaled) and copies it in the output layer. The optional mask is the input layer's
fourth input (set with ``IAttention.mask``; not with ``set_input``); a mask and a causal kind
exclude one another, as in TensorRT-RTX.

NOTE: TensorRT documents no result for a query all of whose keys are masked out; the emulator
gives zeros there, as PyTorch 2.13's ``scaled_dot_product_attention`` (unverified on a GPU).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from trtdsl import kernels
from trtdsl.emulator.enums import (
    AttentionIOForm,
    AttentionNormalizationOp,
    CausalMaskKind,
    DataType,
    LayerType,
    Severity,
)
from trtdsl.emulator.layers.base import (
    FLOAT_TYPES,
    ILayer,
    Shape,
    dyn,
    float_compute,
    require,
    require_float,
)
from trtdsl.emulator.layers.fields import PlanField, enum_kind
from trtdsl.emulator.tensor import ITensor
from trtdsl.emulator.types import EmulatorRuntimeError, check_type

if TYPE_CHECKING:
    from trtdsl.emulator.network import INetworkDefinition


_MASK_TYPES = (*FLOAT_TYPES, DataType.BOOL)


def _broadcasts(mask: Shape, target: Shape) -> bool:
    """Whether each dimension of ``mask`` is 1, equal to ``target``'s, or dynamic."""
    return all(m in (1, t) or dyn(m, t) for m, t in zip(mask, target, strict=True))


class IAttentionInputLayer(ILayer):
    """The attention's first layer: query (B, Hq, Sq, D), key and value (B, Hkv, Skv, D) with
    Hq a multiple of Hkv, and an optional 4-D mask broadcastable to (B, Hq, Sq, Skv), BOOL
    (true: the key takes part) or of the query's float type (added to the scores; a float mask
    of another type is refused when the network is built) -> (B, Hq, Sq, Dv). Computes the
    whole attention in the emulator."""

    _TYPE = LayerType.ATTENTION_INPUT
    _TYPE_NAME = "AttentionInput"
    _MAX_INPUTS = 4
    _MIN_INPUTS = 3
    _FIELDS = (
        PlanField("norm_op", enum_kind(AttentionNormalizationOp)),
        PlanField("causal_kind", enum_kind(CausalMaskKind)),
    )

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        q, k, v = shapes[:3]
        require_float(dtypes[0], "attention query")
        require(dtypes[1] == dtypes[0] == dtypes[2], f"attention inputs are {dtypes}")
        require(len(q) == len(k) == len(v) == 4, f"attention inputs {q}, {k}, {v} must be 4-D")
        require(k == v or dyn(*k, *v), f"attention key {k} and value {v} differ")
        require(q[0] == k[0] or dyn(q[0], k[0]), f"attention batch sizes of {q} and {k} differ")
        require(q[3] == k[3] or dyn(q[3], k[3]), f"attention head sizes of {q} and {k} differ")
        require(
            dyn(q[1], k[1]) or q[1] % k[1] == 0,
            f"attention query heads {q[1]} are not a multiple of key/value heads {k[1]}",
        )
        if len(shapes) == 4:
            mask = shapes[3]
            require(len(mask) == 4, f"attention mask must be a 4D tensor, got {mask}")
            require(
                dtypes[3] in _MASK_TYPES,
                f"attention mask has type {dtypes[3]} but must be FLOAT, HALF, BF16 or BOOL",
            )
            target = (q[0], q[1], q[2], k[2])
            require(
                _broadcasts(mask, target),
                f"attention mask {mask} must be broadcastable to {target}",
            )
        return [((q[0], q[1], q[2], v[3]), dtypes[0])]

    def _validate(self, shapes: list[Shape], dtypes: list[DataType]) -> None:
        if len(dtypes) == 4 and dtypes[3] != DataType.BOOL:
            require(
                dtypes[3] == dtypes[0],
                f"attention mask type {dtypes[3]} differs from the query's {dtypes[0]}",
            )

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        q, k, v = (float_compute(x) for x in xs[:3])
        repeat = q.shape[1] // k.shape[1]
        if repeat > 1:  # grouped keys and values shared by several query heads
            k, v = np.repeat(k, repeat, axis=1), np.repeat(v, repeat, axis=1)
        kind = self._p["causal_kind"]
        if self._p["norm_op"] == AttentionNormalizationOp.SOFTMAX and kind in (
            CausalMaskKind.NONE,
            CausalMaskKind.UPPER_LEFT,
        ):  # the same arithmetic on the kernels' threads, tile by tile
            y = kernels.scaled_dot_product_attention(
                q,
                k,
                v,
                xs[3] if len(xs) == 4 else None,
                causal=kind == CausalMaskKind.UPPER_LEFT,
                scale=1.0,
                all_excluded=0.0,
            )
            return [np.asarray(y, dtype=xs[0].dtype, order="C")]
        scores = q @ np.swapaxes(k, -1, -2)
        if len(xs) == 4:
            mask = xs[3]
            if mask.dtype == np.bool_:
                scores = np.where(mask, scores, np.float32(-np.inf))
            else:
                scores = scores + float_compute(mask)
        if kind != CausalMaskKind.NONE:
            length, source = scores.shape[-2:]
            diagonal = source - length if kind == CausalMaskKind.LOWER_RIGHT else 0
            allowed = np.tri(length, source, diagonal, dtype=np.bool_)
            scores = np.where(allowed, scores, np.float32(-np.inf))
        if self._p["norm_op"] == AttentionNormalizationOp.SOFTMAX:
            top = scores.max(axis=-1, keepdims=True)
            attended = top > -np.inf
            with np.errstate(invalid="ignore"):
                scores = np.exp(scores - np.where(attended, top, np.float32(0)))
                scores = np.where(attended, scores / scores.sum(axis=-1, keepdims=True), 0)
        return [np.asarray(scores @ v, dtype=xs[0].dtype, order="C")]


class IAttentionOutputLayer(ILayer):
    """The attention's last layer (the emulator's passes the input layer's result on, uncopied:
    no layer writes over its inputs)."""

    _TYPE = LayerType.ATTENTION_OUTPUT
    _TYPE_NAME = "AttentionOutput"

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        return [(shapes[0], dtypes[0])]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        return [xs[0]]


class IAttention:
    """An attention in an INetworkDefinition (query, key, value -> one output)."""

    def __init__(
        self,
        network: INetworkDefinition,
        inputs: IAttentionInputLayer,
        output: IAttentionOutputLayer,
    ) -> None:
        self._network = network
        self._input_layer = inputs
        self._output_layer = output
        self._name = f"(Unnamed Layer* {inputs._index}) [Attention]"
        self._decomposable = False
        self._forms = {"query": AttentionIOForm.PADDED_BHND, "kv": AttentionIOForm.PADDED_BHND}

    def __repr__(self) -> str:
        return f"<emulated IAttention {self._name!r}>"

    @property
    def name(self) -> str:
        """The attention's name; its layers are ``<name>_AttentionInput`` / ``_AttentionOutput``."""
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = check_type(value, str, "IAttention.name")
        self._input_layer.name = f"{value}_AttentionInput"
        self._output_layer.name = f"{value}_AttentionOutput"
        # NOTE: TensorRT-RTX renames the (internal) tensor between the two layers with them.
        self._input_layer._outputs[0].name = f"{value}_AttentionInput_output"

    @property
    def metadata(self) -> str:
        """Metadata (kept by the output layer, as TensorRT-RTX)."""
        return self._output_layer.metadata

    @metadata.setter
    def metadata(self, value: str) -> None:
        self._output_layer.metadata = value

    @property
    def norm_op(self) -> AttentionNormalizationOp:
        """The normalization of the scores. Default: SOFTMAX."""
        value: AttentionNormalizationOp = self._input_layer._p["norm_op"]
        return value

    @norm_op.setter
    def norm_op(self, value: AttentionNormalizationOp) -> None:
        self._set("norm_op", check_type(value, AttentionNormalizationOp, "IAttention.norm_op"))

    @property
    def causal_kind(self) -> CausalMaskKind:
        """The causal mask. Default: NONE."""
        value: CausalMaskKind = self._input_layer._p["causal_kind"]
        return value

    @causal_kind.setter
    def causal_kind(self, value: CausalMaskKind) -> None:
        kind = check_type(value, CausalMaskKind, "IAttention.causal_kind")
        if kind != CausalMaskKind.NONE and self.mask is not None:
            self._log(
                "IAttention::setCausalKind: API Usage Error (CausalMaskKind other than NONE "
                "cannot be used together with optional mask)"
            )
            raise EmulatorRuntimeError("Failed to set Attention's CausalMaskKind")
        self._set("causal_kind", kind)

    @property
    def decomposable(self) -> bool:
        """Whether TensorRT may decompose the attention where no fused kernel fits."""
        return self._decomposable

    @decomposable.setter
    def decomposable(self, value: bool) -> None:
        self._decomposable = check_type(value, bool, "IAttention.decomposable")

    @property
    def query_form(self) -> AttentionIOForm:
        """Layout of the query (the emulator has PADDED_BHND only)."""
        return self._forms["query"]

    @property
    def key_value_form(self) -> AttentionIOForm:
        """Layout of the key and value (the emulator has PADDED_BHND only)."""
        return self._forms["kv"]

    @property
    def mask(self) -> ITensor | None:
        """The mask: a 4-D BOOL or float tensor (the input layer's fourth input), or None.

        Setting one while the causal kind is not NONE is refused (logged; the mask stays
        unset), as in TensorRT-RTX.
        """
        inputs = self._input_layer._inputs
        return inputs[3] if len(inputs) > 3 else None

    @mask.setter
    def mask(self, value: ITensor) -> None:
        tensor = check_type(value, ITensor, "IAttention.mask")
        if self.causal_kind != CausalMaskKind.NONE:
            self._log(
                "IAttention::setMask: API Usage Error (Option mask cannot be used together "
                "with CausalMaskKind other than NONE)"
            )
            return
        self._input_layer.set_input(3, tensor)

    @property
    def num_inputs(self) -> int:
        """Query, key and value, and the mask when set."""
        return len(self._input_layer._inputs)

    @property
    def num_outputs(self) -> int:
        """One output."""
        return 1

    def get_input(self, index: int) -> ITensor | None:
        """Input ``index`` (query, key, value), or None (the mask is read with ``mask``)."""
        if check_type(index, int, "IAttention.get_input.index") == 3:
            self._log("IAttention::getInput: API Usage Error (getMask should be used instead)")
            return None
        return self._input_layer.get_input(index)

    def get_output(self, index: int) -> ITensor | None:
        """The attention's output (index 0), or None."""
        return self._output_layer.get_output(index)

    def set_input(self, index: int, tensor: ITensor) -> bool:
        """Replace the query, key or value (0, 1, 2); False (logged) for the mask's index 3."""
        if check_type(index, int, "IAttention.set_input.index") == 3:
            self._log("IAttention::setInput: API Usage Error (setMask should be used instead)")
            return False
        self._input_layer.set_input(index, tensor)
        return True

    def _log(self, message: str) -> None:
        self._network._log(Severity.ERROR, message)

    def _set(self, key: str, value: Any) -> None:
        self._input_layer._p[key] = value
        self._input_layer._touch()
