"""Building engines: BuildConfig, profiles, progress, failures, timing cache, atomic writes,
and ResNet-50 end to end (emulated, and on real TensorRT where present)."""

from __future__ import annotations

import os
from types import ModuleType

import numpy as np
import pytest

from trtdsl import ModelBuilder
from trtdsl.backends.reference import run_reference
from trtdsl.backends.trt import (
    BuildConfig,
    BuildProgress,
    ShapeRange,
    build_engine,
    build_network,
    emit_network,
    import_trt,
    parse_shapes,
    prepare_graph,
    profile_shapes,
)
from trtdsl.backends.trt import build as build_module
from trtdsl.backends.trt.module import has_timing_cache, shared_logger
from trtdsl.debug.check import output_errors, run_plan
from trtdsl.errors import BackendError, UsageError
from trtdsl.frontend.load import load_model
from trtdsl.ir.graph import Graph
from trtdsl.weights import random_weights

MODULES = [
    pytest.param("emulated", id="emulated"),
    pytest.param("auto", id="tensorrt", marks=pytest.mark.tensorrt),
]
"""The emulator, and the real TensorRT module here (TensorRT, else TensorRT-RTX): tests that
run an engine skip where it needs a GPU this machine lacks (conftest.py)."""


@pytest.fixture(params=MODULES)
def trt(request: pytest.FixtureRequest) -> ModuleType:
    return import_trt(request.param)


def _dynamic_model() -> Graph:
    b = ModelBuilder("dyn")
    x = b.input("x", ("N", 2, 5, 5), dims={"N": (1, 2, 4)})
    y = b.conv2d(x, out_channels=3, kernel_size=3, name="conv")
    y = b.relu(y, name="relu")
    b.output(y, "y")
    return b.build()


# -- configuration -------------------------------------------------------------------------------


def test_parse_shapes_reads_ranges_and_fixed_shapes() -> None:
    shapes = parse_shapes(["x=1x3x8x8:2x3x8x8:4x3x8x8", "mask=1x8"])
    assert shapes["x"] == ShapeRange((1, 3, 8, 8), (2, 3, 8, 8), (4, 3, 8, 8))
    assert shapes["mask"] == ShapeRange((1, 8), (1, 8), (1, 8))
    with pytest.raises(UsageError, match=r"--shape 'x=1x3:2x3': expected NAME=MIN"):
        parse_shapes(["x=1x3:2x3"])
    with pytest.raises(UsageError, match="dimensions must be integers"):
        parse_shapes(["x=1xCx8"])
    with pytest.raises(UsageError, match=r"expected min <= opt <= max"):
        parse_shapes(["x=4x3:2x3:8x3"])


def test_profile_shapes_default_to_declared_ranges_and_are_checked() -> None:
    graph = _dynamic_model()
    assert profile_shapes(graph, BuildConfig()) == {
        "x": ShapeRange((1, 2, 5, 5), (2, 2, 5, 5), (4, 2, 5, 5))
    }
    given = BuildConfig(shapes=parse_shapes(["x=1x2x5x5:8x2x5x5:16x2x5x5"]))
    assert profile_shapes(graph, given)["x"].max == (16, 2, 5, 5)  # the library may go beyond
    with pytest.raises(UsageError, match=r"max shape 4x3x5x5 of input 'x' does not fit .*Nx2x5x5"):
        profile_shapes(graph, BuildConfig(shapes=parse_shapes(["x=1x2x5x5:2x2x5x5:4x3x5x5"])))
    with pytest.raises(UsageError, match=r"unknown input\(s\) 'y'"):
        profile_shapes(graph, BuildConfig(shapes=parse_shapes(["y=1x2"])))


def test_build_config_validates_and_describes_itself() -> None:
    config = BuildConfig(precision="tf32", workspace=1 << 30, optimization_level=5)
    assert config.to_dict()["tf32"] is True and config.to_dict()["precision"] == "tf32"
    assert "workspace=1073741824" in config.describe()
    with pytest.raises(UsageError, match="builder optimization level must be 0..5, got 7"):
        BuildConfig(optimization_level=7)
    with pytest.raises(UsageError, match="workspace must be a positive number of bytes"):
        BuildConfig(workspace=0)


# -- building ------------------------------------------------------------------------------------


def test_dynamic_batch_engine_runs_at_several_batch_sizes(trt: ModuleType) -> None:
    graph = _dynamic_model()
    weights = random_weights(graph)
    plan = build_engine(emit_network(trt, graph, weights))
    assert isinstance(plan, bytes) and plan
    rng = np.random.default_rng(0)
    for batch in (1, 4):
        x = rng.standard_normal((batch, 2, 5, 5)).astype(np.float32)
        got = run_plan(trt, plan, {"x": x})["y"]
        np.testing.assert_allclose(got, run_reference(graph, weights, {"x": x})["y"], 1e-5, 1e-5)


