"""trtdsl export --triton: a Triton model repository entry whose config.pbtxt passes Triton's own
model configuration schema (tritonclient's model_config_pb2) and whose model.plan is a real
engine (TensorRT-RTX here), written all at once or not at all."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from scripts import load_script

from trtdsl import load_model
from trtdsl.backends.trt.layers import TensorInfo
from trtdsl.deploy.triton import Batching, batching, triton_config, write_triton_model
from trtdsl.errors import UsageError
from trtdsl.ir.types import ShapeRange


def model_config_pb2() -> ModuleType:
    """Triton's ModelConfig protobuf module from tritonclient. Its ``tritonclient.grpc``
    package needs grpcio, which pins protobuf < 7; without grpcio the generated module itself
    is loaded from tritonclient's files."""
    tritonclient = pytest.importorskip("tritonclient")
    try:
        from tritonclient.grpc import model_config_pb2 as module  # type: ignore[import-untyped]

        return module  # type: ignore[no-any-return]
    except (ImportError, RuntimeError):
        path = Path(tritonclient.__file__).parent / "grpc" / "model_config_pb2.py"
        return load_script(path, "triton_model_config_pb2")


def parse_config(text: str) -> Any:
    """``config.pbtxt`` parsed strictly (unknown fields and bad values raise) by Triton's schema."""
    from google.protobuf import text_format

    pb2 = model_config_pb2()
    return text_format.Parse(text, pb2.ModelConfig())


@pytest.fixture
def dynamic_model(tiny_model: Path, write_model) -> Path:  # type: ignore[no-untyped-def]
    text = tiny_model.read_text().replace("[2, 3, 8, 8]", "[N, 3, 8, 8]")
    return write_model(
        "dyn.yaml", text.replace("inputs:", "dims:\n  N: {min: 1, opt: 8, max: 16}\ninputs:")
    )


X_DYNAMIC = TensorInfo("x", (-1, 3, 8, 8), "float32")
LOGITS = TensorInfo("logits", (-1, 5), "float32")


def test_batching_config_passes_tritons_schema(dynamic_model: Path) -> None:
    graph = load_model(str(dynamic_model))
    profiles = {"x": ShapeRange((1, 3, 8, 8), (8, 3, 8, 8), (16, 3, 8, 8))}
    batch = batching(graph, profiles, None)
    assert batch == Batching(16, (8, 16))
    config = parse_config(triton_config("tiny", [X_DYNAMIC], [LOGITS], batch, instances=2))
    pb2 = model_config_pb2()
    assert config.name == "tiny" and config.platform == "tensorrt_plan"
    assert config.max_batch_size == 16
    assert [(t.name, pb2.DataType.Name(t.data_type), list(t.dims)) for t in config.input] == [
        ("x", "TYPE_FP32", [3, 8, 8])
    ]
    assert list(config.output[0].dims) == [5]
    assert list(config.dynamic_batching.preferred_batch_size) == [8, 16]
    (group,) = config.instance_group
    assert group.count == 2 and pb2.ModelInstanceGroup.Kind.Name(group.kind) == "KIND_GPU"
    assert batching(graph, profiles, 4) == Batching(4, (4,))


def test_static_model_has_no_batching(tiny_model: Path) -> None:
    graph = load_model(str(tiny_model))
    batch = batching(graph, {}, None)
    assert batch == Batching(0)
    text = triton_config("tiny", [TensorInfo("x", (2, 3, 8, 8), "float16")], [LOGITS], batch)
    config = parse_config(text)
    assert config.max_batch_size == 0 and list(config.input[0].dims) == [2, 3, 8, 8]
    assert not config.HasField("dynamic_batching")
    with pytest.raises(
        UsageError, match=r"--max-batch-size 4: model 'tiny' has no batch dimension"
    ):
        batching(graph, {}, 4)


def test_batching_mistakes(dynamic_model: Path) -> None:
    graph = load_model(str(dynamic_model))
    profile = {"x": ShapeRange((1, 3, 8, 8), (8, 3, 8, 8), (16, 3, 8, 8))}
    with pytest.raises(
        UsageError, match=r"--max-batch-size 32: outside the profile's batch range 1..16"
    ):
        batching(graph, profile, 32)
    late = {"x": ShapeRange((2, 3, 8, 8), (8, 3, 8, 8), (16, 3, 8, 8))}
    with pytest.raises(UsageError, match=r"the profile's smallest batch is 2"):
        batching(graph, late, None)
    with pytest.raises(UsageError, match=r"Triton has no data type for float8_e4m3"):
        triton_config("m", [TensorInfo("x", (-1, 3), "float8_e4m3")], [LOGITS], Batching(1))


