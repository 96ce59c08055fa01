"""Calibration executors and workers: every executor gives the same histograms for the same
activations and the same scales within float32 rounding otherwise; any number of workers gives
bit-identical results; errors name the earliest failing batch; ``auto`` never picks an engine
this machine cannot run; the marked-output network on TensorRT-RTX's real builder; the engine
executor through device memory on a GPU machine; memory that does not grow with the data."""

from __future__ import annotations

import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from trtdsl import ModelBuilder
from trtdsl.calibration import Calibration, CalibrationData, calibrate
from trtdsl.calibration.executors import Targets, auto_executor, open_executor
from trtdsl.calibration.histogram import TensorHistogram
from trtdsl.calibration.workers import run_workers
from trtdsl.errors import BackendError, CalibrationError
from trtdsl.frontend.load import load_model
from trtdsl.ir.graph import Graph
from trtdsl.passes.fold_bn import fold_batchnorm
from trtdsl.passes.quantize import plan_quantization
from trtdsl.weights import random_weights

pytest.importorskip("onnxruntime")

EXECUTORS = ("reference", "onnxruntime", "engine")
"""The engine runs emulated here (``backend="emulated"``); tests/gpu-marked ones run it on a GPU."""

DIGITS_LIKE = """\
name: residual
dims: {N: {min: 1, opt: 8, max: 64}}
inputs: {x: {shape: [N, 1, 8, 8], dtype: float32}}
layers:
  - {name: conv1, op: conv2d, out_channels: 8, kernel_size: 3, padding: 1, bias: false}
  - {name: bn1, op: batch_norm2d}
  - {name: relu1, op: relu}
  - {name: conv2, op: conv2d, out_channels: 8, kernel_size: 3, padding: 1, bias: false}
  - {name: bn2, op: batch_norm2d}
  - {name: add, op: add, inputs: [bn2, relu1]}
  - {name: relu2, op: relu}
  - {name: conv3, op: conv2d, out_channels: 16, kernel_size: 3, stride: 2, padding: 1}
  - {name: silu, op: silu}
  - {name: pool, op: adaptive_avg_pool2d, output_size: 1}
  - {name: flatten, op: flatten, start_dim: 1}
  - {name: fc, op: linear, out_features: 10}
outputs: {logits: fc}
"""


def _engine_options(executor: str) -> dict[str, str]:
    return {"backend": "emulated"} if executor == "engine" else {}


@pytest.fixture(scope="module")
def residual(tmp_path_factory: pytest.TempPathFactory) -> tuple[Graph, dict[str, np.ndarray], Path]:
    """The digits-like residual CNN with seeded weights and 40 centred 17-level images."""
    folder = tmp_path_factory.mktemp("residual")
    (folder / "m.yaml").write_text(DIGITS_LIKE)
    graph = load_model(folder / "m.yaml")
    rng = np.random.default_rng(0)
    x = (rng.integers(0, 17, (40, 1, 8, 8)) / 16 - 0.5).astype(np.float32)
    x[rng.random(x.shape) < 0.6] = -0.5
    np.save(folder / "x.npy", x)
    return graph, random_weights(graph, 0), folder / "x.npy"


def _calibrate(
    model: tuple[Graph, dict[str, np.ndarray], Path], executor: str, **options: object
) -> Calibration:
    graph, weights, data = model
    return calibrate(
        graph,
        weights,
        CalibrationData(data, graph),
        options.pop("method", "entropy"),  # type: ignore[arg-type]
        int(options.pop("batch_size", 8)),  # type: ignore[call-overload]
        executor=executor,
        **_engine_options(executor),
        **options,  # type: ignore[arg-type]
    )


def _same_scales(a: Calibration, b: Calibration, bins: float = 2.0) -> None:
    """Scales of two executors: statistics equal to float32 rounding, each amax within
    ``bins`` histogram bins (a value on a bin edge can tip the search) or 1e-5 relative."""
    assert a.amax.keys() == b.amax.keys()
    for name in a.amax:
        for key in ("min", "max"):
            assert a.stats[name][key] == pytest.approx(b.stats[name][key], rel=1e-5, abs=1e-6)
        assert a.stats[name]["count"] == b.stats[name]["count"]
        width = 2.0 ** math.frexp(max(a.amax[name], b.amax[name], 1e-30))[1] / 2048
        assert abs(a.amax[name] - b.amax[name]) <= max(bins * width, 1e-5 * a.amax[name]), name


