"""The emulated Refitter: a refittable emulated engine refitted with new weights computes what a
fresh build with those weights computes, bit for bit; misuse is refused as TensorRT does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trtdsl import BuildConfig, emit_network, import_trt, load_model, prepare_graph, random_weights
from trtdsl.backends.trt import build_network
from trtdsl.backends.trt.module import shared_logger
from trtdsl.runtime.engines import deserialize
from trtdsl.runtime.runner import EngineRunner

trt = import_trt("emulated")


def _build(graph, weights, precision: str = "fp32", refittable: bool = True):  # type: ignore[no-untyped-def]
    prepared, prepared_weights = prepare_graph(graph, weights, precision)
    emitted = emit_network(trt, prepared, prepared_weights)
    config = BuildConfig(precision=precision, refittable=refittable)
    return build_network(emitted, config).plan, emitted


def _run(engine, x: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    with EngineRunner(engine, trt, "host") as runner:
        return runner.infer({"x": x})["logits"]


@pytest.mark.parametrize("precision", ["fp32", "fp16", "bf16"])
def test_refit_equals_a_fresh_build(tiny_model: Path, precision: str) -> None:
    graph = load_model(str(tiny_model))
    old, new = random_weights(graph, seed=0), random_weights(graph, seed=1)
    plan, _ = _build(graph, old, precision)
    fresh, _ = _build(graph, new, precision, refittable=False)
    _, emitted_new = _build(graph, new, precision)
    engine = deserialize(plan, trt, "old").engine
    context_before = engine.create_execution_context()
    refitter = trt.Refitter(engine, shared_logger(trt).trt_logger)
    assert sorted(refitter.get_all_weights()) == [
        "conv.bias",
        "conv.weight",
        "fc.bias",
        "fc.weight",
    ]
    for name in refitter.get_all_weights():
        prototype = refitter.get_weights_prototype(name)
        given = emitted_new.named_weights[name]
        assert prototype.size == given.size
        assert refitter.set_named_weights(name, given)
    assert refitter.get_missing_weights() == []
    assert refitter.refit_cuda_engine()
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    want = _run(deserialize(fresh, trt, "fresh").engine, x)
    np.testing.assert_array_equal(_run(engine, x), want)
    np.testing.assert_array_equal(
        _run(deserialize(bytes(engine.serialize()), trt, "s").engine, x), want
    )
    assert context_before.engine is engine  # contexts stay valid


def test_refit_by_layer_and_role(tiny_model: Path) -> None:
    graph = load_model(str(tiny_model))
    plan, emitted = _build(graph, random_weights(graph, seed=0))
    engine = deserialize(plan, trt, "e").engine
    refitter = trt.Refitter(engine, shared_logger(trt).trt_logger)
    layers, roles = refitter.get_all()
    assert list(zip(layers, roles, strict=True))[:2] == [
        ("conv", trt.WeightsRole.KERNEL),
        ("conv", trt.WeightsRole.BIAS),
    ]
    zeros = np.zeros(4, np.float32)
    assert refitter.set_weights("conv", trt.WeightsRole.BIAS, zeros)
    assert refitter.refit_cuda_engine()
    assert not refitter.set_weights("conv", trt.WeightsRole.SCALE, zeros)


def test_misuse_is_refused(tiny_model: Path) -> None:
    graph = load_model(str(tiny_model))
    logger = trt.Logger()
    plan, _ = _build(graph, random_weights(graph), refittable=False)
    engine = deserialize(plan, trt, "e").engine
    assert not engine.refittable
    with pytest.raises(RuntimeError, match="not built refittable"):
        trt.Refitter(engine, logger)
    plan, _ = _build(graph, random_weights(graph))
    engine = deserialize(plan, trt, "e").engine
    assert engine.refittable
    refitter = trt.Refitter(engine, logger)
    assert not refitter.set_named_weights("conv.weight", np.zeros(5, np.float32))  # count
    assert not refitter.set_named_weights("conv.bias", np.zeros(4, np.float16))  # type
    assert not refitter.set_named_weights("nope", np.zeros(4, np.float32))
    assert refitter.get_weights_prototype("nope").size == -1
    with pytest.raises(TypeError):
        refitter.set_named_weights(1, np.zeros(4, np.float32))  # type: ignore[arg-type]
    refitter.weights_validation = False
    assert refitter.set_named_weights("conv.bias", np.zeros(4, np.float32))
    assert refitter.unset_named_weights("conv.bias")
    assert not refitter.unset_named_weights("conv.bias")
