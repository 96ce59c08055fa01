"""trtdsl refit: new weights bound by state_dict name, folded and typed as at build time, set
through the Refitter. Emulated: a refitted engine computes what a fresh build computes. Real
TensorRT: under the `tensorrt` marker (TensorRT-RTX 1.7 refuses refittable builds without a
GPU, which the rtx test pins down)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from engine_files import write_emulated_engine
from safetensors.numpy import save_file

from trtdsl import BuildConfig, emit_network, import_trt, load_model, prepare_graph, random_weights
from trtdsl.backends.trt import build_network
from trtdsl.deploy.refit import check_refittable_by_name, refit_plan
from trtdsl.errors import BackendError, UsageError
from trtdsl.runtime.engines import deserialize
from trtdsl.runtime.runner import EngineRunner

emulator = import_trt("emulated")


def _plan(graph, weights, precision: str = "fp32", refittable: bool = True) -> bytes:  # type: ignore[no-untyped-def]
    prepared, prepared_weights = prepare_graph(graph, weights, precision)
    emitted = emit_network(emulator, prepared, prepared_weights)
    return build_network(emitted, BuildConfig(precision=precision, refittable=refittable)).plan


def _run(plan: bytes, x: np.ndarray) -> np.ndarray:
    loaded = deserialize(plan, emulator, "plan")
    with EngineRunner(loaded.engine, emulator, "host") as runner:
        return runner.infer({"x": x})["logits"]


def _emulated_engine(directory: Path, model: Path, seed: int = 0, refittable: bool = True) -> Path:
    """An emulated engine with the sidecar trtdsl compile writes for a real one."""
    return write_emulated_engine(directory / "model.engine", model, seed, refittable)


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_refitted_engine_computes_what_a_fresh_build_computes(
    tiny_model: Path, precision: str
) -> None:
    graph = load_model(str(tiny_model))
    new = random_weights(graph, seed=7)
    prepared, prepared_weights = prepare_graph(graph, new, precision)
    result = refit_plan(
        _plan(graph, random_weights(graph), precision), emulator, prepared, prepared_weights
    )
    assert result.names == ("conv.bias", "conv.weight", "fc.bias", "fc.weight")  # bn folded
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32)
    fresh = _run(_plan(graph, new, precision, refittable=False), x)
    np.testing.assert_array_equal(_run(result.plan, x), fresh)


def test_refit_refuses_another_model_and_a_plain_engine(tiny_model: Path, write_model) -> None:  # type: ignore[no-untyped-def]
    graph = load_model(str(tiny_model))
    other = load_model(
        str(write_model("other.yaml", tiny_model.read_text().replace("name: conv", "name: stem")))
    )
    prepared, weights = prepare_graph(other, random_weights(other))
    with pytest.raises(
        UsageError,
        match=r"not produced from the checkpoint: conv.bias, conv.weight; "
        r"not refittable in the engine: stem.bias, stem.weight",
    ):
        refit_plan(_plan(graph, random_weights(graph)), emulator, prepared, weights, "e")
    prepared, weights = prepare_graph(graph, random_weights(graph))
    with pytest.raises(
        UsageError, match=r"^e was not built refittable; build it with trtdsl compile"
    ):
        refit_plan(
            _plan(graph, random_weights(graph), refittable=False), emulator, prepared, weights, "e"
        )


def test_weights_computed_without_a_name_are_refused(write_model) -> None:  # type: ignore[no-untyped-def]
    model = write_model(
        "mha.yaml",
        """
        name: mha
        inputs:
          x: {shape: [2, 4, 8]}
        layers:
          - {name: attn, op: multi_head_attention, embed_dim: 8, num_heads: 2}
        outputs:
          y: attn
        """,
    )
    graph = load_model(str(model))
    prepared, weights = prepare_graph(graph, random_weights(graph))
    with pytest.raises(
        UsageError,
        match=r"weights buffer\(s\) computed from the checkpoint have no name .* "
        r"attn/q_proj.weight",
    ):
        check_refittable_by_name(prepared, weights)


# -- the CLI ----------------------------------------------------------------------------------


def test_cli_refit_writes_an_engine_equal_to_a_fresh_build(
    tmp_path: Path, tiny_model: Path, cli: Callable[..., object]
) -> None:
    engine = _emulated_engine(tmp_path, tiny_model)
    graph = load_model(str(tiny_model))
    new = random_weights(graph, seed=3)
    save_file(dict(new), str(tmp_path / "new.safetensors"))
    out = tmp_path / "new.engine"
    result = cli(
        "refit",
        str(engine),
        "--model",
        str(tiny_model),
        "--weights",
        str(tmp_path / "new.safetensors"),
        "-o",
        str(out),
    )
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    assert "refit: 4 named weights set" in result.out  # type: ignore[attr-defined]
    assert "check (emulated): logits: max rel error" in result.out  # type: ignore[attr-defined]
    x = np.ones((2, 3, 8, 8), np.float32)
    np.testing.assert_array_equal(
        _run(out.read_bytes(), x), _run(_plan(graph, new, refittable=False), x)
    )
    sidecar = json.loads(Path(f"{out}.json").read_text())
    assert sidecar["refit"]["weights"] == ["conv.bias", "conv.weight", "fc.bias", "fc.weight"]
    assert sidecar["engine_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert sidecar["check"]["level"] == "emulated"


def _checkpoint(path: Path, model: Path, change: Callable[[dict[str, np.ndarray]], None]) -> str:
    weights = dict(random_weights(load_model(str(model)), seed=2))
    change(weights)
    save_file(weights, str(path))
    return str(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda w: w.pop("fc.bias"), r"1 missing .*: missing fc.bias \(float32 \(5,\)\)$"),
        (
            lambda w: w.update({"fc.extra": np.zeros(2, np.float32)}),
            r"1 unexpected .*: unexpected fc.extra",
        ),
        (
            lambda w: w.update({"conv.weight": np.zeros((4, 3, 5, 5), np.float32)}),
            r"1 wrong shape .*: shape conv.weight: expected \(4, 3, 3, 3\), got \(4, 3, 5, 5\)",
        ),
    ],
    ids=["missing", "extra", "shape"],
)
def test_cli_refit_refuses_a_checkpoint_that_does_not_bind(
    tmp_path: Path,
    tiny_model: Path,
    cli: Callable[..., object],
    change,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    engine = _emulated_engine(tmp_path, tiny_model)
    weights = _checkpoint(tmp_path / "bad.safetensors", tiny_model, change)
    out = tmp_path / "out.engine"
    result = cli(
        "refit", str(engine), "--model", str(tiny_model), "--weights", weights, "-o", str(out)
    )
    assert result.code == 2  # type: ignore[attr-defined]
    (line,) = result.err.splitlines()  # type: ignore[attr-defined]
    assert line.startswith("trtdsl: error: weights ")
    assert re.search(message, line), line
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_cli_refit_usage_errors(tmp_path: Path, tiny_model: Path, cli, write_model) -> None:  # type: ignore[no-untyped-def]
    new = _checkpoint(tmp_path / "new.safetensors", tiny_model, lambda w: None)
    out = str(tmp_path / "out.engine")

    def refused(expected: str, *argv: str) -> None:
        result = cli("refit", *argv, "--weights", new, "-o", out)
        assert result.code == 2 and expected in result.err, result.err
        assert len(result.err.splitlines()) == 1
        assert not Path(out).exists()

    engine = str(_emulated_engine(tmp_path, tiny_model, refittable=False))
    refused("was built without --refittable", engine)
    refused("none.engine: no such file", str(tmp_path / "none.engine"))
    engine = str(_emulated_engine(tmp_path, tiny_model))
    refused("records the model", engine)  # a model file is never taken from the sidecar
    other = write_model("other.yaml", tiny_model.read_text().replace("features: 5", "features: 6"))
    refused("not the model", engine, "--model", str(other))
    Path(f"{engine}.json").unlink()
    refused("this command needs the sidecar", engine)


# -- real TensorRT ----------------------------------------------------------------------------


@pytest.mark.rtx
def test_tensorrt_rtx_refuses_refittable_builds_without_a_gpu(tiny_model: Path) -> None:
    """TensorRT-RTX 1.7 on a machine without a GPU: REFIT (and REFIT_IDENTICAL, REFIT_INDIVIDUAL,
    STRIP_PLAN) builds of a network with weights fail in Myelin, which needs CUDA."""
    from trtdsl.runtime.cuda import gpu_compute_capability

    if gpu_compute_capability()[0] is not None:
        pytest.skip("a GPU is visible: TensorRT-RTX may build refittable engines here")
    rtx = import_trt("tensorrt-rtx")
    graph = load_model(str(tiny_model))
    prepared, weights = prepare_graph(graph, random_weights(graph))
    with pytest.raises(BackendError, match=r"TensorRT failed to build 'tiny': .*Myelin"):
        build_network(emit_network(rtx, prepared, weights), BuildConfig(refittable=True))
    assert build_network(emit_network(rtx, prepared, weights), BuildConfig()).plan[:4] == b"vtrt"


@pytest.mark.tensorrt
def test_refit_on_real_tensorrt(
    tmp_path: Path, tiny_model: Path, cli: Callable[..., object]
) -> None:
    """compile --refittable, refit, and compare with a fresh build, on the engine itself."""
    from trtdsl.runtime.cuda import gpu_compute_capability

    if gpu_compute_capability()[0] is None:
        pytest.skip(
            "TensorRT-RTX 1.7 builds refittable engines only with a GPU (Myelin needs CUDA)"
        )
    engine, fresh = tmp_path / "old.engine", tmp_path / "fresh.engine"
    new = _checkpoint(tmp_path / "new.safetensors", tiny_model, lambda w: None)
    assert (
        cli(
            "compile", str(tiny_model), "--weights", "random", "--refittable", "-o", str(engine)
        ).code
        == 0
    )  # type: ignore[attr-defined]
    assert cli("compile", str(tiny_model), "--weights", new, "-o", str(fresh)).code == 0  # type: ignore[attr-defined]
    out = tmp_path / "refitted.engine"
    result = cli("refit", str(engine), "--model", str(tiny_model), "--weights", new, "-o", str(out))
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    from trtdsl import Engine

    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    with Engine.load(out) as refitted, Engine.load(fresh) as built:
        np.testing.assert_allclose(
            refitted(x=x)["logits"], built(x=x)["logits"], rtol=1e-5, atol=1e-6
        )