@pytest.mark.parametrize("method", ["entropy", "max", "percentile", "mse"])
def test_every_executor_gives_the_same_scales(
    residual: tuple[Graph, dict[str, np.ndarray], Path], method: str
) -> None:
    results = {e: _calibrate(residual, e, method=method, workers=2) for e in EXECUTORS}
    reference = results["reference"]
    assert set(reference.amax) == {"x", "relu1", "relu2", "flatten"}
    assert reference.amax["x"] == 0.5 and reference.clipped["x"] == 0.0
    for executor, result in results.items():
        assert result.executor is not None and result.executor.startswith(executor)
        _same_scales(reference, result)
        assert result.amax["x"] == reference.amax["x"]  # the data itself: exact
    assert "emulated" in results["engine"].executor  # type: ignore[operator]


def _exact_model(batch: int | None = None) -> Graph:
    """Values every executor computes exactly (ReLU, max pooling, flattening): the histograms
    of the same data must be bit-equal. x and p feed convolutions (a grid-sampled feature map
    and the input), f a linear layer (a flat sample). ``batch``: inputs with a fixed batch."""
    b = ModelBuilder("exact")
    if batch is None:
        x = b.input("x", ("N", 4, 20, 20), dims={"N": (1, 8, 16)})
    else:
        x = b.input("x", (batch, 4, 20, 20))
    b.output(b.conv2d(x, out_channels=2, kernel_size=1, name="c1"), "a")
    p = b.max_pool2d(b.relu(x, name="r"), kernel_size=2, name="p")
    b.output(b.conv2d(p, out_channels=2, kernel_size=1, name="c2"), "b")
    f = b.flatten(b.max_pool2d(p, kernel_size=2, name="q"), name="f")
    b.output(b.linear(f, out_features=3, name="fc"), "c")
    return b.build()


def _histograms(
    graph: Graph, data: CalibrationData, executor: str, batch_size: int, workers: int
) -> dict[str, TensorHistogram]:
    from trtdsl.calibration.calibrate import sample_plans

    weights = random_weights(graph, 1)
    folded, folded_weights = fold_batchnorm(graph, weights)
    values = plan_quantization(folded).values
    targets = Targets(folded, sample_plans(folded, values, data, 97))
    runner = open_executor(
        executor, targets, graph, weights, folded_weights, batch_size=batch_size,
        **_engine_options(executor),
    )  # fmt: skip
    try:
        return run_workers(runner, data, batch_size, values, workers)
    finally:
        runner.close()


