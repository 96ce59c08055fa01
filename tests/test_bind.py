"""Binding checkpoints to graphs: every problem reported at once, renames, dtype conversions."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from trtdsl import ModelBuilder
from trtdsl.errors import WeightError
from trtdsl.ir.graph import Graph
from trtdsl.weights import (
    BoundWeights,
    bind_weights,
    load_weights,
    open_safetensors,
    prefix_rule,
    random_weights,
)


def tiny_graph(renames: tuple[tuple[str, str], ...] = ()) -> Graph:
    """conv1 -> bn1 -> relu -> layer1.0.conv1 -> pool -> flatten -> fc (torchvision names)."""
    b = ModelBuilder("tiny")
    x = b.input("x", (2, 3, 8, 8))
    y = b.conv2d(x, out_channels=4, kernel_size=3, padding=1, bias=False, name="conv1")
    y = b.batch_norm2d(y, name="bn1")
    y = b.relu(y, name="relu")
    with b.scope("layer1"), b.scope(0):
        y = b.conv2d(y, out_channels=4, kernel_size=3, padding=1, name="conv1")
    y = b.adaptive_avg_pool2d(y, output_size=1, name="avgpool")
    y = b.flatten(y, name="flatten")
    y = b.linear(y, out_features=5, name="fc")
    b.output(y, "logits")
    for pattern, replacement in renames:
        b.rename_weights(pattern, replacement)
    return b.build()


NEEDED = {
    "conv1.weight": (4, 3, 3, 3),
    "bn1.weight": (4,),
    "bn1.bias": (4,),
    "bn1.running_mean": (4,),
    "bn1.running_var": (4,),
    "layer1.0.conv1.weight": (4, 4, 3, 3),
    "layer1.0.conv1.bias": (4,),
    "fc.weight": (5, 4),
    "fc.bias": (5,),
}


def checkpoint(seed: int = 0) -> dict[str, np.ndarray]:
    weights = random_weights(tiny_graph(), seed)
    weights["bn1.num_batches_tracked"] = np.array(10, np.int64)
    return weights


def test_exact_checkpoint_binds_every_needed_key() -> None:
    graph = tiny_graph()
    ckpt = checkpoint()
    bound = bind_weights(graph, ckpt)
    assert isinstance(bound, BoundWeights)
    assert {k: v.shape for k, v in bound.arrays.items()} == NEEDED
    assert bound.ignored == ("bn1.num_batches_tracked",)
    for key in NEEDED:
        assert bound.arrays[key] is ckpt[key]  # float32 binds as is
    assert bound.conversions == ()


def test_num_batches_tracked_is_optional() -> None:
    ckpt = checkpoint()
    del ckpt["bn1.num_batches_tracked"]
    bound = bind_weights(tiny_graph(), ckpt)
    assert set(bound.arrays) == set(NEEDED) and bound.ignored == ()


def test_num_batches_tracked_is_still_checked_when_present() -> None:
    ckpt = checkpoint()
    ckpt["bn1.num_batches_tracked"] = np.array([1.5], np.float32)
    with pytest.raises(
        WeightError, match=r"shape\s+bn1\.num_batches_tracked: expected \(\), got \(1,\)"
    ):
        bind_weights(tiny_graph(), ckpt)
    ckpt["bn1.num_batches_tracked"] = np.array(1.5, np.float32)
    with pytest.raises(WeightError, match=r"F32 cannot hold an integer parameter"):
        bind_weights(tiny_graph(), ckpt)


def test_all_problems_are_reported_together_with_suggestions() -> None:
    ckpt = checkpoint()
    ckpt["layer1.0.conv1.weights"] = ckpt.pop("layer1.0.conv1.weight")  # typo: missing+unexpected
    del ckpt["fc.bias"]  # missing, nothing close
    ckpt["head.extra"] = np.zeros(3, np.float32)  # unexpected
    ckpt["conv1.weight"] = np.zeros((4, 3, 5, 5), np.float32)  # wrong shape
    ckpt["bn1.running_var"] = np.ones(4, np.int32)  # wrong dtype
    ckpt["bn1.bias"] = np.ones(4, bool)  # wrong dtype
    with pytest.raises(WeightError) as info:
        bind_weights(tiny_graph(), ckpt, source="ckpt.safetensors")
    lines = str(info.value).splitlines()
    assert lines[0] == (
        "weights ckpt.safetensors do not match model 'tiny': 2 missing, 2 unexpected, "
        "1 wrong shape, 2 wrong dtype (model needs 9 tensors, checkpoint has 10)"
    )
    body = "\n".join(lines[1:])
    assert (
        "missing     layer1.0.conv1.weight (float32 (4, 4, 3, 3)); "
        "did you mean layer1.0.conv1.weights?" in body
    )
    assert "unexpected  layer1.0.conv1.weights; did you mean layer1.0.conv1.weight?" in body
    assert "missing     fc.bias (float32 (5,))" in body
    assert "unexpected  head.extra\n" in body + "\n"
    assert "shape       conv1.weight: expected (4, 3, 3, 3), got (4, 3, 5, 5)" in body
    assert "dtype       bn1.running_var: I32 cannot hold a float parameter" in body
    assert "dtype       bn1.bias: BOOL cannot hold a float parameter" in body
    assert len(lines) == 1 + 7


def test_missing_keys_only() -> None:
    ckpt = checkpoint()
    del ckpt["fc.weight"], ckpt["fc.bias"]
    with pytest.raises(
        WeightError, match=r"^weights <mapping> do not match model 'tiny': 2 missing \("
    ):
        bind_weights(tiny_graph(), ckpt)


def test_prefixed_checkpoint_suggests_a_rename_and_binds_with_it() -> None:
    ckpt = {f"module.{k}": v for k, v in checkpoint().items()}
    with pytest.raises(WeightError) as info:
        bind_weights(tiny_graph(), ckpt)
    message = str(info.value)
    assert "did you mean module.fc.weight?" in message
    assert "hint: 10 key(s) differ only by the prefix 'module.' -> ''" in message
    assert "rename={'^module\\\\.': ''}" in message
    for rename in ({r"^module\.": ""}, [prefix_rule("module.")]):
        bound = bind_weights(tiny_graph(), ckpt, rename=rename)
        assert set(bound.arrays) == set(NEEDED)
        assert bound.renamed["fc.weight"] == "module.fc.weight"
        np.testing.assert_array_equal(bound.arrays["fc.weight"], ckpt["module.fc.weight"])


def test_graph_declared_renames_apply_after_explicit_ones() -> None:
    graph = tiny_graph(renames=((r"^classifier\.", "fc."), (r"\.gamma$", ".weight")))
    ckpt = checkpoint()
    ckpt["module.classifier.weight"] = ckpt.pop("fc.weight")
    ckpt["classifier.bias"] = ckpt.pop("fc.bias")
    ckpt["bn1.gamma"] = ckpt.pop("bn1.weight")
    bound = bind_weights(graph, ckpt, rename=[prefix_rule("module.")])
    assert bound.renamed == {
        "fc.weight": "module.classifier.weight",
        "fc.bias": "classifier.bias",
        "bn1.weight": "bn1.gamma",
    }
    assert "renamed: 3 keys" in bound.report()


def test_rename_with_groups() -> None:
    ckpt = {k.replace("layer1.0.", "blocks.0."): v for k, v in checkpoint().items()}
    bound = bind_weights(tiny_graph(), ckpt, rename={r"^blocks\.(\d+)\.": r"layer1.\1."})
    assert bound.renamed["layer1.0.conv1.bias"] == "blocks.0.conv1.bias"


def test_rename_collisions_are_reported() -> None:
    ckpt = checkpoint()
    ckpt["old.fc.weight"] = ckpt["fc.weight"]
    with pytest.raises(WeightError) as info:
        bind_weights(tiny_graph(), ckpt, rename={r"^old\.": ""})
    assert "1 colliding" in str(info.value).splitlines()[0]
    assert "collision   'fc.weight' and 'old.fc.weight' both rename to 'fc.weight'" in str(
        info.value
    )


def test_renamed_keys_are_named_in_problems() -> None:
    ckpt = {f"m.{k}": v for k, v in checkpoint().items()}
    ckpt["m.fc.bias"] = np.zeros(7, np.float32)
    with pytest.raises(
        WeightError, match=r"fc\.bias: expected \(5,\), got \(7,\) \(renamed from m\.fc\.bias\)"
    ):
        bind_weights(tiny_graph(), ckpt, rename={r"^m\.": ""})


@pytest.mark.parametrize(
    ("rename", "message"),
    [
        ({"(": ""}, r"rename: bad rule '\(' -> ''"),
        ({"(a)": r"\2"}, r"invalid group reference 2"),
        ([("a",)], r"rename: expected a \(pattern, replacement\) pair, got \('a',\)"),
        ("abc", "got a string"),
    ],
)
def test_bad_rename_rules(rename: object, message: str) -> None:
    with pytest.raises(WeightError, match=message):
        bind_weights(tiny_graph(), checkpoint(), rename=rename)  # type: ignore[arg-type]


def test_float_conversions_are_exact_where_representable(tmp_path: Path) -> None:
    exact = np.array([0.0, 1.0, -2.5, 0.15625, 65504.0, -0.0009765625], np.float64)
    ckpt = checkpoint()
    path = tmp_path / "mixed.safetensors"
    raw = dict(ckpt)
    raw["fc.weight"] = np.resize(exact, (5, 4)).astype(np.float16)
    raw["fc.bias"] = exact[:5].copy()  # F64
    save_file(raw, str(path))
    bound = bind_weights(tiny_graph(), open_safetensors(path))
    assert bound.arrays["fc.weight"].dtype == np.float32
    np.testing.assert_array_equal(bound.arrays["fc.weight"], np.resize(exact, (5, 4)))
    np.testing.assert_array_equal(bound.arrays["fc.bias"], exact[:5])
    assert set(bound.conversions) == {"fc.weight", "fc.bias"}
    assert bound.source_dtypes["fc.weight"] == "F16" and bound.source_dtypes["fc.bias"] == "F64"
    report = bound.report()
    assert "conversions (copied): F16 -> float32 x1, F64 -> float32 x1" in report


def test_bf16_converts_by_shifting_into_the_high_half(tmp_path: Path) -> None:
    weight = np.array([[1.0, -2.0, 0.5], [3.140625, -0.0, 1e-3]], np.float32)
    bias = np.array([65280.0, -1.5], np.float32)
    weight_bits = (weight.view(np.uint32) >> 16).astype("<u2")
    bias_bits = (bias.view(np.uint32) >> 16).astype("<u2")
    header = {
        "fc.weight": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]},
        "fc.bias": {"dtype": "BF16", "shape": [2], "data_offsets": [12, 16]},
    }
    raw = json.dumps(header).encode()
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(
        struct.pack("<Q", len(raw)) + raw + weight_bits.tobytes() + bias_bits.tobytes()
    )
    b = ModelBuilder("linear_only")
    x = b.input("x", (1, 3))
    b.output(b.linear(x, out_features=2, name="fc"), "y")
    bound = bind_weights(b.build(), open_safetensors(path))
    truncated = (weight_bits.astype(np.uint32) << 16).view(np.float32)
    np.testing.assert_array_equal(bound.arrays["fc.weight"], truncated)
    np.testing.assert_array_equal(bound.arrays["fc.weight"][0], weight[0])  # exact in bf16
    np.testing.assert_array_equal(bound.arrays["fc.bias"], bias)
    assert bound.arrays["fc.bias"].dtype == np.float32
    assert bound.source_dtypes == {"fc.weight": "BF16", "fc.bias": "BF16"}
    assert "BF16 -> float32 x2" in bound.report()


def test_f64_overflow_is_a_problem_not_inf() -> None:
    ckpt = checkpoint()
    ckpt["fc.bias"] = np.array([1e300, 0, 0, 0, 0], np.float64)
    with pytest.raises(WeightError, match=r"fc\.bias: F64 values overflow float32"):
        bind_weights(tiny_graph(), ckpt)


def test_zero_copy_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_file(checkpoint(), str(path))
    f = open_safetensors(path)
    bound = bind_weights(tiny_graph(), f)
    for key in NEEDED:
        assert np.shares_memory(bound.arrays[key], f[key])
        assert not bound.arrays[key].flags.writeable
    assert "conversions: none (zero-copy)" in bound.report()


def test_load_weights_from_a_path_and_the_report(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_file(checkpoint(), str(path))
    bound = load_weights(str(path), tiny_graph())
    assert bound.source == str(path)
    report = bound.report()
    assert report.splitlines()[0] == f"weights: {path}"
    assert "tensors: 9 bound (+1 optional, unused), 1.2 KiB (float32 x9)" in report
    assert "source dtypes: F32 x9" in report


def test_unreadable_values_are_problems() -> None:
    ckpt: dict[str, object] = dict(checkpoint())
    ckpt["fc.bias"] = object()
    with pytest.raises(WeightError, match=r"fc\.bias"):
        bind_weights(tiny_graph(), ckpt)  # type: ignore[arg-type]


def test_bound_weights_are_immutable() -> None:
    bound = bind_weights(tiny_graph(), checkpoint())
    with pytest.raises(TypeError):
        bound.arrays["fc.bias"] = np.zeros(5, np.float32)  # type: ignore[index]


@pytest.mark.oracle
def test_torch_state_dict_binds_like_load_state_dict_strict(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file as torch_save_file

    from trtdsl.backends.reference import run_reference

    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = torch.nn.Conv2d(4, 4, 3, padding=1)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = torch.nn.Conv2d(3, 4, 3, padding=1, bias=False)
            self.bn1 = torch.nn.BatchNorm2d(4)
            self.layer1 = torch.nn.Sequential(Block())
            self.fc = torch.nn.Linear(4, 5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = torch.relu(self.bn1(self.conv1(x)))
            y = self.layer1[0].conv1(y)
            return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(y, 1), 1))

    torch.manual_seed(0)
    net = Net().eval()
    with torch.no_grad():  # non-trivial running statistics
        net.bn1.running_mean.uniform_(-0.5, 0.5)
        net.bn1.running_var.uniform_(0.5, 2.0)
        net.bn1.num_batches_tracked.fill_(3)
    path = tmp_path / "torch.safetensors"
    torch_save_file(net.state_dict(), str(path))

    bound = bind_weights(tiny_graph(), open_safetensors(path))
    state = net.state_dict()
    assert set(bound.arrays) | set(bound.ignored) == set(state)
    for key, array in bound.arrays.items():
        np.testing.assert_array_equal(array, state[key].numpy())
    # A state dict torch itself accepts strictly binds; one it rejects does not.
    Net().load_state_dict(state, strict=True)
    broken = dict(state)
    broken.pop("fc.bias")
    with pytest.raises(RuntimeError):
        Net().load_state_dict(broken, strict=True)
    with pytest.raises(WeightError, match="1 missing"):
        bind_weights(tiny_graph(), {k: v.numpy() for k, v in broken.items()})

    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    got = run_reference(tiny_graph(), bound.arrays, {"x": x})["logits"]
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_suggestions_prefer_keys_of_the_expected_shape() -> None:
    ckpt = checkpoint()
    ckpt["norm1.weight"] = ckpt.pop("bn1.weight")
    ckpt["c1.weight"] = ckpt.pop("conv1.weight")
    with pytest.raises(WeightError) as info:
        bind_weights(tiny_graph(), ckpt)
    message = str(info.value)
    assert "missing     bn1.weight (float32 (4,)); did you mean norm1.weight?" in message
    assert "missing     conv1.weight (float32 (4, 3, 3, 3)); did you mean c1.weight?" in message
    assert "unexpected  norm1.weight; did you mean bn1.weight?" in message


def test_the_rename_hint_comes_right_after_the_summary() -> None:
    ckpt = {f"model.backbone.{k}": v for k, v in checkpoint().items()}
    with pytest.raises(WeightError) as info:
        bind_weights(tiny_graph(), ckpt)
    lines = str(info.value).splitlines()
    assert lines[1].startswith(
        "  hint: 10 key(s) differ only by the prefix 'model.backbone.' -> ''"
    )
    assert len(lines) == 2 + 9 + 10  # summary, hint, 9 missing, 10 unexpected


def test_zoo_resnet50_binds_a_torchvision_style_file(tmp_path: Path) -> None:
    from trtdsl.frontend.load import load_model

    graph = load_model("resnet50")
    weights = random_weights(graph, 0)
    optional = [k for k, _n, _r, s in graph.params() if s.optional]
    assert len(weights) == 267 and len(optional) == 53
    path = tmp_path / "r50.safetensors"
    save_file({**weights, **{k: np.array(0, np.int64) for k in optional}}, str(path))
    bound = load_weights(str(path), graph)
    assert sum(a.size for a in bound.arrays.values()) == 25_610_152  # torchvision's count
    assert len(bound.ignored) == 53 and bound.conversions == ()
    assert "tensors: 267 bound (+53 optional, unused), 97.7 MiB (float32 x267)" in bound.report()


def test_misaligned_float32_data_is_copied_once(tmp_path: Path) -> None:
    weight = np.array([[3.0], [4.0]], np.float32)
    bias = np.array([1.0, 2.0], np.float32)
    header = {
        "fc.weight": {"dtype": "F32", "shape": [2, 1], "data_offsets": [0, 8]},
        "fc.bias": {"dtype": "F32", "shape": [2], "data_offsets": [9, 17]},
    }
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)  # the data area starts 8-aligned; offset 9 is not 4-aligned
    path = tmp_path / "odd.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + weight.tobytes() + b"\0" + bias.tobytes())
    f = open_safetensors(path)
    assert not f["fc.bias"].flags.aligned
    b = ModelBuilder("linear")
    x = b.input("x", (1, 1))
    b.output(b.linear(x, out_features=2, name="fc"), "y")
    bound = bind_weights(b.build(), f)
    assert bound.conversions == ("fc.bias",)
    assert bound.arrays["fc.bias"].flags.aligned
    assert np.shares_memory(bound.arrays["fc.weight"], f["fc.weight"])
    np.testing.assert_array_equal(bound.arrays["fc.bias"], bias)
    np.testing.assert_array_equal(bound.arrays["fc.weight"], weight)


def _stages(names: tuple[str, ...]) -> Graph:
    """Two stages of three blocks, named ``stage.NAME.conv`` and ``stage.NAME.bn``."""
    b = ModelBuilder("stages")
    y = b.input("x", (1, 4, 8, 8))
    for stage in ("s1", "s2"):
        for name in names:
            with b.scope(stage), b.scope(name):
                y = b.conv2d(y, out_channels=4, kernel_size=1, bias=False, name="conv")
                y = b.batch_norm2d(y, name="bn")
    b.output(y, "y")
    return b.build()


def test_an_index_offset_is_proposed_as_repeat_naming_in_one_line() -> None:
    ckpt = random_weights(_stages(("b1", "b2", "b3")))
    with pytest.raises(WeightError) as info:
        bind_weights(_stages(("0", "1", "2")), ckpt)
    lines = str(info.value).splitlines()
    assert lines[1] == (
        "  hint: 30 key(s) differ by a systematic change: the checkpoint numbers b1, b2, ... "
        "where the model has 0, 1, ... (s1.b1.conv.weight is s1.0.conv.weight); name the model's "
        'repetitions as the checkpoint does: repeat: {count: N, start: 1, prefix: "b"} in a '
        'YAML model, b.scope(f"b{i + 1}") in Python (no rename rule can shift an index)'
    )
    assert (
        "missing     s1.0.conv.weight (float32 (4, 4, 1, 1)); did you mean s1.b1.conv."
        in (lines[2])
    )
    assert len(lines) == 2 + 30 + 30


def test_a_renamed_segment_is_proposed_as_a_rule_that_binds() -> None:
    graph = tiny_graph()
    ckpt = {k.replace("conv1", "cv1"): v for k, v in checkpoint().items()}
    with pytest.raises(WeightError) as info:
        bind_weights(graph, ckpt, interface="cli")
    hint = str(info.value).splitlines()[1]
    assert hint.startswith(
        "  hint: 3 key(s) differ by a systematic change: the segment 'cv1' of the checkpoint "
        "is 'conv1' in the model"
    )
    assert "add --rename '(^|\\.)cv1(?=\\.|$)' '\\g<1>conv1'" in hint
    with pytest.raises(WeightError) as info:
        bind_weights(graph, ckpt)
    assert "bind with rename={'(^|\\\\.)cv1(?=\\\\.|$)': '\\\\g<1>conv1'}" in str(info.value)
    # the proposed rule binds
    bound = bind_weights(graph, ckpt, rename={r"(^|\.)cv1(?=\.|$)": r"\g<1>conv1"})
    assert set(bound.arrays) == set(NEEDED)


def test_no_rule_is_proposed_that_would_break_keys_that_bind() -> None:
    """``bn1`` -> ``norm1`` in one key only is no systematic change."""
    ckpt = checkpoint()
    ckpt["norm1.weight"] = ckpt.pop("bn1.weight")
    with pytest.raises(WeightError) as info:
        bind_weights(tiny_graph(), ckpt)
    assert "hint:" not in str(info.value)


def test_a_change_that_would_rename_a_bound_key_is_not_proposed() -> None:
    from trtdsl.weights.rename_hints import infer_segment_changes

    missing, unexpected = ["a.x.weight", "b.x.weight"], ["a.y.weight", "b.y.weight"]
    (change,) = infer_segment_changes(missing, unexpected, ["c.z.weight"])
    assert (change.kind, change.old, change.new, change.count) == ("rename", "y", "x", 2)
    assert infer_segment_changes(missing, unexpected, ["c.y.weight"]) == []
