"""The transformer zoo, ``bert_base_uncased`` and ``gpt2``, against Hugging Face transformers.

Without torch: parameter counts equal transformers' ``sum(p.numel())`` (the published
109,482,240 and 124,439,808), state_dict key counts and sample keys with their shapes (GPT-2's
Conv1D weights in their (in, out) layout), Hugging Face's input and output names, dtypes,
value ranges and the declared profiles, one node per framework layer; ``select`` on a dynamic
axis (the pooler's ``hidden_states[:, 0]``).

With transformers (``oracle``; imported with torchvision hidden; nothing downloaded): the
full-size ``BertModel`` and ``GPT2Model`` built from their default configurations
(bert-base-uncased's and gpt2's) with transformers' random initialisation, then every bias
and LayerNorm parameter moved by a seeded draw (transformers initialises them to 0 and 1, under
which a bias bound to the wrong node would go unnoticed) and the projection weights doubled
(``Parity.WEIGHT_SCALE`` says why), saved as safetensors and bound
unchanged (key sets equal); the reference, the emulated TensorRT backend (one engine built
with the declared profile, run at two shapes) and the ONNX export (``trtdsl export`` in
onnxruntime) match transformers within max |error| <= 1e-4 max |transformers|.
``weights/export_hf.py`` writes a file that binds.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from scripts import load_script
from test_rtx_ops import PLAN_MAGIC, PRECISIONS, emit_both

from trtdsl import ModelBuilder
from trtdsl.backends.onnx_export import export_onnx
from trtdsl.backends.reference import run_reference
from trtdsl.backends.trt import BuildConfig, build_engine, emit_network, import_trt, prepare_graph
from trtdsl.cli.main import main
from trtdsl.debug.check import run_plan
from trtdsl.errors import BackendError
from trtdsl.frontend.load import load_model, zoo_models
from trtdsl.ir.graph import Graph
from trtdsl.ir.types import DimRange, Precision, ValueRange
from trtdsl.weights import load_weights

ROOT = Path(__file__).resolve().parents[1]
BOUND = 1e-4
"""The zoo's parity bound: max |error| <= BOUND * max |transformers|."""

# sum(p.numel() for p in BertModel(BertConfig()).parameters()), likewise GPT2Model(GPT2Config()):
# bert-base-uncased's and gpt2's published counts.
HF_PARAMETERS = {"bert_base_uncased": 109_482_240, "gpt2": 124_439_808}
# len(model.state_dict()) in transformers 5 (position ids and causal masks are not persistent).
HF_KEYS = {"bert_base_uncased": 199, "gpt2": 148}
SAMPLE_KEYS = {
    "bert_base_uncased": {
        "embeddings.word_embeddings.weight": (30522, 768),
        "embeddings.position_embeddings.weight": (512, 768),
        "embeddings.token_type_embeddings.weight": (2, 768),
        "encoder.layer.11.attention.self.value.bias": (768,),
        "encoder.layer.0.intermediate.dense.weight": (3072, 768),
        "encoder.layer.5.output.LayerNorm.weight": (768,),
        "pooler.dense.weight": (768, 768),
    },
    "gpt2": {
        "wte.weight": (50257, 768),
        "wpe.weight": (1024, 768),
        "h.0.attn.c_attn.weight": (768, 2304),  # Conv1D: (in, out), q, k, v stacked
        "h.0.attn.c_attn.bias": (2304,),
        "h.11.attn.c_proj.weight": (768, 768),
        "h.11.mlp.c_fc.weight": (768, 3072),
        "h.11.mlp.c_proj.weight": (3072, 768),
        "ln_f.bias": (768,),
    },
}
HF_INPUTS = {
    "bert_base_uncased": {
        "input_ids": ValueRange(0, 30521),
        "attention_mask": ValueRange(0, 1),
        "token_type_ids": ValueRange(0, 1),
    },
    "gpt2": {"input_ids": ValueRange(0, 50256), "attention_mask": ValueRange(0, 1)},
}
HF_OUTPUTS = {
    "bert_base_uncased": {"last_hidden_state": ("B", "L", 768), "pooler_output": ("B", 768)},
    "gpt2": {"last_hidden_state": ("B", "L", 768)},
}
MAX_LENGTH = {"bert_base_uncased": 512, "gpt2": 1024}  # max_position_embeddings, n_positions
MODELS = sorted(HF_PARAMETERS)