def test_histograms_are_bit_equal_for_the_same_activations(tmp_path: Path) -> None:
    """Every executor, batch size and worker count: the same counts, zeros, totals, min and
    max, bit for bit, with the grid and flat samples (97 values per sample and tensor); the
    one exception is the min of a non-negative value on onnxruntime (its binned values')."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((13, 4, 20, 20)) * rng.uniform(0.1, 30, (13, 4, 1, 1))).astype(
        np.float32
    )
    x[rng.random(x.shape) < 0.3] = 0.0
    np.save(tmp_path / "x.npy", x)
    graph = _exact_model()
    data = CalibrationData(tmp_path / "x.npy", graph)
    first = _histograms(graph, data, "reference", 4, 1)
    assert set(first) == {"x", "p", "f"}
    assert first["p"].binned < first["p"].total and first["f"].binned < first["f"].total
    runs = 0
    for executor in EXECUTORS:
        for batch_size, workers in ((1, 1), (5, 3), (13, 2)):
            other = _histograms(graph, data, executor, batch_size, workers)
            for name, histogram in first.items():
                mine, theirs = list(histogram.state()), list(other[name].state())
                if executor == "onnxruntime" and name != "x":
                    # p and f cannot be negative (ReLU, pooled): onnxruntime's executor takes
                    # their min from the binned values, not from all of them.
                    assert theirs[5] >= mine[5] >= 0
                    mine[5] = theirs[5]
                np.testing.assert_array_equal(mine[0], theirs[0])
                assert mine[1:] == theirs[1:], (executor, batch_size, workers, name)
            runs += 1
    assert runs == 9


def test_bounded_values_skip_the_minimum_on_onnxruntime(
    residual: tuple[Graph, dict[str, np.ndarray], Path], tmp_path: Path
) -> None:
    """Values an op bounds below (a ReLU's, a SiLU's pooled and flattened) need no exact
    minimum on onnxruntime: a small tensor's binned values are all of them, and a sampled
    map's amax is its max once that reaches the bound; a sampled map of a nearly dead SiLU
    layer (max below the bound) takes its amax from the binned values (close, never above)."""
    from trtdsl.calibration.executors.ort import lower_bounds

    graph, weights, data = residual
    folded, _ = fold_batchnorm(graph, weights)
    bounds = lower_bounds(folded)
    assert bounds["relu1"] == bounds["relu2"] == 0.0 and bounds["flatten"] == 0.2785
    assert "x" not in bounds and "bn2" not in bounds and "add" not in bounds  # bn2 + relu1
    sums = ModelBuilder("sums")
    x = sums.input("x", ("N", 2, 4, 4), dims={"N": (1, 4, 8)})
    a, c = sums.silu(x, name="a"), sums.relu(x, name="c")
    sums.output(sums.add(sums.add(a, a, name="aa"), c, name="aac"), "y")
    sums.output(sums.add(a, x, name="ax"), "z")
    sums.output(sums.add(c, other=-3.0, name="shifted"), "w")  # c - 3 >= -3, not >= 0
    summed = lower_bounds(sums.build())
    assert summed["aa"] == 2 * 0.2785 and summed["aac"] == 2 * 0.2785
    assert "ax" not in summed and "shifted" not in summed
    # A residual sum of SiLU maps (YOLO's C2f): observed without its minimum, same amax.
    res = ModelBuilder("residual_silu")
    x = res.input("x", ("N", 2, 130, 130), dims={"N": (1, 4, 8)})
    a = res.silu(res.conv2d(x, out_channels=4, kernel_size=1, name="ca"), name="a")
    b_ = res.silu(res.conv2d(a, out_channels=4, kernel_size=3, padding=1, name="cb"), name="b")
    res.output(res.conv2d(res.add(a, b_, name="sum"), out_channels=2, kernel_size=1), "y")
    model = res.build()
    np.save(
        tmp_path / "r.npy", np.random.default_rng(1).standard_normal((4, 2, 130, 130), np.float32)
    )
    scales = {
        executor: calibrate(
            model,
            random_weights(model, 0),
            CalibrationData(tmp_path / "r.npy", model),
            "max",
            4,
            executor=executor,
            workers=1,
        )
        for executor in ("reference", "onnxruntime")
    }
    assert "sum" in lower_bounds(fold_batchnorm(model, random_weights(model, 0))[0])
    assert scales["onnxruntime"].amax["sum"] == pytest.approx(
        scales["reference"].amax["sum"], rel=1e-5
    )
    b = ModelBuilder("dead")
    x = b.input("x", ("N", 2, 130, 130), dims={"N": (1, 4, 8)})
    y = b.silu(b.conv2d(x, out_channels=2, kernel_size=1, name="c1"), name="s")
    small = b.flatten(b.max_pool2d(y, kernel_size=26, name="p"), name="f")
    b.output(b.conv2d(y, out_channels=2, kernel_size=1, name="c2"), "y")
    b.output(b.linear(small, out_features=2, name="fc"), "z")
    dead = b.build()
    tiny = {k: v * np.float32(1e-3) for k, v in random_weights(dead, 0).items()}
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.standard_normal((4, 2, 130, 130)).astype(np.float32))
    found = {
        executor: calibrate(
            dead,
            tiny,
            CalibrationData(tmp_path / "x.npy", dead),
            "max",
            4,
            executor=executor,
            workers=1,
        )  # fmt: skip
        for executor in ("reference", "onnxruntime")
    }
    exact, ours = found["reference"], found["onnxruntime"]
    assert exact.amax["s"] < 0.01 and exact.stats["s"]["min"] < 0  # dead, signed
    assert ours.stats["f"]["min"] == pytest.approx(exact.stats["f"]["min"], rel=1e-5)
    assert 0.9 * exact.amax["s"] <= ours.amax["s"] <= exact.amax["s"]


def test_onnxruntime_observes_each_map_right_after_computing_it(
    residual: tuple[Graph, dict[str, np.ndarray], Path], tmp_path: Path
) -> None:
    """The augmented graph's leaves are ordered so that onnxruntime (default execution order,
    NCHWc layout) runs a map's observers before the network's next convolution, not after the
    whole network (which kept every observed map alive and out of cache): read from
    onnxruntime's own profile of one run."""
    import json

    import onnxruntime as ort

    from trtdsl.calibration.calibrate import sample_plans
    from trtdsl.calibration.executors.ort import augmented_model

    graph, weights, data = residual
    folded, folded_weights = fold_batchnorm(graph, weights)
    values = plan_quantization(folded).values
    plans = sample_plans(folded, values, CalibrationData(data, graph), 16)
    model, observed = augmented_model(Targets(folded, plans), folded_weights)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp_path / "profile")
    session = ort.InferenceSession(model.SerializeToString(), options)
    session.run(None, {"x": np.load(data)[:8]})
    events = json.loads(Path(session.end_profiling()).read_text())
    ran = [e["name"].removesuffix("_kernel_time") for e in events if e.get("cat") == "Node"
           and e["name"].endswith("_kernel_time")]  # fmt: skip
    first_map = next(v for v in observed if v != "flatten")  # relu1: conv1's output
    observers = [
        i for i, name in enumerate(ran) if name.startswith(f"trtdsl.calibration/{first_map}/")
    ]
    last_conv = [i for i, name in enumerate(ran) if name.startswith("conv3")]  # conv3_nchwc
    assert observers and last_conv, ran
    assert max(observers) < min(last_conv), ran