@pytest.mark.parametrize("name", ["a/b", "..", ".hidden", "has space", "-x", "", "ü"])
def test_names_triton_rejects_exit_2_and_write_nothing(
    tmp_path: Path, tiny_model: Path, cli: Callable[..., Any], name: str
) -> None:
    repo = tmp_path / "repo"
    result = cli(
        "export", str(tiny_model), "--weights", "random", "--triton", str(repo), f"--name={name}"
    )
    assert result.code == 2
    (line,) = result.err.splitlines()
    assert "not a Triton model name" in line
    assert not repo.exists()


def test_repository_mistakes_exit_2(
    tmp_path: Path, tiny_model: Path, cli: Callable[..., Any]
) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    (tmp_path / "repo" / "tiny").mkdir(parents=True)
    base = ("export", str(tiny_model), "--weights", "random")
    for argv, message in (
        ((*base, "--triton", str(a_file)), "is a file, not a directory"),
        ((*base, "--triton", str(tmp_path / "repo")), "tiny already exists"),
        ((*base, "--triton", str(tmp_path / "no" / "repo")), "does not exist"),
        ((*base, "--triton", str(tmp_path / "r2"), "--emulate"), "needs a real engine"),
        ((*base, "--triton", str(tmp_path / "r3"), "--max-batch-size", "4"), "no batch dimension"),
        ((*base, "--triton", str(tmp_path / "r4"), "--instances", "0"), "--instances 0"),
        ((*base, "--onnx", str(tmp_path / "m.onnx"), "--precision", "fp16"), "not --onnx"),
        ((*base, "--triton", str(tmp_path / "r5"), "--fold-bn"), "--fold-bn applies to --onnx"),
    ):
        result = cli(*argv)
        assert result.code == 2, argv
        (line,) = result.err.splitlines()
        assert message in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "repo", "tiny.yaml"]
    assert [p.name for p in (tmp_path / "repo").iterdir()] == ["tiny"]


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a path inside the directory"):
        write_triton_model(tmp_path, "m", "config", b"plan", {"../escape.json": b"{}"})
    assert list(tmp_path.iterdir()) == []
    directory = write_triton_model(tmp_path, "m", "config", b"plan", {"model.plan.json": b"{}"})
    assert sorted(str(p.relative_to(tmp_path)) for p in directory.rglob("*")) == [
        "m/1", "m/1/model.plan", "m/1/model.plan.json", "m/config.pbtxt"]  # fmt: skip
    assert oct(directory.stat().st_mode & 0o777) == "0o755"


@pytest.mark.rtx
def test_export_writes_a_repository_with_a_real_engine(
    tmp_path: Path, dynamic_model: Path, cli: Callable[..., Any]
) -> None:
    repo = tmp_path / "repo"
    argv = (
        "export",
        str(dynamic_model),
        "--weights",
        "random",
        "--triton",
        str(repo),
        "--name",
        "tiny-v2",
    )
    result = cli(*argv, "--backend", "tensorrt-rtx", "--instances", "3")
    assert result.code == 0, result.err
    assert "TensorRT-RTX engine; Triton's tensorrt_plan backend" in result.err
    model = repo / "tiny-v2"
    config = parse_config((model / "config.pbtxt").read_text())
    assert config.name == "tiny-v2" and config.max_batch_size == 16
    assert list(config.dynamic_batching.preferred_batch_size) == [8, 16]
    assert config.instance_group[0].count == 3
    plan = (model / "1" / "model.plan").read_bytes()
    assert plan[:4] == b"vtrt"
    sidecar = json.loads((model / "1" / "model.plan.json").read_text())
    assert sidecar["product"] == "TensorRT-RTX" and sidecar["io"]["inputs"][0]["profile"][
        "max"
    ] == [16, 3, 8, 8]
    assert not [p for p in repo.iterdir() if p.name.startswith(".")]


@pytest.mark.rtx
@pytest.mark.slow
def test_resnet50_repository(tmp_path: Path, cli: Callable[..., Any]) -> None:
    """Done criterion: trtdsl export zoo/resnet50.yaml --weights random --triton repo."""
    zoo = Path(__file__).resolve().parents[1] / "zoo" / "resnet50.yaml"
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = cli("export", str(zoo), "--weights", "random", "--triton", "repo")
    finally:
        os.chdir(old)
    assert result.code == 0, result.err
    config = parse_config((tmp_path / "repo" / "resnet50" / "config.pbtxt").read_text())
    assert config.max_batch_size == 32 and list(config.input[0].dims) == [3, 224, 224]
    assert list(config.output[0].dims) == [1000]
    assert list(config.dynamic_batching.preferred_batch_size) == [8, 32]
    assert (tmp_path / "repo" / "resnet50" / "1" / "model.plan").read_bytes()[:4] == b"vtrt"
