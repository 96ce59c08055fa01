"""User-defined ops (``trtdsl.custom_op``): definition errors, registration through
``--ops FILE.py`` and ``trtdsl.load_ops``, the examples' references, the emulator, ONNX
export, precision, sidecars and the CLI. The real builder and GPU tests are in
test_custom_ops_builders.py and tests/gpu/test_custom_ops_gpu.py."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import trtdsl
from trtdsl.backends.trt import emit_network, import_trt
from trtdsl.errors import ModelError, OpArgumentError, UsageError
from trtdsl.ir.ops.custom import custom_op_scope, user_ops

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "custom_ops"
MISH = str(EXAMPLES / "mish.py")
DEFORM = str(EXAMPLES / "deform_conv2d.py")
Cli = Callable[..., Any]


@pytest.fixture(autouse=True)
def _scoped_registry() -> Iterator[None]:
    with custom_op_scope():
        yield
    assert "mish" not in trtdsl.OPS  # nothing leaks into other tests


@pytest.fixture
def mish() -> ModuleType:
    return trtdsl.load_ops(MISH)


@pytest.fixture
def deform() -> ModuleType:
    return trtdsl.load_ops(DEFORM)


# -- defining an op ------------------------------------------------------------------------------


def _define(**members: Any) -> type:
    namespace: dict[str, Any] = {"op_name": "my_op", "__annotations__": {}}
    namespace["infer"] = lambda self, inputs: inputs[0]
    namespace["reference"] = lambda self, inputs, params: inputs[0]
    namespace.update(members)
    return dataclass(frozen=True)(type("MyOp", (trtdsl.CustomOp,), namespace))


def test_a_composed_op_registers_and_is_a_builder_method() -> None:
    cls = trtdsl.custom_op(_define(emit=lambda self, ctx, node: None))
    assert trtdsl.OPS["my_op"] is cls and cls.lowering == "composed"
    assert len(cls.source_sha256) == 64
    b = trtdsl.ModelBuilder("m")
    b.output(b.my_op(b.input("x", (1, 2))), "y")
    assert b.build().nodes[0].op == cls()


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({}, "define exactly one lowering.*got neither"),
        (
            {"emit": lambda s, c, n: None, "kernel": trtdsl.PluginKernel("void k(){}", "k")},
            "got both",
        ),
        ({"op_name": "Mish"}, "op_name must be snake_case"),
        ({"op_name": "relu", "emit": lambda s, c, n: None}, "'relu' is a built-in op"),
        ({"kernel": trtdsl.PluginKernel("void k(){}", "k")}, "a plugin op defines launch"),
        ({"infer": trtdsl.Op.infer, "emit": lambda s, c, n: None}, r"define infer\(\)"),
    ],
)
def test_definition_errors_say_what_to_fix(members: dict[str, Any], message: str) -> None:
    with pytest.raises(OpArgumentError, match=message):
        trtdsl.custom_op(_define(**members))


def test_a_class_that_is_not_a_frozen_dataclass_is_refused() -> None:
    class Loose(trtdsl.CustomOp):
        op_name = "loose"

    with pytest.raises(OpArgumentError, match=r"above @dataclass\(frozen=True\)"):
        trtdsl.custom_op(Loose)  # type: ignore[type-var]


def test_a_kernel_must_define_its_function() -> None:
    with pytest.raises(OpArgumentError, match="defines no kernel named 'other'"):
        trtdsl.PluginKernel("__global__ void k(float* x) {}", "other")


def test_the_same_name_from_other_source_is_refused(mish: ModuleType) -> None:
    with pytest.raises(OpArgumentError, match="'mish' is already registered from .*mish.py"):
        trtdsl.custom_op(_define(op_name="mish", emit=lambda self, ctx, node: None))
    trtdsl.load_ops(MISH)  # the same file again: the same source, accepted


def test_attributes_are_validated_like_built_in_ops(deform: ModuleType) -> None:
    with pytest.raises(OpArgumentError, match="deform_conv2d: out_channels must be an int >= 1"):
        deform.DeformConv2d(out_channels=0, kernel_size=3)
    with pytest.raises(OpArgumentError, match="deform_conv2d: unknown argument 'kernel'"):
        trtdsl.make_op("deform_conv2d", {"out_channels": 4, "kernel": 3})


def test_load_ops_refuses_a_file_without_ops(tmp_path: Path) -> None:
    path = tmp_path / "nothing.py"
    path.write_text("X = 1\n")
    with pytest.raises(ModelError, match="defines no custom op"):
        trtdsl.load_ops(path)
    bad = tmp_path / "bad.py"
    bad.write_text("import trtdsl\nraise ValueError('broken')\n")
    with pytest.raises(ModelError, match=r"bad.py:2: ValueError: broken"):
        trtdsl.load_ops(bad)


# -- references ----------------------------------------------------------------------------------


@pytest.mark.oracle
def test_mish_reference_equals_torch(mish: ModuleType) -> None:
    import torch

    x = np.linspace(-30, 30, 2001, dtype=np.float32).reshape(1, 1, 1, -1)
    want = torch.nn.functional.mish(torch.from_numpy(x)).numpy()
    for op in (mish.Mish(), mish.MishPlugin()):
        np.testing.assert_allclose(op.reference([x], {}), want, rtol=1e-6, atol=1e-6)


def _deform_by_definition(
    x: np.ndarray, offset: np.ndarray, mask: np.ndarray, weight: np.ndarray, bias: np.ndarray,
    stride: int, padding: int, dilation: int,
) -> np.ndarray:  # fmt: skip
    """Deformable convolution v2 written from the paper, one output element at a time:
    y(p) = sum_k w_k * x(p0 + p_k + dp_k) * dm_k, x sampled bilinearly (zero outside)."""
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    ho, wo = offset.shape[2:]
    groups = mask.shape[1] // (kh * kw)

    def sample(img: np.ndarray, py: float, px: float) -> float:
        if not (-1 < py < h and -1 < px < w):
            return 0.0
        y0, x0 = int(np.floor(py)), int(np.floor(px))
        total = 0.0
        for yy in (y0, y0 + 1):
            for xx in (x0, x0 + 1):
                if 0 <= yy < h and 0 <= xx < w:
                    total += (1 - abs(py - yy)) * (1 - abs(px - xx)) * float(img[yy, xx])
        return total

    y = np.zeros((n, o, ho, wo))
    for b in range(n):
        for oc in range(o):
            for p in range(ho):
                for q in range(wo):
                    acc = float(bias[oc])
                    for ci in range(c):
                        g = ci // (c // groups)
                        for i in range(kh):
                            for j in range(kw):
                                tap = g * kh * kw + i * kw + j
                                dy, dx = offset[b, 2 * tap, p, q], offset[b, 2 * tap + 1, p, q]
                                py = p * stride - padding + i * dilation + dy
                                px = q * stride - padding + j * dilation + dx
                                value = sample(x[b, ci], py, px)
                                acc += weight[oc, ci, i, j] * mask[b, tap, p, q] * value
                    y[b, oc, p, q] = acc
    return y


@pytest.mark.parametrize(("stride", "padding", "dilation", "groups"), [(1, 1, 1, 1), (2, 2, 2, 2)])
def test_deform_conv2d_reference_equals_the_papers_definition(
    deform: ModuleType, stride: int, padding: int, dilation: int, groups: int
) -> None:
    rng = np.random.default_rng(0)
    op = deform.DeformConv2d(
        out_channels=3, kernel_size=3, stride=stride, padding=padding, dilation=dilation
    )
    x_type = trtdsl.TensorType(trtdsl.DType.FLOAT32, (2, 4, 7, 6))
    ho, wo = op._geometry(x_type)
    x = rng.standard_normal((2, 4, 7, 6)).astype(np.float32)
    offset = (rng.standard_normal((2, 2 * groups * 9, ho, wo)) * 2.5).astype(np.float32)
    offset[0, 0, 0, 0] = 1.0  # an integer offset: a sample exactly on a pixel
    mask = rng.uniform(0, 1, (2, groups * 9, ho, wo)).astype(np.float32)
    weight = rng.standard_normal((3, 4, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(3).astype(np.float32)
    out_type = op.infer([x_type, *(trtdsl.TensorType(trtdsl.DType.FLOAT32, a.shape)
                                   for a in (offset, mask))])  # fmt: skip
    got = op.reference([x, offset, mask], {"weight": weight, "bias": bias})
    assert got.shape == out_type.shape == (2, 3, ho, wo) and got.dtype == np.float32
    want = _deform_by_definition(x, offset, mask, weight, bias, stride, padding, dilation)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    zero = op.reference([x, np.zeros_like(offset), np.ones_like(mask)], {"weight": weight,
                                                                         "bias": bias})  # fmt: skip
    assert not np.allclose(zero, got)  # the offsets matter


# -- models, emulator, export ------------------------------------------------------------------


def test_yaml_model_uses_registered_ops_by_name(mish: ModuleType) -> None:
    graph = trtdsl.load_model(EXAMPLES / "mish_net.yaml")
    assert [type(n.op) for n in graph.nodes if n.name == "act"] == [mish.Mish]


def test_yaml_model_without_the_ops_says_how_to_register_them() -> None:
    with pytest.raises(
        ModelError, match=r"mish_net.yaml:\d+: act: unknown op 'mish'.*--ops FILE.py"
    ):
        trtdsl.load_model(EXAMPLES / "mish_net.yaml")


def _inputs(graph: trtdsl.Graph, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for name in graph.inputs:
        shape = tuple(d if isinstance(d, int) else 2 for d in graph.types[name].shape)
        out[name] = (rng.standard_normal(shape) * 3).astype(np.float32)
    return out


def _emulated(
    graph: trtdsl.Graph,
    weights: Mapping[str, np.ndarray],
    inputs: Mapping[str, np.ndarray],
    product: str | None = None,
) -> dict[str, np.ndarray]:
    from trtdsl.runtime import EngineRunner
    from trtdsl.runtime.engines import build_in_memory

    loaded = build_in_memory(graph, weights, "emulated", product=product)
    with EngineRunner(loaded.engine, loaded.trt, memory="host") as runner:
        return dict(runner.infer(dict(inputs)))


def test_python_model_with_both_examples_runs_emulated_as_its_reference() -> None:
    graph = trtdsl.load_model(EXAMPLES / "deform_net.py")
    assert {"mish", "deform_conv2d"} <= set(user_ops())
    weights = trtdsl.random_weights(graph)
    inputs = _inputs(graph)
    want = trtdsl.run_reference(graph, weights, inputs)
    got = _emulated(graph, weights, inputs)
    np.testing.assert_allclose(got["y"], want["y"], rtol=1e-5, atol=1e-6)
    assert float(np.abs(want["y"]).max()) > 0.01


def _mish_graph(op: str) -> trtdsl.Graph:
    b = trtdsl.ModelBuilder("m")
    x = b.input("x", (2, 3, 5, 5))
    b.output(getattr(b, op)(x, name="act"), "y")
    return b.build()


def test_mish_composed_and_plugin_equal_each_other_emulated(mish: ModuleType) -> None:
    x = {"x": np.linspace(-25, 25, 150, dtype=np.float32).reshape(2, 3, 5, 5)}
    composed = _emulated(_mish_graph("mish"), {}, x)["y"]
    plugin = _emulated(_mish_graph("mish_plugin"), {}, x)["y"]
    np.testing.assert_allclose(composed, plugin, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(plugin, mish.mish_reference(x["x"]), rtol=0, atol=0)


def test_the_emulator_runs_a_plugin_layer_through_its_reference(mish: ModuleType) -> None:
    trt = import_trt("emulated")
    emitted = emit_network(trt, _mish_graph("mish_plugin"), {})
    layer = emitted.network.get_layer(0)
    assert layer.type == trt.LayerType.PLUGIN_V3 and layer.name == "act"
    layer.__class__ = trt.IPluginV3Layer
    assert layer._plugin().plugin_namespace == "trtdsl"
    creator = trt.get_plugin_registry().get_creator("mish_plugin", "1", "trtdsl")
    assert creator is not None and creator.name == "mish_plugin"


def test_composed_mish_emits_named_tensorrt_layers(mish: ModuleType) -> None:
    trt = import_trt("emulated")
    emitted = emit_network(trt, _mish_graph("mish"), {})
    names = [emitted.network.get_layer(i).name for i in range(emitted.num_layers)]
    assert names == ["act/softplus", "act/tanh", "act"]


def test_a_plugin_op_on_tensorrt_rtx_is_refused_in_one_line(mish: ModuleType) -> None:
    with pytest.raises(UsageError) as info:
        emit_network(import_trt("emulated"), _mish_graph("mish_plugin"), {}, product="tensorrt-rtx")
    message = str(info.value)
    assert "\n" not in message
    assert "'mish_plugin' is a TensorRT plugin and TensorRT-RTX has no plugins" in message
    assert "composed lowering" in message and "--backend tensorrt" in message


def test_onnx_export_writes_a_custom_domain_node(deform: ModuleType, mish: ModuleType) -> None:
    from trtdsl.backends.onnx_export import to_onnx_model

    graph = trtdsl.load_model(EXAMPLES / "deform_net.py")
    model = to_onnx_model(graph, trtdsl.random_weights(graph))
    custom = [n for n in model.graph.node if n.domain == "trtdsl.custom"]
    assert [n.op_type for n in custom] == ["deform_conv2d", "mish"]
    assert list(custom[0].input) == ["x", "offset", "mask", "dcn.weight", "dcn.bias"]
    attributes = {a.name: list(a.ints) for a in custom[0].attribute}
    assert attributes["kernel_size"] == [3, 3] and attributes["padding"] == [1, 1]
    assert ("trtdsl.custom", 1) in [(o.domain, o.version) for o in model.opset_import]


def test_precision_leaves_custom_ops_in_their_declared_dtype(mish: ModuleType) -> None:
    from trtdsl.passes.precision import compute_dtypes

    b = trtdsl.ModelBuilder("m")
    x = b.input("x", (1, 3, 4, 4))
    y = b.mish_plugin(b.mish(b.relu(x, name="r"), name="a"), name="p")
    b.output(y, "y")
    wanted = compute_dtypes(b.build(), "fp16")
    assert wanted == {
        "r": trtdsl.DType.FLOAT16,
        "a": trtdsl.DType.FLOAT16,  # Mish opts in (follows_precision)
        "p": trtdsl.DType.FLOAT32,  # the plugin keeps its declared float32
    }


# -- the CLI ---------------------------------------------------------------------------------------


def test_ops_lists_the_users_ops(cli: Cli) -> None:
    result = cli("ops", "--ops", MISH)
    assert result.code == 0
    assert any(line.startswith("mish (user) ") for line in result.out.splitlines())
    assert "(user): 2 ops of the user's (--ops FILE.py): mish, mish_plugin" in result.out
    detail = cli("ops", "mish_plugin", "--ops", MISH).out
    assert "the user's op (plugin, from " in detail
    data = json.loads(cli("ops", "--format", "json", "--ops", MISH).out)
    assert {d["name"]: d["user"].split(",")[0] for d in data if d["user"]} == {
        "mish": "composed",
        "mish_plugin": "plugin",
    }


def test_info_counts_custom_ops(cli: Cli) -> None:
    result = cli("info", str(EXAMPLES / "mish_net.yaml"), "--ops", MISH, "--format", "json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["totals"]["custom_ops"] == 1
    text = cli("info", str(EXAMPLES / "deform_net.py")).out
    assert (
        "custom ops (the user's, --ops or the model's file): 2 layers (deform_conv2d, mish)" in text
    )


def test_a_yaml_model_runs_emulated_with_ops(cli: Cli) -> None:
    model = str(EXAMPLES / "mish_net.yaml")
    result = cli("run", model, "--ops", MISH, "--weights", "random", "--backend", "emulated")
    assert result.code == 0, result.err
    assert "output logits: float32[2x10]" in result.out
    assert "mish" not in trtdsl.OPS  # registered for that command only


def test_compare_bisect_treats_custom_ops_as_nodes(cli: Cli) -> None:
    model = str(EXAMPLES / "deform_net.py")
    args = ["compare", model, "--weights", "random", "--backend", "emulated"]
    clean = cli(*args)
    assert clean.code == 0, clean.err
    rows = {line.split()[0]: line.split()[-1] for line in clean.out.splitlines() if line.strip()}
    assert rows["dcn"] == "ok" and rows["act"] == "ok"
    for extra in ([], ["--bisect"]):
        planted = cli(*args, "--perturb", "dcn.weight=0.5", *extra)
        assert planted.code == 3, planted.err
        assert "first node above tolerance 0.0001: dcn (" in planted.out


def _subcommand_parsers() -> dict[str, Any]:
    import argparse

    from trtdsl.cli.main import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    found = {}
    for name, parser in sub.choices.items():
        inner = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for action in inner:
            found.update({f"{name} {k}": p for k, p in action.choices.items()})
        if not inner:
            found[name] = parser
    return found


def test_every_command_that_loads_a_model_or_engine_takes_ops() -> None:
    parsers = _subcommand_parsers()
    without = {name for name, p in parsers.items() if "--ops" not in p._option_string_actions}
    assert without == {"zoo", "cache ls", "cache clear"}
    assert {"info", "run", "compile", "refit", "inspect", "compare", "export", "bench",
            "calibrate", "ops", "weights check", "weights init"} <= set(parsers)  # fmt: skip


@pytest.mark.parametrize("kind", ["missing", "directory", "fifo", "not python"])
def test_a_hostile_ops_path_is_one_line_exit_2(cli: Cli, tmp_path: Path, kind: str) -> None:
    path = tmp_path / ("ops.txt" if kind == "not python" else "ops.py")
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "not python":
        path.write_text("x")
    result = cli("info", "resnet18", "--ops", str(path))
    assert result.code == 2 and result.out == ""
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert str(path) in result.err


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        ("import trtdsl\nfrom dataclasses import dataclass\n\n@trtdsl.custom_op\n"
         "@dataclass(frozen=True)\nclass C(trtdsl.CustomOp):\n    op_name = 'conv2d'\n"
         "    def infer(self, i): return i[0]\n    def reference(self, i, p): return i[0]\n"
         "    def emit(self, ctx, node): return None\n",
         4, "op_name 'conv2d' is a built-in op"),
        ("import sys\nsys.exit(0)\n", 2, "the ops file called sys.exit(0) while it was loaded; "
         "an ops file must not exit"),
        ("x = 1\nraise RuntimeError('boom\\nsecond')\n", 2, "RuntimeError: boom: second"),
    ],
)  # fmt: skip
def test_a_broken_ops_file_is_one_line_at_its_line(
    cli: Cli, tmp_path: Path, source: str, line: int, message: str
) -> None:
    path = tmp_path / "ops.py"
    path.write_text(source)
    result = cli("info", "resnet18", "--ops", str(path))
    assert result.code == 2 and result.out == "" and "Traceback" not in result.err
    assert result.err.count("\n") == 1, result.err
    assert f"trtdsl: error: {path}:{line}: " in result.err and message in result.err, result.err


def test_a_plugin_op_on_tensorrt_rtx_exits_2_in_one_line(cli: Cli, tmp_path: Path) -> None:
    pytest.importorskip("tensorrt_rtx", reason="needs TensorRT-RTX (pip install -e '.[rtx]')")
    model = tmp_path / "p.yaml"
    model.write_text(
        "name: p\ninputs:\n  x: {shape: [1, 3, 8, 8], dtype: float32}\n"
        "layers:\n  - {name: act, op: mish_plugin}\noutputs:\n  y: act\n"
    )
    result = cli("compile", str(model), "--ops", MISH, "--weights", "random",
                 "--backend", "tensorrt-rtx", "-o", str(tmp_path / "p.engine"))  # fmt: skip
    assert result.code == 2 and result.err.count("\n") == 1
    assert (
        "custom op 'mish_plugin' is a TensorRT plugin and TensorRT-RTX has no plugins" in result.err
    )


def test_sidecar_records_are_compared_never_imported(mish: ModuleType) -> None:
    from trtdsl.backends.trt.sidecar import CustomOpRecord, check_custom_ops, custom_op_records

    records = custom_op_records([mish.Mish(), mish.MishPlugin(), mish.Mish()])
    assert [(r.name, r.lowering) for r in records] == [
        ("mish", "composed"),
        ("mish_plugin", "plugin"),
    ]
    assert records[0].sha256 == mish.Mish.source_sha256 and records[0].file.endswith("mish.py")

    @dataclass(frozen=True)
    class Sidecar:
        custom_ops: Sequence[CustomOpRecord]

    check_custom_ops(Sidecar(records), "e.engine")  # type: ignore[arg-type]
    other = CustomOpRecord("mish_plugin", "plugin", "0" * 64, "elsewhere/mish.py")
    with pytest.raises(UsageError, match="'mish_plugin' is registered from .*with other source"):
        check_custom_ops(Sidecar([other]), "e.engine")  # type: ignore[arg-type]
    # A composed op is plain layers in the plan: its engine runs without it registered.
    check_custom_ops(Sidecar([CustomOpRecord("gone", "composed", "0" * 64)]), "e.engine")  # type: ignore[arg-type]
    gone = CustomOpRecord("swish2", "plugin", "0" * 64, "/nowhere/swish2.py")
    message = r"needs custom op 'swish2' \(plugin\), which is not registered: pass --ops FILE"
    with pytest.raises(UsageError, match=message + r".*built from /nowhere/swish2.py"):
        check_custom_ops(Sidecar([gone]), "e.engine")  # type: ignore[arg-type]


def test_an_old_sidecar_without_custom_ops_still_parses() -> None:
    from trtdsl.backends.trt.sidecar import EngineSidecar
    from trtdsl.files import parse_record, record_to_json

    fields = EngineSidecar.__dataclass_fields__
    assert fields["custom_ops"].default == ()
    data = {k: v for k, v in _minimal_sidecar().items() if k != "custom_ops"}
    sidecar = parse_record(EngineSidecar, data, "old.engine.json")
    assert sidecar.custom_ops == ()
    assert record_to_json(sidecar)["custom_ops"] == []


def _minimal_sidecar() -> dict[str, Any]:
    return {
        "trtdsl": "0", "product": "TensorRT-RTX", "version": "1.7", "backend": "tensorrt-rtx",
        "targets": "portable", "precision": "fp32",
        "model": {"name": "m", "spec": "m.yaml", "graph_sha256": "a" * 64},
        "weights": {"source": "random", "sha256": "b" * 64},
        "options": {"precision": "fp32"},
        "io": {"inputs": [], "outputs": []},
        "engine_bytes": 1, "engine_sha256": "c" * 64,
    }  # fmt: skip


def _mish_plugin_plan() -> bytes:
    from trtdsl.backends.trt import BuildConfig, build_engine

    emitted = emit_network(import_trt("emulated"), _mish_graph("mish_plugin"), {})
    return bytes(build_engine(emitted, BuildConfig()))


def _with_plugin_fields(blob: bytes, fields: str) -> bytes:
    """The emulated plan ``blob`` with its plugin layer's serialized fields replaced."""
    import struct

    from trtdsl.emulator.plan_schema import MAGIC

    (length,) = struct.unpack_from("<Q", blob, len(MAGIC))
    start = len(MAGIC) + 8
    description = json.loads(blob[start : start + length])
    (layer,) = [d for d in description["layers"] if d["class"] == "IPluginV3Layer"]
    layer["p"]["plugin_fields"] = fields
    data = json.dumps(description).encode()
    return MAGIC + struct.pack("<Q", len(data)) + data + blob[start + length :]