def test_weights_reach_onnxruntime_outside_the_model_bytes(
    residual: tuple[Graph, dict[str, np.ndarray], Path],
) -> None:
    """move_weights_out: the large initializers leave the serialized model (external
    references), the session gets them from the session options, and it computes exactly
    what the model with its weights inside computes."""
    import onnxruntime as ort

    from trtdsl.calibration.calibrate import sample_plans
    from trtdsl.calibration.executors.ort import augmented_model, move_weights_out

    graph, weights, data = residual
    folded, folded_weights = fold_batchnorm(graph, weights)
    values = plan_quantization(folded).values
    plans = sample_plans(folded, values, CalibrationData(data, graph), 16)
    targets = Targets(folded, plans)
    inside, _ = augmented_model(targets, folded_weights)
    outside, _ = augmented_model(targets, folded_weights)
    options = ort.SessionOptions()
    moved = move_weights_out(outside, options)
    small = inside.SerializeToString(), outside.SerializeToString()
    assert moved and len(small[1]) < len(small[0]) - sum(v.numpy().nbytes for v in moved) + 1024
    plain = ort.InferenceSession(small[0], ort.SessionOptions())
    external = ort.InferenceSession(small[1], options)
    del moved
    x = np.load(data)[:8]
    for a, b in zip(plain.run(None, {"x": x}), external.run(None, {"x": x}), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_fixed_batch_runs_whole_batches(tmp_path: Path) -> None:
    """A model whose input fixes the batch at 3, on 7 samples: runs of 3 (the last padded
    with copies of its last sample, dropped again), the same statistics as the same model with
    a batch dimension, on every executor."""
    rng = np.random.default_rng(4)
    np.save(tmp_path / "x.npy", rng.standard_normal((7, 4, 20, 20)).astype(np.float32))
    fixed, free = _exact_model(3), _exact_model()
    weights = random_weights(free, 1)
    expected = calibrate(free, weights, CalibrationData(tmp_path / "x.npy", free), "entropy", 1,
                         executor="reference", workers=1)  # fmt: skip
    for executor in EXECUTORS:
        data = CalibrationData(tmp_path / "x.npy", fixed)
        result = calibrate(fixed, weights, data, "entropy", 8, executor=executor, workers=2,
                           **_engine_options(executor))  # fmt: skip
        assert result.data["batch_size"] == 3
        assert result.amax == expected.amax, executor
        assert result.stats["x"] == expected.stats["x"]
        assert [s["count"] for s in result.stats.values()] == [
            s["count"] for s in expected.stats.values()
        ]


def test_worker_processes_read_streamed_data_from_the_parent(
    residual: tuple[Graph, dict[str, np.ndarray], Path], tmp_path: Path
) -> None:
    """An .npz is read in order by the calling process and its batches sent to the reference's
    worker processes: the same scales as the .npy; a bad batch is still the one reported."""
    graph, weights, data = residual
    x = np.load(data)
    np.savez_compressed(tmp_path / "x.npz", x=x)
    from_npy = _calibrate(residual, "reference", workers=3, batch_size=4)
    from_npz = calibrate(graph, weights, CalibrationData(tmp_path / "x.npz", graph), "entropy",
                         4, executor="reference", workers=3)  # fmt: skip
    assert from_npz.amax == from_npy.amax and from_npz.stats == from_npy.stats
    x[21, 0, 1, 1] = np.nan
    np.savez_compressed(tmp_path / "bad.npz", x=x)
    with pytest.raises(CalibrationError, match=r"bad\.npz\[x\]: sample 21 holds NaN or inf"):
        calibrate(graph, weights, CalibrationData(tmp_path / "bad.npz", graph), "max", 4,
                  executor="reference", workers=3)  # fmt: skip


def test_worker_processes_report_progress_as_batches_finish(tmp_path: Path) -> None:
    """Progress from the reference's worker processes arrives while they work, not in one
    burst when the last batch is fed (it came at 80% of the run, 20 of 24 batches at once, and
    a progress bar's images/s meant nothing): the first call comes early in the run."""
    import time

    b = ModelBuilder("slow")
    x = b.input("x", ("N", 16, 128, 128), dims={"N": (1, 1, 4)})
    y = b.relu(b.conv2d(x, out_channels=64, kernel_size=3, padding=1, name="c1"))
    b.output(b.conv2d(y, out_channels=8, kernel_size=3, padding=1, name="c2"), "y")
    model = b.build()
    np.save(
        tmp_path / "x.npy", np.random.default_rng(0).standard_normal((24, 16, 128, 128), np.float32)
    )
    times: list[float] = []
    start = time.perf_counter()
    calibrate(model, random_weights(model, 0), CalibrationData(tmp_path / "x.npy", model), "max",
              1, lambda done, total: times.append(time.perf_counter()), executor="reference",
              workers=2)  # fmt: skip
    assert len(times) == 24
    # The first batch is reported in the first half of the batches' time, not with the rest.
    assert times[0] - start < 0.5 * (times[-1] - start), [round(t - start, 3) for t in times]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_any_number_of_workers_gives_bit_identical_scales(
    residual: tuple[Graph, dict[str, np.ndarray], Path], executor: str
) -> None:
    one = _calibrate(residual, executor, workers=1, batch_size=3)
    for workers in (2, 5):
        many = _calibrate(residual, executor, workers=workers, batch_size=3)
        assert many.amax == one.amax and many.stats == one.stats and many.clipped == one.clipped
        assert f"{workers} worker(s)" in (many.executor or "")


def test_the_earliest_failing_batch_is_reported(
    residual: tuple[Graph, dict[str, np.ndarray], Path], tmp_path: Path
) -> None:
    graph, weights, data = residual
    x = np.load(data)
    x[13, 0, 2, 2] = np.nan
    x[30, 0, 2, 2] = np.inf
    np.save(tmp_path / "bad.npy", x)
    for workers in (1, 4):
        with pytest.raises(CalibrationError, match=r"bad\.npy: sample 13 holds NaN or inf"):
            calibrate(graph, weights, CalibrationData(tmp_path / "bad.npy", graph), "max", 4,
                      executor="reference", workers=workers)  # fmt: skip
    broken = dict(weights)
    broken["conv3.weight"] = broken["conv3.weight"].copy()
    broken["conv3.weight"][0, 0, 0, 0] = np.nan
    for executor in EXECUTORS:
        with pytest.raises(
            CalibrationError, match=r"NaN or inf in value 'flatten' .*samples 0\.\.3; check"
        ):
            calibrate(graph, broken, CalibrationData(data, graph), "max", 4, executor=executor,
                      workers=3, **_engine_options(executor))  # fmt: skip


def test_auto_picks_no_engine_this_machine_cannot_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import trtdsl.calibration.executors as executors

    executor, why = auto_executor()
    runnable, reason = executors._runnable_engine("auto")
    if runnable:
        assert executor == "engine"
    else:
        assert executor == "onnxruntime" and reason in why
    assert auto_executor("emulated") == ("engine", "auto: --backend emulated")
    monkeypatch.setattr(executors, "_runnable_engine", lambda backend: (False, "no GPU"))
    monkeypatch.setattr(executors, "_installed", lambda module: module != "onnxruntime")
    assert auto_executor() == ("reference", "auto: no engine (no GPU) and no onnxruntime")


def test_engine_batch_must_fit_the_profile(
    residual: tuple[Graph, dict[str, np.ndarray], Path],
) -> None:
    with pytest.raises(BackendError, match=r"--batch-size 100: input 'x' takes at most 64"):
        _calibrate(residual, "engine", batch_size=100)


def test_memory_does_not_grow_with_the_data(tmp_path: Path) -> None:
    """1000 samples peak no higher than 100 with one worker (the data is read a batch at a
    time; histograms are fixed-size); with two (the reference's worker processes) the calling
    process holds no more."""
    graph = _exact_model()
    weights = random_weights(graph, 0)
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.standard_normal((1000, 4, 20, 20)).astype(np.float32))
    peaks = {}
    for limit, workers in ((100, 1), (1000, 1), (1000, 2)):
        data = CalibrationData(tmp_path / "x.npy", graph, limit=limit)
        tracemalloc.start()
        calibrate(graph, weights, data, "entropy", 8, executor="reference", workers=workers)
        peaks[limit, workers] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peaks[1000, 1] < peaks[100, 1] * 1.1 + (1 << 20), peaks
    assert peaks[1000, 2] < peaks[100, 1] * 2.5, peaks


