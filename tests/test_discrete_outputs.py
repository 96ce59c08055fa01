"""Discrete outputs (an argmax's indices, other integers) are judged position by position in
``compile``, ``compare`` and ``refit`` alike: an index that differs is right where the
reference's own scores tie within the tolerance; other integer values must be exact."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import trtdsl.debug.check as check_module
from trtdsl.backends.reference import capture_reference
from trtdsl.cli.main import main
from trtdsl.debug.check import check_problems
from trtdsl.debug.compare import compare_layerwise
from trtdsl.debug.discrete import IndexSource, compare_indices, discrete_values
from trtdsl.debug.tolerances import TOLERANCES, default_tolerance
from trtdsl.frontend.yaml import load_yaml_text
from trtdsl.ir.types import Precision

SEGMENTER = """\
name: seg
inputs:
  x: {shape: [1, 3, 4, 4]}
layers:
  - {name: scores, op: conv2d, out_channels: 3, kernel_size: 1}
  - {name: argmax, op: argmax, dim: 1}
  - {name: rounded, op: cast, dtype: int32, inputs: scores}
outputs:
  out: scores
  mask: argmax
  ints: rounded
"""


def _weights() -> dict[str, np.ndarray]:
    """Classes 0 and 1 differ by 1e-5 in bias only (a near-tie everywhere); class 2 is far
    below them."""
    weight = np.zeros((3, 3, 1, 1), np.float32)
    weight[0, :, 0, 0] = weight[1, :, 0, 0] = [1.0, 2.0, 3.0]
    bias = np.array([1e-5, 0.0, -100.0], np.float32)
    return {"scores.weight": weight, "scores.bias": bias}


def test_an_index_is_right_where_it_equals_or_the_scores_tie() -> None:
    scores = np.array([[[5.0, 1.0], [4.9995, 3.0], [0.0, 2.0]]])  # (1, 3, 2): classes on axis 1
    reference = scores.argmax(1)  # [[0, 1]]
    source = IndexSource("scores", 1, False)
    tie = compare_indices(reference, np.array([[1, 1]]), source, scores, 1e-3)
    assert (tie.positions, tie.differ, tie.ties, tie.ok) == (2, 1, 1, True)
    assert tie.margin == pytest.approx(5e-3) and tie.share == 0.5
    assert "all ties of the reference's scores" in tie.describe()
    far = compare_indices(reference, np.array([[0, 0]]), source, scores, 1e-3)  # 1.0 vs 3.0
    assert (far.differ, far.ties, far.ok) == (1, 0, False)
    assert "0 of them ties" in far.describe() and "1 are not" in far.describe()
    garbage = compare_indices(reference, np.array([[7, -1]]), source, scores, 1.0)
    assert (garbage.differ, garbage.ties) == (2, 0)  # no such class: never a tie
    kept = compare_indices(reference[:, None], np.array([[[1, 1]]]), IndexSource("s", 1, True),
                           scores, 1e-3)  # fmt: skip
    assert (kept.differ, kept.ties) == (1, 1)
    exact = compare_indices(np.array([1, 2]), np.array([1, 3]), None, None, 1.0)
    assert (exact.differ, exact.ok, exact.argmax) == (1, False, False)
    assert "integer values must be exact" in exact.describe()


def test_discrete_values_of_a_graph() -> None:
    graph = load_yaml_text(SEGMENTER)
    found = discrete_values(graph)
    assert found == {"argmax": IndexSource("scores", 1, False), "rounded": None}


def test_one_tolerance_table_for_every_command() -> None:
    from trtdsl.cli.compile import CHECK_TOLERANCE

    assert CHECK_TOLERANCE is TOLERANCES and set(TOLERANCES) == set(Precision)
    assert default_tolerance("fp16") == 2e-2 and default_tolerance(Precision.FP32) == 1e-4


def _flipping(monkeypatch: pytest.MonkeyPatch, flip: Callable[[dict[str, Any]], None]) -> list[int]:
    """Make ``check_engine`` see the engine's outputs changed by ``flip``; counts runs."""
    real = check_module.plan_runner
    calls: list[int] = []

    @contextmanager
    def plan_runner(trt: Any, plan: bytes) -> Iterator[Callable[..., dict[str, Any]]]:
        with real(trt, plan) as run:

            def flipped(inputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
                outputs = dict(run(inputs))
                flip(outputs)
                calls.append(1)
                return outputs

            yield flipped

    monkeypatch.setattr(check_module, "plan_runner", plan_runner)
    return calls


def _tie(outputs: dict[str, Any]) -> None:
    mask = np.array(outputs["mask"])
    mask[0, 1, 2] = 1 - mask[0, 1, 2]  # classes 0 and 1 tie everywhere
    outputs["mask"] = mask


def _no_tie(outputs: dict[str, Any]) -> None:
    mask = np.array(outputs["mask"])
    mask[0, 0, 0] = 2
    outputs["mask"] = mask


@pytest.fixture
def segmenter(tmp_path: Path) -> tuple[Path, Path]:
    from safetensors.numpy import save_file

    model = tmp_path / "seg.yaml"
    model.write_text(SEGMENTER)
    weights = tmp_path / "seg.safetensors"
    save_file(_weights(), str(weights))
    return model, weights


def test_compile_accepts_a_tie_and_refuses_another_class(
    segmenter: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    model, weights = segmenter
    argv = ["compile", str(model), "--weights", str(weights), "--emulate", "--precision", "fp16"]
    calls = _flipping(monkeypatch, _tie)
    assert main(argv) == 0 and calls
    out = capsys.readouterr().out
    assert "check (emulated): tolerance 0.02 (the fp16 default)" in out
    assert re.search(r"mask: 1 of 16 positions \(6\.2%\) differ, all ties", out), out
    assert "ints: all 48 positions equal the reference's" in out
    monkeypatch.undo()
    _flipping(monkeypatch, _no_tie)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "output 'mask': 1 of 16 positions differ from the reference and 1 are no ties" in err


def test_compile_wants_other_integers_exact(
    segmenter: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    model, weights = segmenter

    def off_by_one(outputs: dict[str, Any]) -> None:
        ints = np.array(outputs["ints"])
        ints[0, 0, 0, 0] += 1
        outputs["ints"] = ints

    _flipping(monkeypatch, off_by_one)
    assert main(["compile", str(model), "--weights", str(weights), "--emulate"]) == 2
    assert "output 'ints': 1 of 48 positions differ" in capsys.readouterr().err


def test_refit_check_judges_indices_as_compile_does(
    segmenter: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from trtdsl.backends.trt import BuildConfig, build_engine, emit_network, import_trt
    from trtdsl.cli.refit import _check
    from trtdsl.errors import BackendError

    graph = load_yaml_text(SEGMENTER)
    trt = import_trt("emulated")
    plan = build_engine(emit_network(trt, graph, _weights()), BuildConfig())
    _flipping(monkeypatch, _tie)
    record = _check(trt, plan, graph, _weights(), BuildConfig(), 0)
    assert record["discrete"]["mask"]["ties"] == 1 and record["tolerance"] == 1e-4
    assert "mask: 1 of 16 positions (6.2%) differ, all ties" in capsys.readouterr().out
    monkeypatch.undo()
    _flipping(monkeypatch, _no_tie)
    with pytest.raises(BackendError, match="output 'mask': 1 of 16 positions differ"):
        _check(trt, plan, graph, _weights(), BuildConfig(), 0)


def test_compare_judges_an_argmax_by_its_scores() -> None:
    graph = load_yaml_text(SEGMENTER)
    weights = _weights()
    x = {"x": np.random.default_rng(0).standard_normal((1, 3, 4, 4)).astype(np.float32)}
    values = capture_reference(graph, weights, x)

    def backend(change: Callable[[np.ndarray], None]) -> Callable[..., dict[str, np.ndarray]]:
        def run_marked(wanted: list[str]) -> dict[str, np.ndarray]:
            got = {v: np.array(values[v]) for v in wanted}
            change(got["argmax"])
            return got

        return run_marked

    def tie(mask: np.ndarray) -> None:
        mask[0, 1, 2] = 1 - mask[0, 1, 2]

    def other(mask: np.ndarray) -> None:
        mask[0, 0, 0] = 2

    report = compare_layerwise(graph, weights, x, backend(tie), tolerance=1e-3)
    row = next(r for r in report.rows if r.node == "argmax")
    assert report.first_bad is None and row.status == "ok" and "all ties" in row.detail
    assert row.rel_error == pytest.approx(1 / 16)  # the share of positions that differ
    report = compare_layerwise(graph, weights, x, backend(other), tolerance=1e-3)
    assert report.first_bad == "argmax"


def test_check_problems_lists_each_failure() -> None:
    run = {
        "inputs": "x=1x3x4x4",
        "outputs": {"out": {"max_rel": 0.5, "max_abs": 1.0, "ref_max": 2.0}},
        "discrete": {
            "mask": {
                "positions": 16,
                "differ": 3,
                "ties": 1,
                "margin": 0.1,
                "argmax": True,
                "ok": False,
                "share": 3 / 16,
            },  # fmt: skip
        },
    }
    problems = check_problems([run], 0.02, "fp16")
    assert problems[0].endswith("max rel error 0.5 > 0.02 for fp16")
    assert "2 are no ties of the reference's scores (gap > 0.1)" in problems[1]
    assert check_problems([{**run, "outputs": {}, "discrete": {}}], 0.02) == []
