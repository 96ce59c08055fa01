"""The transformer ops beyond the per-op table (tests/cases.py): indices out of range,
``self_attention`` in TensorRT's fused form and composed from layers (each emulated against the
reference and built by TensorRT-RTX at fp32, fp16 and bf16), dynamic sequence lengths, and tiny
Hugging Face BERT and GPT-2 models bound from their own state_dicts, one node per layer.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from cases import CASES, OpCase, case_arrays
from test_rtx_ops import PLAN_MAGIC, PRECISIONS, emit_both
from test_trt_emit import case_graph, compile_and_run

from trtdsl import ModelBuilder
from trtdsl.backends.reference import run_reference
from trtdsl.backends.trt import (
    BuildConfig,
    build_engine,
    emit_network,
    import_trt,
    network_layers,
    prepare_graph,
)
from trtdsl.backends.trt import module as trt_module
from trtdsl.debug.check import run_plan
from trtdsl.errors import BackendError
from trtdsl.ir.graph import Graph
from trtdsl.ir.ops import make_op
from trtdsl.ir.ops.base import param_key
from trtdsl.ir.types import DType, Precision, TensorType
from trtdsl.weights import random_weights

# -- indices out of range ---------------------------------------------------------------------


def _indexing_graph(op_name: str, kwargs: dict[str, Any], shapes: list[tuple[int, ...]]) -> Graph:
    b = ModelBuilder("indexing")
    inputs = [
        b.input(f"x{i}", shape, dtype="int64" if i == len(shapes) - 1 else "float32")
        for i, shape in enumerate(shapes)
    ]
    b.output(b.node(make_op(op_name, kwargs), *inputs, name="encoder.lookup"), "y")
    return b.build()


@pytest.mark.parametrize(
    ("op_name", "kwargs", "data_shape", "indices", "message"),
    [
        (
            "embedding",
            dict(num_embeddings=7, embedding_dim=2),
            None,
            [[0, 6], [7, 1]],
            r"index 7 at position \[1, 0\] is out of range for num_embeddings of size 7 "
            r"\(valid: 0\.\.6\)",
        ),
        ("embedding", dict(num_embeddings=7, embedding_dim=2), None, [[-1]], "index -1"),
        ("index_select", dict(dim=1), (2, 3), [0, 3], r"index 3 at position \[1\].*axis 1"),
        ("gather", dict(dim=0), (2, 3), [[0, 1, 2]], r"index 2 at position \[0, 2\].*axis 0"),
    ],
)
def test_out_of_range_indices_are_errors_of_the_reference(
    op_name: str,
    kwargs: dict[str, Any],
    data_shape: tuple[int, ...] | None,
    indices: list[Any],
    message: str,
) -> None:
    """TensorRT's gather reads undefined memory for such an index; the reference refuses it,
    naming the node and the index."""
    index = np.asarray(indices, np.int64)
    shapes = [index.shape] if data_shape is None else [data_shape, index.shape]
    graph = _indexing_graph(op_name, kwargs, shapes)
    weights = {k: np.ones(spec.shape, np.float32) for k, _, _, spec in graph.params()}
    arrays = {f"x{len(shapes) - 1}": index}
    if data_shape is not None:
        arrays["x0"] = np.zeros(data_shape, np.float32)
    with pytest.raises(BackendError, match=rf"encoder\.lookup: {op_name}: {message}"):
        run_reference(graph, weights, arrays)


def test_out_of_range_ids_stop_the_emulated_engine() -> None:
    """TensorRT's IGatherLayer does not check indices (an engine reads undefined memory);
    the emulator refuses to make up a value and names the layer."""
    graph = _indexing_graph("embedding", dict(num_embeddings=5, embedding_dim=2), [(2, 3)])
    weights = {"encoder.lookup.weight": np.ones((5, 2), np.float32)}
    ids = np.array([[0, 1, 2], [3, 4, 5]], np.int64)
    trt = import_trt("emulated")
    with pytest.raises(
        BackendError, match=r"encoder\.lookup: gather index 5 is out of range for axis 0 of size 5"
    ):
        compile_and_run(trt, graph, weights, {"x0": ids})


# -- self-attention: fused (IAttention) and composed ---------------------------------------------

ATTENTION_CASES = [c for c in CASES if c.op.op_name == "self_attention"]


@pytest.fixture(params=["fused", "composed"])
def attention_form(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Emit TensorRT's fused IAttention (as every product trtdsl supports does today), or the
    matmul-softmax-matmul form (TensorRT before 10.15)."""
    if request.param == "composed":
        monkeypatch.setattr(trt_module, "fused_attention_available", lambda trt: False)
    return str(request.param)