def test_progress_is_reported_and_an_error_in_the_callback_cancels(trt: ModuleType) -> None:
    graph = _dynamic_model()
    events: list[BuildProgress] = []
    build_engine(emit_network(trt, graph, random_weights(graph)), progress=events.append)
    assert events, "the builder reported no progress"
    assert any(e.finished for e in events)

    def fail(event: BuildProgress) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_engine(emit_network(trt, graph, random_weights(graph)), progress=fail)


def test_failed_build_raises_with_tensorrt_errors(
    trt: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without an optimization profile a network with a dynamic input cannot be built.
    monkeypatch.setattr(build_module, "profile_shapes", lambda graph, config: {})
    graph = _dynamic_model()
    with pytest.raises(BackendError, match=r"TensorRT failed to build 'dyn': .*profile"):
        build_engine(emit_network(trt, graph, random_weights(graph)))


def test_timing_cache_is_written_after_the_build(trt: ModuleType, tmp_path: os.PathLike) -> None:
    graph = _dynamic_model()
    cache = os.path.join(tmp_path, "model.cache")
    config = BuildConfig(timing_cache=cache)
    result = build_network(emit_network(trt, graph, random_weights(graph)), config)
    if not has_timing_cache(trt):  # TensorRT-RTX: timing-cache calls are no-ops
        assert not os.path.exists(cache)
        assert "has no timing cache" in result.notes[0] and cache in result.notes[0]
        return
    assert os.path.exists(cache) and not result.notes
    build_engine(emit_network(trt, graph, random_weights(graph)), config)


def test_an_unreadable_timing_cache_is_never_overwritten(
    tmp_path: os.PathLike, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As TensorRT does when a cache is from another GPU: it logs errors and hands back an
    empty cache; trtdsl must not then save that empty cache over the user's file."""
    trt = import_trt("emulated")
    original = trt.IBuilderConfig.create_timing_cache
    logger = shared_logger(trt)

    def create(self, blob):  # type: ignore[no-untyped-def]
        logger.record(trt.Logger.ERROR, "Timing cache header mismatch (stand-in for TensorRT)")
        return original(self, b"")

    monkeypatch.setattr(trt.IBuilderConfig, "create_timing_cache", create)
    cache = os.path.join(tmp_path, "model.cache")
    with open(cache, "wb") as f:
        f.write(b"a cache from another GPU")
    graph = _dynamic_model()
    result = build_network(
        emit_network(trt, graph, random_weights(graph)), BuildConfig(timing_cache=cache)
    )
    assert len(result.notes) == 1 and "could not read this timing cache" in result.notes[0]
    assert "left the file untouched" in result.notes[0] and "header mismatch" in result.notes[0]
    with open(cache, "rb") as f:
        assert f.read() == b"a cache from another GPU"


# -- ResNet-50 -----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.tensorrt
def test_resnet50_dynamic_batch_matches_reference() -> None:
    """On real TensorRT: one build with the model's dynamic batch profile (N = 1..8..32), runs
    at batch 1 and 4. Not repeated on the emulator, where it would only duplicate cheaper
    tests: the emulated ResNet-50 build and check (test_cli_compile's
    test_resnet50_emulated_compile_is_within_1e_4) and the emulator's dynamic batches
    (test_dynamic_batch_engine_runs_at_several_batch_sizes)."""
    trt = import_trt("auto")
    graph = load_model("resnet50")
    weights = random_weights(graph)
    prepared, prepared_weights = prepare_graph(graph, weights)
    plan = build_engine(emit_network(trt, prepared, prepared_weights))
    rng = np.random.default_rng(1)
    for batch in (1, 4):
        x = rng.standard_normal((batch, 3, 224, 224)).astype(np.float32)
        want = run_reference(graph, weights, {"x": x})
        errors = output_errors(run_plan(trt, plan, {"x": x}), want)["logits"]
        assert errors["max_rel"] < 1e-4, errors


def test_check_engine_reports_top5_of_classifier_logits() -> None:
    """check_engine's top-5 lists come from each side's own logits (not from each other)."""
    from trtdsl.debug.check import check_engine
    from trtdsl.debug.inputs import seeded_inputs
    from trtdsl.weights import random_weights

    b = ModelBuilder("clf")
    x = b.input("x", (2, 8))
    b.output(b.linear(x, out_features=12, name="fc"), "logits")
    graph = b.build()
    weights = random_weights(graph, seed=3)
    trt = import_trt("emulated")
    plan = build_engine(emit_network(trt, graph, weights), BuildConfig())
    result = check_engine(trt, plan, graph, weights, seeded_inputs(graph, 1, at="min"))
    logits = run_reference(graph, weights, seeded_inputs(graph, 1, at="min"))["logits"]
    expected = list(np.argsort(-logits[0])[:5])
    assert result["top5"]["logits"] == {"reference": expected, "engine": expected}