def test_resnet50_executors_agree(tmp_path: Path) -> None:
    """ResNet-50 (seeded weights, 64x64 inputs, 2 samples; every method through --method-for
    rules): the executors' scales agree."""
    graph = load_model("resnet50", {"x": (1, 3, 64, 64)})  # a static batch of one
    weights = random_weights(graph, 0)
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    rules = ["layer1.*=max", "layer2.*=percentile:99.9", "layer3.*=mse"]
    results = {
        executor: calibrate(
            graph,
            weights,
            CalibrationData(tmp_path / "x.npy", graph),
            "entropy",
            1,
            method_for=rules,
            executor=executor,
            workers=2,
            **_engine_options(executor),
        )  # fmt: skip
        for executor in EXECUTORS
    }
    reference = results["reference"]
    assert len(reference.amax) == 54
    assert {str(reference.method_of(v)) for v in reference.amax} == {
        "entropy",
        "max",
        "percentile:99.9",
        "mse",
    }
    for result in results.values():
        _same_scales(reference, result, bins=4.0)


# -- the real builder and the GPU machine --------------------------------------------------------


@pytest.mark.rtx
def test_marked_output_network_builds_on_tensorrt_rtx(
    residual: tuple[Graph, dict[str, np.ndarray], Path],
) -> None:
    """The engine executor's network (fp32, the calibrated values marked as outputs) on NVIDIA's
    real builder: it builds, and marks the same outputs as the emulator's."""
    from trtdsl.backends.trt import BuildConfig, build_engine, emit_network, import_trt
    from trtdsl.backends.trt.prepare import prepare_for_build
    from trtdsl.runtime.engines import mark_debug_outputs

    graph, weights, _ = residual
    prepared, prepared_weights = prepare_for_build(graph, weights, BuildConfig())
    values = [v for v in plan_quantization(prepared).values if v not in graph.inputs]
    outputs = {}
    for backend in ("tensorrt-rtx", "emulated"):
        trt = import_trt(backend)
        emitted = emit_network(trt, prepared, prepared_weights, product="tensorrt-rtx")
        assert mark_debug_outputs(emitted.network, values) == len(values)
        network = emitted.network
        outputs[backend] = sorted(network.get_output(i).name for i in range(network.num_outputs))
        if backend == "tensorrt-rtx":
            assert len(build_engine(emitted, BuildConfig())) > 0
    assert outputs["tensorrt-rtx"] == outputs["emulated"] == sorted([*values, "logits"])


@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["emulated", "auto"])
def test_engine_executor_on_the_gpu(
    residual: tuple[Graph, dict[str, np.ndarray], Path], backend: str
) -> None:
    """On a GPU machine: the emulated engine through device memory, and the real engine where
    TensorRT (or TensorRT-RTX on a GPU it runs on) is installed; both agree with the
    reference."""
    if backend == "auto":
        runnable, why = __import__(
            "trtdsl.calibration.executors", fromlist=["_runnable_engine"]
        )._runnable_engine("auto")
        if not runnable:
            pytest.skip(f"no engine runs here: {why}")
    graph, weights, data = residual
    engine = calibrate(graph, weights, CalibrationData(data, graph), "entropy", 8,
                       executor="engine", backend=backend, workers=2)  # fmt: skip
    assert "device memory" in (engine.executor or "")
    reference = _calibrate(residual, "reference", workers=2)
    _same_scales(reference, engine, bins=4.0)
