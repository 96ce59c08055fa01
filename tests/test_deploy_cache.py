"""The engine cache: what its key depends on, one build per key across processes, entries
byte-identical to the build, and damaged or partial entries never used."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import numpy as np
import pytest

from trtdsl import BuildConfig, emit_network, import_trt, load_model, prepare_graph, random_weights
from trtdsl.backends.trt import BuildResult, build_network
from trtdsl.deploy.cache import EngineCache, cache_key
from trtdsl.errors import UsageError
from trtdsl.ir.types import ShapeRange


def _emitted(path: Path, seed: int = 0, config: BuildConfig | None = None):  # type: ignore[no-untyped-def]
    config = config or BuildConfig()
    graph = load_model(str(path))
    weights = random_weights(graph, seed=seed)
    prepared, prepared_weights = prepare_graph(graph, weights, config.precision, config.keep_fp32)
    return emit_network(import_trt("emulated"), prepared, prepared_weights)


@pytest.fixture
def dynamic_model(tiny_model: Path, write_model) -> Path:  # type: ignore[no-untyped-def]
    """The tiny model with a dynamic batch N in 1..4 (opt 2)."""
    text = tiny_model.read_text().replace("[2, 3, 8, 8]", "[N, 3, 8, 8]")
    return write_model(
        "dyn.yaml", text.replace("inputs:", "dims:\n  N: {min: 1, opt: 2, max: 4}\ninputs:")
    )


def test_key_is_stable_and_changes_with_what_changes_the_engine(dynamic_model: Path) -> None:
    base = BuildConfig()
    key = cache_key(_emitted(dynamic_model), base).digest
    assert cache_key(_emitted(dynamic_model), base).digest == key  # a new emission, same key
    variants = {
        "weights": cache_key(_emitted(dynamic_model, seed=1), base),
        "precision": cache_key(
            _emitted(dynamic_model, config=BuildConfig(precision="fp16")),
            BuildConfig(precision="fp16"),
        ),
        "keep_fp32": cache_key(
            _emitted(dynamic_model, config=BuildConfig(precision="fp16", keep_fp32=("fc",))),
            BuildConfig(precision="fp16", keep_fp32=("fc",)),
        ),
        "profile": cache_key(
            _emitted(dynamic_model),
            BuildConfig(shapes={"x": ShapeRange((1, 3, 8, 8), (4, 3, 8, 8), (4, 3, 8, 8))}),
        ),
        "refittable": cache_key(_emitted(dynamic_model), BuildConfig(refittable=True)),
        "opt level": cache_key(_emitted(dynamic_model), BuildConfig(optimization_level=1)),
        "workspace": cache_key(_emitted(dynamic_model), BuildConfig(workspace=1 << 20)),
    }
    digests = {name: k.digest for name, k in variants.items()}
    assert key not in digests.values()
    assert len(set(digests.values())) == len(digests)


def test_key_leaves_out_the_timing_cache_and_keeps_a_calibration_field(
    dynamic_model: Path,
) -> None:
    emitted = _emitted(dynamic_model)
    key = cache_key(emitted, BuildConfig())
    assert cache_key(emitted, BuildConfig(timing_cache="t.cache")).digest == key.digest
    assert key.fields["calibration"] is None
    assert cache_key(emitted, BuildConfig(), calibration="ab" * 32).digest != key.digest
    assert key.fields["product"] == "trtdsl TensorRT emulator"
    assert key.fields["profiles"] == {"x": "1x3x8x8:2x3x8x8:4x3x8x8"}


def test_marked_debug_outputs_change_the_key(dynamic_model: Path) -> None:
    from trtdsl.runtime.engines import mark_debug_outputs

    plain = _emitted(dynamic_model)
    marked = _emitted(dynamic_model)
    assert mark_debug_outputs(marked.network, ["relu"]) == 1
    assert cache_key(plain, BuildConfig()).digest != cache_key(marked, BuildConfig()).digest


def test_hit_returns_the_very_bytes_the_build_wrote(tmp_path: Path, tiny_model: Path) -> None:
    cache = EngineCache(tmp_path / "cache")
    emitted = _emitted(tiny_model)
    key = cache_key(emitted, BuildConfig())
    built, hit = cache.build(key, lambda: build_network(emitted), "tiny")
    assert not hit
    assert (tmp_path / "cache" / f"{key.digest}.engine").read_bytes() == built.plan
    again, hit = cache.build(key, _fail, "tiny")
    assert hit and again.plan == built.plan
    assert again.layer_information == built.layer_information
    (entry,) = cache.entries()
    assert entry.digest == key.digest and entry.record.model == "tiny"


def _fail() -> BuildResult:
    raise AssertionError("built although the engine is cached")


def test_damaged_entry_is_rebuilt_and_a_failed_build_leaves_nothing(
    tmp_path: Path, tiny_model: Path
) -> None:
    cache = EngineCache(tmp_path)
    emitted = _emitted(tiny_model)
    key = cache_key(emitted, BuildConfig())
    with pytest.raises(RuntimeError, match="boom"):
        cache.build(key, _boom, "tiny")
    assert cache.entries() == [] and cache.get(key) is None
    built, _ = cache.build(key, lambda: build_network(emitted), "tiny")
    engine = tmp_path / f"{key.digest}.engine"
    engine.write_bytes(built.plan[:-1] + b"x")  # damaged after the fact
    assert cache.get(key) is None
    rebuilt, hit = cache.build(key, lambda: build_network(emitted), "tiny")
    assert not hit and engine.read_bytes() == rebuilt.plan


def _boom() -> BuildResult:
    raise RuntimeError("boom")


def _build_in_process(directory: str, model: str, counter: str, out: str) -> None:
    emitted = _emitted(Path(model))

    def slow_build() -> BuildResult:
        with open(counter, "a") as f:
            f.write("built\n")
        time.sleep(1.0)  # the other process reaches the lock meanwhile
        return build_network(emitted)

    result, _ = EngineCache(directory).build(cache_key(emitted, BuildConfig()), slow_build, "tiny")
    Path(out).write_bytes(result.plan)


def test_concurrent_builds_of_one_key_build_once(tmp_path: Path, tiny_model: Path) -> None:
    context = multiprocessing.get_context("spawn")
    counter = tmp_path / "builds.txt"
    processes = [
        context.Process(
            target=_build_in_process,
            args=(str(tmp_path / "cache"), str(tiny_model), str(counter), str(tmp_path / f"{i}")),
        )
        for i in range(2)
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join(120)
        assert p.exitcode == 0
    assert counter.read_text().splitlines() == ["built"]
    plans = {(tmp_path / f"{i}").read_bytes() for i in range(2)}
    assert len(plans) == 1
    names = sorted(p.name for p in (tmp_path / "cache").iterdir() if p.is_file())
    assert [n.rsplit(".", 1)[1] for n in names] == ["engine", "json"]  # no temporary leftovers


def test_clear_removes_entries_only(tmp_path: Path, tiny_model: Path) -> None:
    cache = EngineCache(tmp_path)
    emitted = _emitted(tiny_model)
    result, _ = cache.build(cache_key(emitted, BuildConfig()), lambda: build_network(emitted), "t")
    (tmp_path / "notes.txt").write_text("mine")
    count, size = cache.clear()
    assert count == 1 and size > len(result.plan)
    assert cache.entries() == [] and (tmp_path / "notes.txt").read_text() == "mine"


def test_bad_directories_are_refused(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(UsageError, match=r"^--cache .*file: is a file, not a directory$"):
        EngineCache(a_file)
    with pytest.raises(UsageError, match=r"directory .*missing does not exist"):
        EngineCache(tmp_path / "missing" / "cache")
    with pytest.raises(UsageError, match=r"no such directory"):
        EngineCache(tmp_path / "absent", create=False)
    with pytest.raises(UsageError, match=r"^--cache /proc/self: is not writable"):
        EngineCache("/proc/self")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only directory")
def test_read_only_directory_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "ro"
    directory.mkdir(mode=0o555)
    with pytest.raises(UsageError, match="is not writable"):
        EngineCache(directory)


def test_plan_builder_goes_through_the_cache(tmp_path: Path, tiny_model: Path) -> None:
    from trtdsl.runtime.engines import build_in_memory

    cache = EngineCache(tmp_path)
    graph = load_model(str(tiny_model))
    weights = random_weights(graph)
    first = build_in_memory(graph, weights, "emulated", build=cache.plan_builder())
    assert cache.last_hit is False
    second = build_in_memory(graph, weights, "emulated", build=cache.plan_builder())
    assert cache.last_hit is True
    x = np.ones((2, 3, 8, 8), np.float32)
    from trtdsl.runtime.runner import EngineRunner

    outs = []
    for loaded in (first, second):
        with EngineRunner(loaded.engine, loaded.trt, "host") as runner:
            outs.append(runner.infer({"x": x})["logits"])
    np.testing.assert_array_equal(outs[0], outs[1])
