"""trtdsl.Engine: load an engine and call it with NumPy arrays (emulated plans here; TensorRT-RTX
engines refuse to load on a machine that cannot run them, with the CLI's error)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import trtdsl
from trtdsl import (
    BuildConfig,
    Engine,
    emit_network,
    import_trt,
    load_model,
    prepare_graph,
    random_weights,
    run_reference,
)
from trtdsl.backends.trt import build_network
from trtdsl.errors import EngineNotRunnableError, FileError, UsageError


@pytest.fixture
def dynamic_model(tiny_model: Path, write_model) -> Path:  # type: ignore[no-untyped-def]
    text = tiny_model.read_text().replace("[2, 3, 8, 8]", "[N, 3, 8, 8]")
    return write_model(
        "dyn.yaml", text.replace("inputs:", "dims:\n  N: {min: 1, opt: 2, max: 4}\ninputs:")
    )


@pytest.fixture
def emulated_engine(tmp_path: Path, dynamic_model: Path) -> Path:
    graph = load_model(str(dynamic_model))
    prepared, weights = prepare_graph(graph, random_weights(graph))
    plan = build_network(
        emit_network(import_trt("emulated"), prepared, weights), BuildConfig()
    ).plan
    path = tmp_path / "dyn.engine"
    path.write_bytes(plan)
    return path


def _reference(model: Path, x: np.ndarray) -> np.ndarray:
    graph = load_model(str(model))
    return run_reference(graph, random_weights(graph), {"x": x})["logits"]


def test_engine_is_public_and_documented() -> None:
    assert trtdsl.Engine is Engine and "Thread safety" in (Engine.__doc__ or "")


def test_call_with_dynamic_shapes_reuses_buffers(
    emulated_engine: Path, dynamic_model: Path
) -> None:
    with Engine.load(emulated_engine) as engine:
        assert engine.emulated and "emulated" in engine.description
        assert list(engine.inputs) == ["x"] and list(engine.outputs) == ["logits"]
        assert engine.inputs["x"].profile == ((1, 3, 8, 8), (2, 3, 8, 8), (4, 3, 8, 8))
        rng = np.random.default_rng(0)
        buffers = None
        for batch in (4, 1, 3, 4):
            x = rng.standard_normal((batch, 3, 8, 8)).astype(np.float32)
            for out in (engine(x=x), engine({"x": x}), engine(x)):
                assert out["logits"].shape == (batch, 5)
                np.testing.assert_allclose(
                    out["logits"], _reference(dynamic_model, x), rtol=1e-5, atol=1e-6
                )
            current = {name: buf.ptr for name, buf in engine._runner._buffers.items()}
            assert buffers is None or current == buffers  # sized for batch 4 once, then reused
            buffers = current


def test_errors_are_the_clis(emulated_engine: Path, tmp_path: Path) -> None:
    engine = Engine.load(emulated_engine)
    with pytest.raises(
        UsageError,
        match=r"input x: shape \(5, 3, 8, 8\) rejected "
        r"\(profile 0 allows \(1, 3, 8, 8\) to \(4, 3, 8, 8\)\)",
    ):
        engine(x=np.zeros((5, 3, 8, 8), np.float32))
    with pytest.raises(
        UsageError, match=r"engine inputs are \['x'\]; missing \['x'\]; unknown \['y'\]"
    ):
        engine(y=np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(UsageError, match=r"input x: expected dtype float32, got int32"):
        engine(x=np.zeros((1, 3, 8, 8), np.int32))
    assert engine(x=np.zeros((2, 3, 8, 8), np.float32))["logits"].shape == (2, 5)  # still usable
    engine.close()
    engine.close()
    with pytest.raises(UsageError, match="is closed"):
        engine(x=np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(FileError, match=r"missing.engine: no such file"):
        Engine.load(tmp_path / "missing.engine")


def test_concurrent_calls_are_serialized_and_correct(
    emulated_engine: Path, dynamic_model: Path
) -> None:
    engine = Engine.load(emulated_engine)
    rng = np.random.default_rng(1)
    batches = [rng.standard_normal((1 + i % 4, 3, 8, 8)).astype(np.float32) for i in range(16)]
    want = [_reference(dynamic_model, x) for x in batches]
    got: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        got[i] = engine(x=batches[i])["logits"]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, expected in enumerate(want):
        np.testing.assert_allclose(got[i], expected, rtol=1e-5, atol=1e-6)
    engine.close()


def test_from_bytes(emulated_engine: Path) -> None:
    with Engine.from_bytes(emulated_engine.read_bytes()) as engine:
        assert "trtdsl.Engine 'the plan'" in repr(engine)


@pytest.mark.rtx
def test_a_tensorrt_rtx_engine_that_cannot_run_here_is_refused(
    tmp_path: Path, tiny_model: Path, cli: Callable[..., object]
) -> None:
    from trtdsl.runtime.engines import machine_gpu

    out = tmp_path / "tiny.engine"
    result = cli(
        "compile",
        str(tiny_model),
        "--weights",
        "random",
        "--backend",
        "tensorrt-rtx",
        "--no-check",
        "-o",
        str(out),
    )
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    if machine_gpu(import_trt("tensorrt-rtx"))[0] is not None:
        pytest.skip("this machine can run TensorRT-RTX engines")
    with pytest.raises(
        EngineNotRunnableError,
        match=r"is a TensorRT-RTX .* engine built for .*; this machine cannot run it",
    ):
        Engine.load(out)


@pytest.mark.tensorrt
def test_real_engine_matches_the_reference(
    tmp_path: Path, tiny_model: Path, cli: Callable[..., object]
) -> None:
    """On a machine that runs the engine (skipped at Engine.load elsewhere)."""
    out = tmp_path / "tiny.engine"
    result = cli("compile", str(tiny_model), "--weights", "random", "--no-check", "-o", str(out))
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    with Engine.load(out) as engine:
        np.testing.assert_allclose(
            engine(x=x)["logits"], _reference(tiny_model, x), rtol=1e-4, atol=1e-5
        )


@pytest.mark.gpu
def test_emulated_engine_through_device_memory(emulated_engine: Path, dynamic_model: Path) -> None:
    """Level 3 (GPU without TensorRT): the Engine's device buffers (cuda-python), reused across
    calls and shapes, with the emulated plan; concurrent calls stay correct."""
    with Engine.load(emulated_engine, memory="device") as engine:
        assert "device memory" in repr(engine)
        rng = np.random.default_rng(2)
        first = None
        for batch in (4, 2, 1, 4, 3):
            x = rng.standard_normal((batch, 3, 8, 8)).astype(np.float32)
            got = engine(x=x)["logits"]
            np.testing.assert_allclose(got, _reference(dynamic_model, x), rtol=1e-5, atol=1e-6)
            pointers = {name: buf.ptr for name, buf in engine._runner._buffers.items()}
            assert first is None or pointers == first
            first = pointers
        results: dict[int, np.ndarray] = {}
        batches = [rng.standard_normal((1 + i % 4, 3, 8, 8)).astype(np.float32) for i in range(8)]
        threads = [
            threading.Thread(
                target=lambda i=i: results.__setitem__(i, engine(x=batches[i])["logits"])
            )
            for i in range(len(batches))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, x in enumerate(batches):
            np.testing.assert_allclose(
                results[i], _reference(dynamic_model, x), rtol=1e-5, atol=1e-6
            )
