"""Every zoo model on NVIDIA's real builder (TensorRT-RTX on the CPU) at fp32, fp16 and bf16.

Each model, with seeded random weights, is prepared at the precision, emitted into a real
INetworkDefinition and built into a real engine (plan magic b"vtrt"; its profile is the model's
declared one: the batch, the segmenters' image size, BERT's and GPT-2's sequence length), and
the emulator's network must equal the real one layer by layer (``assert_same_network`` from
test_rtx_ops.py).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from test_rtx_ops import PLAN_MAGIC, PRECISIONS, emit_both

from trtdsl.backends.trt import BuildConfig, build_engine, prepare_graph
from trtdsl.frontend.load import load_model, zoo_models
from trtdsl.ir.graph import Graph
from trtdsl.ir.types import Precision
from trtdsl.weights import random_weights

MODELS = zoo_models()


def test_the_zoo_has_its_models() -> None:
    assert len(MODELS) >= 26
    assert {"resnet50", "vit_b_16", "yolov8n", "bert_base_uncased", "gpt2"} <= set(MODELS)


@functools.lru_cache(maxsize=1)  # one model's weights at a time (VGG-16's are 0.5 GB)
def _model(name: str) -> tuple[Graph, dict[str, np.ndarray]]:
    graph = load_model(name)
    return graph, random_weights(graph)


@pytest.mark.rtx
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("model", MODELS)  # varies slowest: one model's weights at a time
def test_model_builds_and_matches_the_emulator(model: str, precision: str) -> None:
    graph, weights = prepare_graph(*_model(model), precision)
    _, real = emit_both(graph, weights)
    plan = build_engine(real, BuildConfig(precision=Precision.parse(precision)))
    assert plan[:4] == PLAN_MAGIC