def _layer_types(trt: ModuleType, graph: Graph, weights: dict[str, np.ndarray]) -> set[str]:
    return {la.type for la in network_layers(trt, emit_network(trt, graph, weights).network)}


def _check_form(types: set[str], form: str) -> None:
    assert ("ATTENTION_INPUT" in types) == (form == "fused"), types
    assert ("SOFTMAX" in types) == (form == "composed"), types


def test_attention_cases_cover_masks_causal_and_layouts() -> None:
    ops = [c.op for c in ATTENTION_CASES]
    assert {op.weight_layout for op in ops} == {"linear", "conv1d"}  # type: ignore[attr-defined]
    assert {op.qkv_proj is None for op in ops} == {True, False}  # type: ignore[attr-defined]
    causal = [op.causal for op in ops]  # type: ignore[attr-defined]
    assert any(causal) and not all(causal)
    masked = [c for c in ATTENTION_CASES if len(c.input_shapes) == 2]
    assert {(c.input_dtypes or ("float32",) * 2)[1] for c in masked} == {"bool", "float32"}
    assert {len(c.input_shapes[1]) for c in masked} == {2, 4}


def _case_data(case: OpCase) -> tuple[Graph, dict[str, np.ndarray], dict[str, np.ndarray]]:
    arrays, params = case_arrays(case, seed=1)
    weights = {param_key("op", role): a for role, a in params.items()}
    return case_graph(case), weights, {f"x{i}": a for i, a in enumerate(arrays)}


