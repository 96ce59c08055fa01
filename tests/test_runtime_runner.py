"""EngineRunner logic on host memory, driven by a minimal engine with TensorRT's I/O-tensor API.

The engine below follows the real 11.x calls the runner makes (set_input_shape, infer_shapes,
get_tensor_shape, set_tensor_address, execute_async_v3 reading raw host addresses), so buffer
sizing, reallocation and error paths are checked without the emulator. End-to-end runs through
the emulator are in test_runtime_emulated.py.
"""

from __future__ import annotations

import ctypes
import enum
import types

import numpy as np
import pytest

from trtdsl.cli.inputs import engine_inputs
from trtdsl.errors import BackendError, UsageError
from trtdsl.ir.types import parse_shapes
from trtdsl.runtime.runner import EngineRunner, engine_io


class _Mode(enum.Enum):
    INPUT = 1
    OUTPUT = 2


class _DataType(enum.Enum):
    FLOAT = 0
    BF16 = 7
    FP8 = 9


# The runner recognises the emulator by its module name; this stands in for it.
FAKE_TRT = types.ModuleType("trtdsl.emulator._fake_for_tests")
REAL_TRT = types.ModuleType("tensorrt")


class _Engine:
    """x: float32 (-1, 4) with profile (1,4)..(2,4)..(8,4); y = 2x (N, 4); s = sum(x, -1) (N,)."""

    num_io_tensors = 3
    num_optimization_profiles = 1

    def __init__(self, dtype: _DataType = _DataType.FLOAT) -> None:
        self.dtype = dtype
        self.contexts: list[_Context] = []

    def get_tensor_name(self, i: int) -> str:
        return ("y", "x", "s")[i]  # inputs need not come first

    def get_tensor_mode(self, name: str) -> _Mode:
        return _Mode.INPUT if name == "x" else _Mode.OUTPUT

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return {"x": (-1, 4), "y": (-1, 4), "s": (-1,)}[name]

    def get_tensor_dtype(self, name: str) -> _DataType:
        return self.dtype

    def get_tensor_profile_shape(self, name: str, profile: int) -> list[tuple[int, ...]]:
        assert name == "x" and profile == 0
        return [(1, 4), (2, 4), (8, 4)]

    def create_execution_context(self) -> _Context:
        context = _Context()
        self.contexts.append(context)
        return context


class _Context:
    def __init__(self) -> None:
        self.n: int | None = None
        self.addresses: dict[str, int] = {}
        self.address_sets = 0
        self.streams: list[int] = []

    def set_input_shape(self, name: str, shape: tuple[int, ...]) -> bool:
        if name != "x" or len(shape) != 2 or shape[1] != 4 or not 1 <= shape[0] <= 8:
            return False
        self.n = shape[0]
        return True

    def infer_shapes(self) -> list[str]:
        return [] if self.n is not None else ["x"]

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        n = -1 if self.n is None else self.n
        return (n,) if name == "s" else (n, 4)

    def set_tensor_address(self, name: str, ptr: int) -> bool:
        self.addresses[name] = ptr
        self.address_sets += 1
        return True

    def execute_async_v3(self, stream: int) -> bool:
        self.streams.append(stream)
        n = self.n or 0

        def view(name: str, count: int) -> np.ndarray:
            buffer = (ctypes.c_float * count).from_address(self.addresses[name])
            return np.frombuffer(buffer, np.float32)

        x = view("x", n * 4).reshape(n, 4)
        view("y", n * 4)[:] = (2 * x).reshape(-1)
        view("s", n)[:] = x.sum(axis=1)
        return True


def _x(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 4)).astype(np.float32)


def test_engine_io_describes_tensors_in_engine_order() -> None:
    io = engine_io(_Engine())
    assert [(t.name, t.is_input, t.shape) for t in io] == [
        ("y", False, (-1, 4)),
        ("x", True, (-1, 4)),
        ("s", False, (-1,)),
    ]
    assert io[1].profile == ((1, 4), (2, 4), (8, 4)) and io[1].dtype == np.float32


def test_runs_and_reallocates_only_for_larger_shapes() -> None:
    engine = _Engine()
    with EngineRunner(engine, FAKE_TRT, memory="host") as runner:
        context = engine.contexts[0]
        out = runner.infer({"x": _x(4)})
        np.testing.assert_array_equal(out["y"], 2 * _x(4))
        np.testing.assert_allclose(out["s"], _x(4).sum(axis=1), rtol=1e-6)
        assert context.address_sets == 3 and context.streams == [0]
        first = dict(context.addresses)

        out = runner.infer({"x": _x(2, seed=1)})  # smaller: same buffers
        assert out["y"].shape == (2, 4) and out["s"].shape == (2,)
        np.testing.assert_array_equal(out["y"], 2 * _x(2, seed=1))
        assert context.address_sets == 3 and context.addresses == first

        out = runner.infer({"x": _x(8, seed=2)})  # larger: new buffers, rebound
        np.testing.assert_array_equal(out["y"], 2 * _x(8, seed=2))
        assert context.address_sets == 6 and context.addresses != first
        assert runner.shapes() == {"x": (8, 4), "y": (8, 4), "s": (8,)}
    assert runner._closed and not runner._buffers and not runner._staging