# -- the graphs, without torch --------------------------------------------------------------------


def test_the_zoo_holds_the_transformers() -> None:
    assert set(MODELS) <= set(zoo_models())


@pytest.mark.parametrize("name", MODELS)
def test_parameter_count_and_keys_match_transformers(name: str) -> None:
    graph = load_model(name)
    assert graph.num_parameters() == HF_PARAMETERS[name]
    shapes = {key: spec.shape for key, _, _, spec in graph.params()}
    assert len(shapes) == HF_KEYS[name]
    for key, shape in SAMPLE_KEYS[name].items():
        assert shapes.get(key) == shape, key


@pytest.mark.parametrize("name", MODELS)
def test_inputs_outputs_and_profile_have_hugging_face_names(name: str) -> None:
    graph = load_model(name)
    assert list(graph.inputs) == list(HF_INPUTS[name])
    for input_name, value_range in HF_INPUTS[name].items():
        assert str(graph.types[input_name]) == "int64[B,L]"
        assert graph.input_ranges[input_name] == value_range
    assert {p.name: graph.types[p.value].shape for p in graph.outputs} == HF_OUTPUTS[name]
    assert graph.dims == (DimRange("B", 1, 1, 8), DimRange("L", 1, 128, MAX_LENGTH[name]))


@pytest.mark.parametrize("name", MODELS)
def test_one_node_per_framework_layer(name: str) -> None:
    """Lookups are embeddings (no one-hot matmul), attention is one node per layer (no
    hand-unrolled matmul and softmax), and the padding mask reaches every repetition."""
    graph = load_model(name)
    ops = Counter(n.op.op_name for n in graph.nodes)
    assert ops["self_attention"] == 12 and ops["embedding"] == (3 if name.startswith("bert") else 2)
    assert not {"matmul", "softmax", "gather", "index_select", "eq"} & set(ops)
    attention = [n for n in graph.nodes if n.op.op_name == "self_attention"]
    assert all(n.inputs[1] == "padding_mask" for n in attention)
    if name == "gpt2":
        assert ops["hf_conv1d"] == 24 and "linear" not in ops
        assert all(n.op.causal and n.op.weight_layout == "conv1d" for n in attention)  # type: ignore[attr-defined]
        assert [n.name for n in attention][-1] == "h.11.attn"
    else:
        assert not any(n.op.causal for n in attention)  # type: ignore[attr-defined]
        assert graph.node("pooler.first_token").op.op_name == "select"
        assert [n.name for n in attention][-1] == "encoder.layer.11.attention.self"


# -- select on a dynamic axis (the pooler's hidden_states[:, 0]) ----------------------------------


def _select_graph(index: int) -> Graph:
    b = ModelBuilder("first_token")
    x = b.input("x", ("N", "L", 4), dims={"N": (1, 2, 3), "L": (1, 5, 8)})
    b.output(b.select(x, dim=1, index=index, name="first"), "y")
    return b.build()


def test_select_on_a_dynamic_axis_matches_everywhere(tmp_path: Path) -> None:
    graph = _select_graph(1)
    assert graph.types["first"].shape == ("N", 4)
    trt = import_trt("emulated")
    plan = build_engine(emit_network(trt, graph, {}), BuildConfig())
    export_onnx(graph, {}, tmp_path / "select.onnx")
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(
        str(tmp_path / "select.onnx"), providers=["CPUExecutionProvider"]
    )
    for shape in ((2, 5, 4), (1, 2, 4), (3, 8, 4)):
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        want = x[:, 1]
        np.testing.assert_array_equal(run_reference(graph, {}, {"x": x})["y"], want)
        np.testing.assert_array_equal(run_plan(trt, plan, {"x": x})["y"], want)
        np.testing.assert_array_equal(session.run(["y"], {"x": x})[0], want)


def test_select_beyond_the_run_time_size_is_an_error_naming_the_node() -> None:
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(
        BackendError, match=r"first: select: index 3 is out of range for axis 1 of size 3"
    ):
        run_reference(_select_graph(3), {}, {"x": x})


@pytest.mark.rtx
@pytest.mark.parametrize("precision", PRECISIONS)
def test_select_on_a_dynamic_axis_builds_with_tensorrt_rtx(precision: str) -> None:
    graph, _ = prepare_graph(_select_graph(0), {}, precision)
    _, real = emit_both(graph, {})
    plan = build_engine(real, BuildConfig(precision=Precision.parse(precision)))
    assert plan[:4] == PLAN_MAGIC