@pytest.mark.parametrize("case", ATTENTION_CASES, ids=lambda c: c.id)
def test_attention_case_emulated_matches_reference(attention_form: str, case: OpCase) -> None:
    trt = import_trt("emulated")
    graph, weights, inputs = _case_data(case)
    _check_form(_layer_types(trt, graph, weights), attention_form)
    want = run_reference(graph, weights, inputs)["y"]
    got = compile_and_run(trt, graph, weights, inputs)["y"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_a_query_whose_keys_are_all_masked_gets_zeros(attention_form: str) -> None:
    """As PyTorch 2.13's scaled_dot_product_attention, in the reference and both forms
    (TensorRT documents nothing here: the emulator's fused layer follows PyTorch)."""
    case = next(c for c in ATTENTION_CASES if c.id == "self_attention-padding-causal")
    assert case.op.bias is False  # type: ignore[attr-defined]  # zero heads give zero outputs
    graph, weights, inputs = _case_data(case)
    inputs["x1"] = np.ones((2, 5), np.bool_)
    inputs["x1"][1, 0] = False  # with causal, query 0 of sequence 1 attends to nothing
    want = run_reference(graph, weights, inputs)["y"]
    np.testing.assert_array_equal(want[1, 0], np.zeros(8, np.float32))
    assert np.all(np.abs(want[1, 1:]).max(axis=-1) > 0) and np.all(np.abs(want[0]).max(-1) > 0)
    got = compile_and_run(import_trt("emulated"), graph, weights, inputs)["y"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.rtx
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("case", ATTENTION_CASES, ids=lambda c: c.id)
def test_attention_case_builds_with_tensorrt_rtx(
    attention_form: str, case: OpCase, precision: str
) -> None:
    graph, weights, _ = _case_data(case)
    prepared, prepared_weights = prepare_graph(graph, weights, precision)
    _, real = emit_both(prepared, prepared_weights)
    _check_form({la.type for la in network_layers(real.trt, real.network)}, attention_form)
    plan = build_engine(real, BuildConfig(precision=Precision.parse(precision)))
    assert plan[:4] == PLAN_MAGIC


# -- dynamic sequence lengths --------------------------------------------------------------------


def gpt2_tiny(vocab: int = 11, positions: int = 16, embed: int = 8, heads: int = 2) -> Graph:
    """GPT-2 (``GPT2Model``, one block) with Hugging Face's names; N and L dynamic."""
    b = ModelBuilder("gpt2_tiny")
    ids = b.input("input_ids", ("N", "L"), dtype="int64", dims={"N": (1, 2, 3), "L": (1, 5, 8)})
    tokens = b.embedding(ids, num_embeddings=vocab, embedding_dim=embed, name="wte")
    position_ids = b.arange_like(ids, dim=1, name="position_ids")
    where = b.embedding(position_ids, num_embeddings=positions, embedding_dim=embed, name="wpe")
    h = b.add(tokens, where, name="embed")
    with b.scope("h.0"):
        a = b.layer_norm(h, normalized_shape=embed, name="ln_1")
        a = b.self_attention(
            a,
            embed_dim=embed,
            num_heads=heads,
            qkv_proj="c_attn",
            out_proj="c_proj",
            weight_layout="conv1d",
            causal=True,
            name="attn",
        )
        h = b.add(h, a, name="attn_residual")
        m = b.layer_norm(h, normalized_shape=embed, name="ln_2")
        m = b.hf_conv1d(m, out_features=4 * embed, name="mlp.c_fc")
        m = b.gelu(m, approximate="tanh", name="mlp.act")
        m = b.hf_conv1d(m, out_features=embed, name="mlp.c_proj")
        h = b.add(h, m, name="mlp_residual")
    b.output(b.layer_norm(h, normalized_shape=embed, name="ln_f"), "last_hidden_state")
    return b.build()


def bert_tiny(
    vocab: int = 11, positions: int = 16, embed: int = 8, heads: int = 2, inner: int = 12
) -> Graph:
    """BERT (``BertModel``, one layer, pooler) with Hugging Face's names; N and L dynamic;
    token types default to zeros (``full_like``); the padding mask is ``attention_mask == 1``."""
    b = ModelBuilder("bert_tiny")
    dims = {"N": (1, 2, 3), "L": (1, 5, 8)}
    ids = b.input("input_ids", ("N", "L"), dtype="int64", dims=dims)
    attention_mask = b.input("attention_mask", ("N", "L"), dtype="int64")
    with b.scope("embeddings"):
        words = b.embedding(ids, num_embeddings=vocab, embedding_dim=embed, name="word_embeddings")
        types = b.full_like(ids, fill_value=0, name="token_type_ids")
        kinds = b.embedding(
            types, num_embeddings=2, embedding_dim=embed, name="token_type_embeddings"
        )
        position_ids = b.arange_like(ids, dim=1, name="position_ids")
        where = b.embedding(
            position_ids, num_embeddings=positions, embedding_dim=embed, name="position_embeddings"
        )
        e = b.add(b.add(words, kinds, name="sum"), where, name="sum_positions")
        e = b.layer_norm(e, normalized_shape=embed, eps=1e-12, name="LayerNorm")
    keep = b.eq(attention_mask, other=1, name="padding_mask")
    with b.scope("encoder.layer.0"):
        context = b.self_attention(
            e, keep, embed_dim=embed, num_heads=heads, q_proj="query", k_proj="key",
            v_proj="value", name="attention.self",
        )  # fmt: skip
        a = b.linear(context, out_features=embed, name="attention.output.dense")
        a = b.add(a, e, name="attention.output.residual")
        a = b.layer_norm(a, normalized_shape=embed, eps=1e-12, name="attention.output.LayerNorm")
        i = b.linear(a, out_features=inner, name="intermediate.dense")
        i = b.gelu(i, name="intermediate.intermediate_act_fn")
        o = b.add(b.linear(i, out_features=embed, name="output.dense"), a, name="output.residual")
        o = b.layer_norm(o, normalized_shape=embed, eps=1e-12, name="output.LayerNorm")
    b.output(o, "last_hidden_state")
    # hidden_states[:, 0] on a dynamic L: select needs a static axis, index_select does not.
    first = b.index_select(o, b.arange(end=1, name="first_token"), dim=1, name="first")
    first = b.flatten(first, name="first_flat")
    pooled = b.tanh(b.linear(first, out_features=embed, name="pooler.dense"), name="pooler")
    b.output(pooled, "pooler_output")
    return b.build()


MODELS: dict[str, Callable[[], Graph]] = {"gpt2": gpt2_tiny, "bert": bert_tiny}


def _model_inputs(name: str, n: int, length: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    inputs = {"input_ids": rng.integers(0, 11, (n, length)).astype(np.int64)}
    if name == "bert":
        mask = np.ones((n, length), np.int64)
        mask[0, length - 2 :] = 0  # padding at the end of the first sequence
        inputs["attention_mask"] = mask
    return inputs


@pytest.mark.parametrize("name", sorted(MODELS))
def test_dynamic_model_emulated_matches_reference(attention_form: str, name: str) -> None:
    trt = import_trt("emulated")
    graph = MODELS[name]()
    weights = random_weights(graph, seed=2)
    _check_form(_layer_types(trt, graph, weights), attention_form)
    emitted = emit_network(trt, graph, weights)
    plan = build_engine(emitted, BuildConfig())
    for n, length in ((2, 5), (1, 3), (3, 8)):
        inputs = _model_inputs(name, n, length)
        want = run_reference(graph, weights, inputs)
        got = run_plan(trt, plan, inputs)
        assert set(got) == set(want)
        for port, value in want.items():
            assert got[port].shape == value.shape
            np.testing.assert_allclose(got[port], value, rtol=1e-5, atol=1e-5)


@pytest.mark.rtx
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_dynamic_model_builds_with_tensorrt_rtx(
    attention_form: str, name: str, precision: str
) -> None:
    graph = MODELS[name]()
    prepared, weights = prepare_graph(graph, random_weights(graph, seed=2), precision)
    _, real = emit_both(prepared, weights)
    layers = {la.name.rsplit(".", 1)[-1]: la for la in network_layers(real.trt, real.network)}
    assert layers["position_ids"].outputs[0].shape == (-1,)  # the dynamic L
    _check_form({la.type for la in layers.values()}, attention_form)
    plan = build_engine(real, BuildConfig(precision=Precision.parse(precision)))
    assert plan[:4] == PLAN_MAGIC


# -- Hugging Face checkpoints bind unchanged -------------------------------------------------------


@pytest.fixture(scope="module")
def hf() -> Iterator[Any]:
    """``transformers`` (imported with torchvision hidden, as it must be here); skipped
    where it is not installed."""
    pytest.importorskip("torch")
    saved = sys.modules.get("torchvision")
    sys.modules["torchvision"] = None  # type: ignore[assignment]
    try:
        transformers = pytest.importorskip("transformers")
        from transformers import BertConfig, BertModel, GPT2Config, GPT2Model

        yield {
            "bert": lambda: BertModel(
                BertConfig(
                    vocab_size=11,
                    hidden_size=8,
                    num_hidden_layers=1,
                    num_attention_heads=2,
                    intermediate_size=12,
                    max_position_embeddings=16,
                    type_vocab_size=2,
                    attn_implementation="eager",
                )  # fmt: skip
            ),
            "gpt2": lambda: GPT2Model(
                GPT2Config(
                    vocab_size=11,
                    n_embd=8,
                    n_layer=1,
                    n_head=2,
                    n_positions=16,
                    bos_token_id=0,
                    eos_token_id=0,
                    attn_implementation="eager",
                )  # fmt: skip
            ),
            "version": transformers.__version__,
        }
    finally:
        if saved is None:
            sys.modules.pop("torchvision", None)
        else:
            sys.modules["torchvision"] = saved


@pytest.mark.oracle
@pytest.mark.parametrize("name", sorted(MODELS))
def test_hugging_face_state_dict_binds_unchanged_and_matches(hf: Any, name: str) -> None:
    import torch

    torch.manual_seed(0)
    model = hf[name]().eval()
    state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    graph = MODELS[name]()
    assert {key for key, *_ in graph.params()} == set(state), "keys differ from the checkpoint"
    inputs = _model_inputs(name, 2, 6, seed=4)
    with torch.no_grad():
        out = model(**{k: torch.from_numpy(v) for k, v in inputs.items()})
    got = run_reference(graph, state, inputs)
    want = out.last_hidden_state.numpy()
    if name == "bert":
        keep = inputs["attention_mask"].astype(bool)  # padded positions of HF are unspecified
        np.testing.assert_allclose(got["last_hidden_state"][keep], want[keep], atol=2e-5)
        np.testing.assert_allclose(got["pooler_output"], out.pooler_output.numpy(), atol=2e-5)
    else:
        np.testing.assert_allclose(got["last_hidden_state"], want, atol=2e-5)
    emulated = compile_and_run(import_trt("emulated"), graph, state, inputs)
    for port, value in got.items():
        np.testing.assert_allclose(emulated[port], value, rtol=1e-5, atol=1e-5)


# -- MACs and precision ---------------------------------------------------------------------------


def test_macs_of_hf_conv1d_and_self_attention() -> None:
    x = TensorType(DType.FLOAT32, ("N", "L", 8))
    conv = make_op("hf_conv1d", dict(out_features=24))
    assert conv.macs([x], conv.infer_outputs([x]), {"N": 2, "L": 5}) == 2 * 5 * 24 * 8
    gpt2 = make_op(
        "self_attention", dict(embed_dim=8, num_heads=2, qkv_proj="c_attn", out_proj="c_proj")
    )
    # projections 2*5*(8*24 + 8*8); scores and weighted values 2 * 2*5*5*8
    assert gpt2.macs([x], [x], {"N": 2, "L": 5}) == 2 * 5 * (8 * 32) + 2 * (2 * 5 * 5 * 8)


def test_embedding_table_is_read_in_float32_by_half_precision_graphs() -> None:
    graph = gpt2_tiny()
    half, weights = prepare_graph(graph, random_weights(graph, seed=1), "fp16")
    assert half.types[half.node("wte").output].dtype is DType.FLOAT32
    assert half.types[half.node("h.0.attn").output].dtype is DType.FLOAT16
