"""Seeded random weights: exact keys and shapes, torch-like scales, per-key stability."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

from trtdsl import ModelBuilder
from trtdsl.errors import WeightError
from trtdsl.ir.graph import Graph
from trtdsl.weights import load_weights, parse_random_spec, random_weights


def resnet_stem(extra_layer: bool = False) -> Graph:
    b = ModelBuilder("stem")
    x = b.input("x", (1, 3, 16, 16))
    y = b.conv2d(x, out_channels=64, kernel_size=7, stride=2, padding=3, bias=False, name="conv1")
    y = b.batch_norm2d(y, name="bn1")
    y = b.relu(y, name="relu")
    if extra_layer:
        y = b.conv2d(y, out_channels=64, kernel_size=1, name="extra")
    y = b.conv2d(y, out_channels=32, kernel_size=3, groups=4, padding=1, name="layer1.0.conv2")
    y = b.adaptive_avg_pool2d(y, output_size=1, name="avgpool")
    y = b.flatten(y, name="flatten")
    y = b.linear(y, out_features=1000, name="fc")
    b.output(y, "logits")
    return b.build()


def test_keys_shapes_and_dtypes_match_the_graph() -> None:
    graph = resnet_stem()
    weights = random_weights(graph, seed=1)
    expected = {k: s.shape for k, _n, _r, s in graph.params() if not s.optional}
    assert {k: v.shape for k, v in weights.items()} == expected
    assert "bn1.num_batches_tracked" not in weights
    assert all(v.dtype == np.float32 for v in weights.values())
    assert list(weights) == list(expected)


def test_scales_follow_torch_default_init() -> None:
    w = random_weights(resnet_stem(), seed=0)
    bound = 1 / math.sqrt(3 * 7 * 7)
    assert np.abs(w["conv1.weight"]).max() <= bound
    assert np.abs(w["conv1.weight"]).max() > 0.9 * bound  # fills the range
    grouped = 1 / math.sqrt(16 * 3 * 3)  # groups=4: fan_in = 64/4 * 3 * 3
    assert grouped * 0.9 < np.abs(w["layer1.0.conv2.weight"]).max() <= grouped
    assert np.abs(w["layer1.0.conv2.bias"]).max() <= grouped
    fc = 1 / math.sqrt(32)  # fc follows the 32-channel conv
    assert np.abs(w["fc.weight"]).max() <= fc and np.abs(w["fc.bias"]).max() <= fc
    assert abs(float(w["fc.weight"].mean())) < 0.01
    assert np.all((w["bn1.weight"] >= 0.9) & (w["bn1.weight"] <= 1.1))
    assert np.abs(w["bn1.bias"]).max() <= 0.1 and np.abs(w["bn1.running_mean"]).max() <= 0.1
    assert np.all((w["bn1.running_var"] >= 0.5) & (w["bn1.running_var"] <= 1.5))
    assert np.std(w["bn1.running_var"]) > 0.1


def test_same_seed_same_values_other_seed_other_values() -> None:
    a, b, c = (random_weights(resnet_stem(), seed) for seed in (7, 7, 8))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
        assert not np.array_equal(a[key], c[key])


def test_adding_a_layer_leaves_other_layers_unchanged() -> None:
    before = random_weights(resnet_stem(), seed=3)
    after = random_weights(resnet_stem(extra_layer=True), seed=3)
    assert set(after) - set(before) == {"extra.weight", "extra.bias"}
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value)


def test_values_are_pinned_across_platforms() -> None:
    """PCG64 and Generator.random are platform-independent; pin a digest to catch changes."""
    weights = random_weights(resnet_stem(), seed=0)
    digest = hashlib.sha256()
    for key in sorted(weights):
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(weights[key], "<f4").tobytes())
    assert weights["fc.bias"][:3].tolist() == pytest.approx(PINNED_FC_BIAS, abs=0)
    assert digest.hexdigest() == PINNED_DIGEST


PINNED_FC_BIAS = [0.0058478135615587234, 0.08688361942768097, 0.09528575837612152]
PINNED_DIGEST = "5e44870820becf19c4b7711e826d9378b8a1a996e73fd6ec1eede5b34d89a4f5"


def test_each_key_draws_from_its_own_documented_stream() -> None:
    key_hash = int.from_bytes(hashlib.sha256(b"fc.bias").digest()[:8], "little")
    rng = np.random.default_rng([4, key_hash])
    bound = 1 / math.sqrt(32)
    expected = (-bound + 2 * bound * rng.random(1000)).astype(np.float32)
    np.testing.assert_array_equal(random_weights(resnet_stem(), seed=4)["fc.bias"], expected)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3"])
def test_bad_seeds(seed: object) -> None:
    with pytest.raises(WeightError, match="seed must be a non-negative int"):
        random_weights(resnet_stem(), seed=seed)  # type: ignore[arg-type]


def test_load_weights_random_specs() -> None:
    graph = resnet_stem()
    default = load_weights("random", graph)
    assert default.source == "random:0"
    seeded = load_weights("random:5", graph)
    assert seeded.source == "random:5"
    np.testing.assert_array_equal(seeded.arrays["fc.weight"], random_weights(graph, 5)["fc.weight"])
    assert "weights: random:5" in seeded.report()


def test_random_weights_ignore_the_models_rename_rules() -> None:
    b = ModelBuilder("renamed")
    x = b.input("x", (1, 3))
    b.output(b.linear(x, out_features=2, name="fc"), "y")
    b.rename_weights(r"^fc\.", "head.")  # a rule that would break native keys
    bound = load_weights("random:1", b.build())
    assert set(bound.arrays) == {"fc.weight", "fc.bias"}


@pytest.mark.parametrize("spec", ["random:abc", "random:", "random:-1", "random:1.5", "random:٣"])
def test_bad_random_specs(spec: str) -> None:
    with pytest.raises(
        WeightError, match=r"expected random or random:SEED with SEED a non-negative integer"
    ):
        load_weights(spec, resnet_stem())


def test_parse_random_spec() -> None:
    assert parse_random_spec("random") == 0
    assert parse_random_spec("random:42") == 42
    assert parse_random_spec("randomness.safetensors") is None
    assert parse_random_spec("w.safetensors") is None
