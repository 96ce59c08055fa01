"""The passes a graph goes through before emission: batch-norm folding, then precision, then
(for int8/fp8) quantization with calibrated scales."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from trtdsl.errors import UsageError
from trtdsl.ir.graph import Graph
from trtdsl.ir.types import Precision
from trtdsl.passes.fold_bn import fold_batchnorm
from trtdsl.passes.precision import apply_precision
from trtdsl.passes.quantize import quantize_graph

if TYPE_CHECKING:
    from trtdsl.backends.trt.build import BuildConfig
    from trtdsl.calibration import Calibration


def prepare_graph(
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    precision: Precision | str = Precision.FP32,
    keep_fp32: Sequence[str] = (),
    calibration: Calibration | str | os.PathLike[str] | None = None,
    fallback: Precision | str = Precision.FP16,
    unquantized: Sequence[str] = (),
) -> tuple[Graph, dict[str, np.ndarray]]:
    """Fold batch norms into convolutions (in float64), make precision explicit, and for
    ``int8``/``fp8`` insert quantize/dequantize with the calibration's scales.

    Args:
        graph, weights: the model as loaded and its bound weights.
        precision: fp32, tf32, fp16, bf16, int8 or fp8.
        keep_fp32: glob patterns over node names that stay float32 (and unquantized).
        calibration: for int8/fp8 only: a scales file written by ``trtdsl calibrate`` (or a
            loaded ``Calibration``); refused when made for another model or other weights.
        fallback: for int8/fp8 only: the precision of the layers that are not quantized
            (fp16 by default; fp32 for a quantized graph the NumPy reference can run).
        unquantized: for int8/fp8 only: glob patterns over node names left unquantized, in
            the fallback precision (``keep_fp32`` ones are unquantized and in float32).
    Returns:
        (graph ready for ``emit_network``, its weights in each node's compute dtype).
    Raises:
        UsageError: int8/fp8 without a calibration, or a calibration with another precision;
        CalibrationError: an unreadable or mismatching scales file.
    """
    precision = Precision.parse(precision)
    if precision.quantized is None:
        if calibration is not None:
            raise UsageError(
                f"--calibration applies to --precision int8 or fp8, not {precision.value}"
            )
        if unquantized:
            raise UsageError(
                f"unquantized layers need --precision int8 or fp8, not {precision.value}"
            )
        folded, folded_weights = fold_batchnorm(graph, weights)
        return apply_precision(folded, folded_weights, precision, keep_fp32)
    if calibration is None:
        raise UsageError(
            f"--precision {precision.value} needs --calibration SCALES.json "
            "(trtdsl calibrate MODEL --weights W --data DATA -o SCALES.json writes one)"
        )
    fallback = Precision.parse(fallback)
    if fallback.quantized is not None:
        raise UsageError(f"the fallback precision must be a float one, got {fallback.value}")
    if not hasattr(calibration, "amax"):
        from trtdsl.calibration import Calibration

        calibration = Calibration.load(calibration)
    assert not isinstance(calibration, (str, os.PathLike))
    calibration.check(graph, weights)
    folded, folded_weights = fold_batchnorm(graph, weights)
    typed, typed_weights = apply_precision(folded, folded_weights, fallback, keep_fp32)
    unknown = [
        p for p in unquantized if not any(fnmatch.fnmatchcase(n.name, p) for n in folded.nodes)
    ]
    if unknown:
        raise UsageError(
            f"unquantized pattern(s) {', '.join(map(repr, unknown))} match no node of model "
            f"{graph.name!r}"
        )
    excluded = (*keep_fp32, *unquantized)
    return quantize_graph(
        typed, typed_weights, calibration.amax, precision, excluded, float_weights=folded_weights
    )


def prepare_for_build(
    graph: Graph, weights: Mapping[str, np.ndarray], config: BuildConfig
) -> tuple[Graph, dict[str, np.ndarray]]:
    """``prepare_graph`` with the precision, keep patterns and calibration of a build."""
    return prepare_graph(
        graph,
        weights,
        config.precision,
        config.keep_fp32,
        calibration=config.calibration,
        unquantized=config.keep_fp16,
    )