# -- parity with transformers ---------------------------------------------------------------------


def _export_hf() -> ModuleType:
    """weights/export_hf.py as a module (it is a script, not part of the package)."""
    return load_script(ROOT / "weights" / "export_hf.py", "export_hf")


@pytest.fixture(scope="module")
def export_hf() -> Iterator[ModuleType]:
    """export_hf.py, with transformers importable (torchvision hidden while the module runs:
    a torchvision built for another torch breaks transformers' import); skipped without
    transformers."""
    pytest.importorskip("torch")
    saved = sys.modules.get("torchvision")
    sys.modules["torchvision"] = None  # type: ignore[assignment]
    try:
        pytest.importorskip("transformers")
        yield _export_hf()
    finally:
        if saved is None:
            sys.modules.pop("torchvision", None)
        else:
            sys.modules["torchvision"] = saved


def _inputs(name: str, batch: int, length: int, seed: int) -> dict[str, np.ndarray]:
    """Seeded ids; the first sequence of a batch of 2 padded at its end (mask 0)."""
    rng = np.random.default_rng(seed)
    high = HF_INPUTS[name]["input_ids"].high
    inputs = {"input_ids": rng.integers(0, high + 1, (batch, length), dtype=np.int64)}
    mask = np.ones((batch, length), np.int64)
    if batch > 1:
        mask[0, length - 3 :] = 0
    inputs["attention_mask"] = mask
    if name == "bert_base_uncased":  # segment A, then segment B
        inputs["token_type_ids"] = np.broadcast_to(np.arange(length) >= length // 2, mask.shape)
        inputs["token_type_ids"] = inputs["token_type_ids"].astype(np.int64)
    return inputs


SHAPES = ((2, 12), (1, 5))  # (batch, sequence length): two shapes of one engine


class Parity:
    """One full-size transformers model, its safetensors file and its outputs at SHAPES."""

    BIAS_STD = 0.1
    """Biases and LayerNorm parameters (transformers' 0 and 1) get this normal draw added."""
    WEIGHT_SCALE = 2.0
    """Projection weights (not the embeddings) are scaled by this: with transformers' std 0.02
    the MLP's pre-activations stay where GELU's erf and tanh forms differ by less than the
    bound; doubled, using GPT-2's gelu_new for BERT's GELU is 2e-3 off and BERT's for GPT-2's
    3e-4, while torch's own float32 stays within 1.3e-6 of its float64."""

    def __init__(self, export_hf: ModuleType, name: str, directory: Path) -> None:
        import torch
        from safetensors.numpy import save_file

        model = export_hf.load_hf_model(name, seed=0)
        self.hf_parameters = sum(p.numel() for p in model.parameters())
        rng = np.random.default_rng(1)
        state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
        for key, value in state.items():
            if value.ndim == 1:  # biases (0) and LayerNorm weights (1): spread them
                value += rng.normal(0.0, self.BIAS_STD, value.shape).astype(np.float32)
            elif "embeddings" not in key and not key.startswith(("wte", "wpe")):
                value *= self.WEIGHT_SCALE
        model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
        self.file = directory / f"{name}.safetensors"
        save_file(state, str(self.file))
        self.inputs = [_inputs(name, batch, length, seed=i) for i, (batch, length) in
                       enumerate(SHAPES)]  # fmt: skip
        self.expected = []
        with torch.no_grad():
            for inputs in self.inputs:
                out = model(**{k: torch.from_numpy(v) for k, v in inputs.items()})
                ports = {"last_hidden_state": out.last_hidden_state.numpy()}
                if name == "bert_base_uncased":
                    ports["pooler_output"] = out.pooler_output.numpy()
                self.expected.append(ports)


@pytest.fixture(scope="module", params=MODELS)
def parity(
    export_hf: ModuleType, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Parity:
    return Parity(export_hf, request.param, tmp_path_factory.mktemp(request.param))


def _assert_close(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert set(got) == set(want)
    for port, value in want.items():
        assert got[port].shape == value.shape, port
        error = float(np.abs(got[port] - value).max())
        assert error <= BOUND * float(np.abs(value).max()), (port, error)


@pytest.mark.oracle
def test_state_dict_binds_unchanged_and_the_reference_matches(parity: Parity) -> None:
    name = parity.file.stem
    graph = load_model(name)
    assert graph.num_parameters() == parity.hf_parameters == HF_PARAMETERS[name]
    bound = load_weights(parity.file, graph)  # strict: every key bound, none left over
    assert set(bound.arrays) == {key for key, *_ in graph.params()}
    for inputs, want in zip(parity.inputs, parity.expected, strict=True):
        _assert_close(run_reference(graph, bound.arrays, inputs), want)


@pytest.mark.oracle
def test_the_padding_mask_matters(parity: Parity) -> None:
    """Leaving the padding mask out moves outputs far beyond the bound (so the parity above
    checks the mask): BERT's unpadded positions, which attend to every key, and GPT-2's padded
    ones (its unpadded positions cannot see the later padding: causal)."""
    graph = load_model(parity.file.stem)
    arrays = load_weights(parity.file, graph).arrays
    inputs = dict(parity.inputs[0])
    masked = run_reference(graph, arrays, inputs)["last_hidden_state"]
    inputs["attention_mask"] = np.ones_like(inputs["attention_mask"])
    unmasked = run_reference(graph, arrays, inputs)["last_hidden_state"]
    padded = inputs["input_ids"].shape[1] - 3  # the first padded position of sequence 0
    moved, kept = (slice(padded, None), slice(0, padded))
    if parity.file.stem == "bert_base_uncased":
        moved, kept = kept, moved
    else:
        np.testing.assert_allclose(masked[0, kept], unmasked[0, kept], atol=1e-5)
    difference = float(np.abs(masked[0, moved] - unmasked[0, moved]).max())
    assert difference > 100 * BOUND * float(np.abs(masked).max())
    np.testing.assert_allclose(masked[1], unmasked[1], atol=1e-5)  # no padding there


@pytest.mark.oracle
def test_the_emulated_engine_matches_at_two_shapes(parity: Parity) -> None:
    graph = load_model(parity.file.stem)
    arrays = load_weights(parity.file, graph).arrays
    trt = import_trt("emulated")
    plan = build_engine(emit_network(trt, graph, arrays), BuildConfig())  # emulated, not TensorRT
    for inputs, want in zip(parity.inputs, parity.expected, strict=True):
        _assert_close(run_plan(trt, plan, inputs), want)


@pytest.mark.oracle
def test_the_onnx_export_matches_in_onnxruntime(
    parity: Parity, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / f"{parity.file.stem}.onnx"
    argv = ["export", parity.file.stem, "--weights", str(parity.file), "--onnx", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    session = ort.InferenceSession(str(out), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    assert [i.name for i in session.get_inputs()] == list(HF_INPUTS[parity.file.stem])
    for inputs, want in zip(parity.inputs, parity.expected, strict=True):
        _assert_close(dict(zip(names, session.run(names, inputs), strict=True)), want)


@pytest.mark.oracle
def test_export_hf_writes_a_file_that_binds(
    export_hf: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """weights/export_hf.py, random init (nothing downloaded): the file binds to the zoo
    model and holds transformers' seeded initialisation."""
    out = tmp_path / "gpt2.safetensors"
    assert export_hf.main(["gpt2", "-o", str(out), "--seed", "3"]) == 0
    stdout = capsys.readouterr().out
    assert stdout.startswith(f"wrote {out}: 148 tensors, 124,439,808 elements (random, seed 3)")
    assert "148 bound" in stdout
    arrays = load_weights(out, load_model("gpt2")).arrays
    expected = export_hf.load_hf_model("gpt2", seed=3).state_dict()  # seeds torch itself
    for key in ("wte.weight", "h.0.attn.c_attn.weight", "h.11.mlp.c_proj.weight"):
        np.testing.assert_array_equal(arrays[key], expected[key].numpy())
    assert export_hf.main(["bert", "-o", str(tmp_path / "x.safetensors")]) == 2
    assert (
        "unknown model 'bert'; expected one of bert_base_uncased, gpt2" in capsys.readouterr().err
    )
    missing = str(tmp_path / "nothing")
    assert (
        export_hf.main(["gpt2", "-o", str(tmp_path / "y.safetensors"), "--checkpoint", missing])
        == 2
    )
    assert f"--checkpoint {missing}: no such directory" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpt2.safetensors"]
