"""Fused attention: IAttention (``add_attention_v2``) and the two layers it puts in the network.

As in TensorRT-RTX, an IAttention is not a layer itself: the network gets an ATTENTION_INPUT
layer (query, key, value) and an ATTENTION_OUTPUT layer, named ``<name>_AttentionInput`` and
``<name>_AttentionOutput`` after the attention's name; its metadata goes on the output layer.
The emulator computes ``softmax(Q K^T) V`` in the input layer (TensorRT does not scale: Q comes
pre-scaled) and copies it in the output layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from trtdsl.emulator.enums import (
    AttentionIOForm,
    AttentionNormalizationOp,
    CausalMaskKind,
    DataType,
    LayerType,
)
from trtdsl.emulator.layers.base import (
    ILayer,
    Shape,
    dyn,
    float_compute,
    require,
    require_float,
)
from trtdsl.emulator.layers.fields import PlanField, enum_kind
from trtdsl.emulator.tensor import ITensor
from trtdsl.emulator.types import EmulatorUnsupportedError, check_type

if TYPE_CHECKING:
    from trtdsl.emulator.network import INetworkDefinition


class IAttentionInputLayer(ILayer):
    """The attention's first layer: query (B, Hq, Sq, D), key and value (B, Hkv, Skv, D) with
    Hq a multiple of Hkv -> (B, Hq, Sq, Dv). Computes the whole attention in the emulator."""

    _TYPE = LayerType.ATTENTION_INPUT
    _TYPE_NAME = "AttentionInput"
    _MAX_INPUTS = 3
    _MIN_INPUTS = 3
    _FIELDS = (
        PlanField("norm_op", enum_kind(AttentionNormalizationOp)),
        PlanField("causal_kind", enum_kind(CausalMaskKind)),
    )

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        q, k, v = shapes
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
        return [((q[0], q[1], q[2], v[3]), dtypes[0])]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        q, k, v = (float_compute(x) for x in xs)
        if self._p["causal_kind"] != CausalMaskKind.NONE:
            raise EmulatorUnsupportedError("the emulator does not compute causal attention")
        repeat = q.shape[1] // k.shape[1]
        k, v = np.repeat(k, repeat, axis=1), np.repeat(v, repeat, axis=1)
        scores = q @ np.swapaxes(k, -1, -2)
        if self._p["norm_op"] == AttentionNormalizationOp.SOFTMAX:
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores = scores / scores.sum(axis=-1, keepdims=True)
        return [np.asarray(scores @ v, dtype=xs[0].dtype, order="C")]


class IAttentionOutputLayer(ILayer):
    """The attention's last layer (the emulator's is a copy of the input layer's result)."""

    _TYPE = LayerType.ATTENTION_OUTPUT
    _TYPE_NAME = "AttentionOutput"

    def _infer(self, shapes: list[Shape], dtypes: list[DataType]) -> list[tuple[Shape, DataType]]:
        return [(shapes[0], dtypes[0])]

    def _compute(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        return [xs[0].copy()]


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
        self._set("causal_kind", check_type(value, CausalMaskKind, "IAttention.causal_kind"))

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
        """The mask (the emulator has none)."""
        return None

    @property
    def num_inputs(self) -> int:
        """Query, key and value."""
        return 3

    @property
    def num_outputs(self) -> int:
        """One output."""
        return 1

    def get_input(self, index: int) -> ITensor | None:
        """Input ``index`` (query, key, value), or None."""
        return self._input_layer.get_input(index)

    def get_output(self, index: int) -> ITensor | None:
        """The attention's output (index 0), or None."""
        return self._output_layer.get_output(index)

    def set_input(self, index: int, tensor: ITensor) -> None:
        """Replace the query, key or value."""
        self._input_layer.set_input(index, tensor)

    def _set(self, key: str, value: Any) -> None:
        self._input_layer._p[key] = value
        self._input_layer._touch()