def test_outputs_are_copies_not_views_of_buffers() -> None:
    with EngineRunner(_Engine(), FAKE_TRT, memory="host") as runner:
        first = runner.infer({"x": _x(3)})["y"]
        runner.infer({"x": _x(3, seed=5)})
        np.testing.assert_array_equal(first, 2 * _x(3))


def test_input_errors_name_the_tensor() -> None:
    with EngineRunner(_Engine(), FAKE_TRT, memory="host") as runner:
        with pytest.raises(UsageError, match=r"missing \['x'\]"):
            runner.infer({})
        with pytest.raises(UsageError, match=r"unknown \['z'\]"):
            runner.infer({"x": _x(2), "z": _x(2)})
        with pytest.raises(UsageError, match=r"input x: expected shape \(-1, 4\), got \(2, 5\)"):
            runner.infer({"x": np.zeros((2, 5), np.float32)})
        with pytest.raises(UsageError, match=r"rejected \(profile 0 allows \(1, 4\) to \(8, 4\)\)"):
            runner.infer({"x": _x(9)})
        with pytest.raises(UsageError, match="input x: expected dtype float32, got int64"):
            runner.infer({"x": np.zeros((2, 4), np.int64)})
        # float64 casts to float32 (same kind); the runner still works after the errors
        out = runner.infer({"x": _x(2).astype(np.float64)})
        np.testing.assert_array_equal(out["y"], 2 * _x(2))


def test_memory_choices() -> None:
    with pytest.raises(UsageError, match="memory='host' only drives the emulated engine"):
        EngineRunner(_Engine(), REAL_TRT, memory="host")
    with pytest.raises(UsageError, match="CUDA graphs need device memory"):
        EngineRunner(_Engine(), FAKE_TRT, memory="host", cuda_graph=True)
    with pytest.raises(BackendError, match="dtype FP8 has no NumPy equivalent"):
        EngineRunner(_Engine(_DataType.FP8), FAKE_TRT, memory="host")


def test_closed_runner_refuses_work() -> None:
    runner = EngineRunner(_Engine(), FAKE_TRT, memory="host")
    runner.close()
    runner.close()  # idempotent
    with pytest.raises(UsageError, match="closed"):
        runner.infer({"x": _x(1)})


def test_execute_timed_reports_each_stage() -> None:
    with EngineRunner(_Engine(), FAKE_TRT, memory="host") as runner:
        with pytest.raises(UsageError, match="set_inputs"):
            runner.execute_timed()
        runner.set_inputs({"x": _x(2)})
        times = runner.execute_timed()
        assert None not in (times.h2d, times.compute, times.d2h)
        assert times.total >= max(times.h2d, times.compute, times.d2h)  # type: ignore[type-var]


def test_engine_feed_conventions(tmp_path) -> None:
    inputs = [t for t in engine_io(_Engine()) if t.is_input]
    feed = engine_inputs(inputs, seed=3)
    assert feed["x"].shape == (2, 4) and feed["x"].dtype == np.float32  # profile opt
    shapes = {name: r.opt for name, r in parse_shapes(["x=5x4"]).items()}
    assert engine_inputs(inputs, ["random:1"], shapes)["x"].shape == (5, 4)
    path = tmp_path / "x.npy"
    np.save(path, _x(3))
    np.testing.assert_array_equal(engine_inputs(inputs, [f"x={path}"])["x"], _x(3))
    with pytest.raises(UsageError, match="the engine has no input 'y'"):
        engine_inputs(inputs, ["y=random"])
    with pytest.raises(UsageError, match="given twice"):
        engine_inputs(inputs, ["x=random", "x=random:2"])
    with pytest.raises(UsageError, match="--shape y: the engine has no input 'y'"):
        engine_inputs(inputs, [], {"y": (5, 4)})
    with pytest.raises(UsageError, match="dimensions must be integers"):
        parse_shapes(["x=5x"])


def test_device_memory_without_cuda_python_says_how_to_get_it(monkeypatch) -> None:
    import builtins

    from trtdsl.runtime import cuda

    real_import = builtins.__import__

    def no_cuda(name: str, *args, **kwargs):  # noqa: ANN202
        if name.startswith("cuda"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(cuda, "_CUDART", None)
    monkeypatch.setattr(builtins, "__import__", no_cuda)
    with pytest.raises(BackendError, match=r"device memory needs cuda-python \(pip install"):
        EngineRunner(_Engine(), FAKE_TRT, memory="device")
    assert cuda.device_count() == 0


def test_benchmark_by_count_and_by_duration() -> None:
    from trtdsl.runtime.bench import LatencyStats, benchmark

    with EngineRunner(_Engine(), FAKE_TRT, memory="host") as runner:
        result = benchmark(runner, {"x": _x(4)}, warmup=2, iterations=7)
        assert result.iterations == 7 and result.batch == 4 and result.emulated
        assert result.shapes == {"x": (4, 4)} and result.memory == "host"
        at_least = benchmark(runner, {"x": _x(4)}, warmup=0, iterations=3, duration_s=1e-6)
        assert at_least.iterations >= 3
        with pytest.raises(UsageError, match="--duration must be > 0"):
            benchmark(runner, {"x": _x(4)}, duration_s=0)
    stats = LatencyStats.of([4.0, 1.0, 3.0, 2.0])
    assert (stats.min, stats.median, stats.max, stats.mean) == (1.0, 2.5, 4.0, 2.5)