def _state(**changes: Any) -> str:
    state = {"attributes": {}, "roles": [], "inputs": 1, "dtype": "float32",
             "shape": [[0, 0], [0, 1], [0, 2], [0, 3]]}  # fmt: skip
    state.update(changes)
    codes = list(json.dumps(state).encode())
    return json.dumps([["state", "CHAR", codes]])


_TAMPERED = [
    ("not json", "plugin_fields"),
    (json.dumps([["state", "POINTER", [1]]]), "plugin_fields"),
    (json.dumps([["state", "CHAR", [1000]]]), "values outside CHAR"),
    (json.dumps([["state", "CHAR", ["__import__('os')"]]]), "not numbers"),
    (json.dumps([["other", "CHAR", [1]]]), "without its 'state' field"),
    (json.dumps([["state", "CHAR", list(b"[1, 2]")]]), "keys list"),
    (_state(dtype="object"), "unknown dtype 'object'"),
    (_state(shape=[[5, 0]]), "shape dimension [5, 0]"),
    (_state(inputs=True), "input count True"),
    (_state(attributes={"unknown": 1}), "unknown argument 'unknown'"),
]


@pytest.mark.parametrize(("fields", "message"), _TAMPERED, ids=[m for _, m in _TAMPERED])
def test_a_tampered_plugin_layer_in_a_plan_is_a_clear_error(
    mish: ModuleType, fields: str, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A plugin's serialized state is data: checked (structure, types, sizes, the op's own
    attribute validation) before it is used. As TensorRT does, deserializing returns None
    and logs one error line (trtdsl turns that into its one-line error), never a traceback
    from inside the plugin."""
    trt = import_trt("emulated")
    blob = _with_plugin_fields(_mish_plugin_plan(), fields)
    assert trt.Runtime(trt.Logger()).deserialize_cuda_engine(blob) is None
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and message in errors[0] and "\n" not in errors[0], errors
    assert "Traceback" not in errors[0]
