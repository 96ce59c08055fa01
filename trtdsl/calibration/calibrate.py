"""Post-training calibration: run the model over the data on the fastest executor present,
stream a histogram per quantized tensor with data-parallel workers, and choose each tensor's
amax with its method.

The executors run the float32 graph after batch-norm folding (the graph the quantization pass
sees, without casts). The calibrated tensors are the values ``plan_quantization`` names (the
inputs of every conv2d, linear and matmul, and the residual inputs of the adds after
convolutions). Memory holds, per worker, one batch's live activations and one 2048-bin
histogram per calibrated tensor, whatever the number of samples.

What is equal where: a histogram is a function of the values it is fed (``histogram``), so the
same activations give the same counts, and the same scales, whatever the batch order, the
batch size, the number of workers or the executor (tests/test_calibration_executors.py feeds
every executor exactly computed activations and compares the histograms bit for bit; the one
difference allowed is the min of a non-negative value on onnxruntime, the smallest binned one).
Executors compute activations with slightly different rounding (onnxruntime's and TensorRT's
kernels are not NumPy's), so across executors min and max agree to float32 rounding, counts
move only where a value sits on a bin edge, and a chosen amax agrees to within a bin or two
(the same test file holds every executor to that on a residual CNN and ResNet-50).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from trtdsl.backends.reference import check_weights
from trtdsl.calibration.data import CalibrationData
from trtdsl.calibration.executors import EXECUTORS, Targets, auto_executor, open_executor
from trtdsl.calibration.executors.base import FixedBatch, static_batch
from trtdsl.calibration.histogram import SAMPLE_VALUES, SamplePlan, TensorHistogram
from trtdsl.calibration.methods import Method, MethodRule, methods_for
from trtdsl.calibration.result import Calibration as Calibration
from trtdsl.calibration.result import graph_digest as graph_digest
from trtdsl.calibration.result import nodes_digest as nodes_digest
from trtdsl.calibration.result import weights_digest as weights_digest
from trtdsl.calibration.scales import MAX_AMAX, MIN_AMAX
from trtdsl.calibration.workers import Progress as Progress
from trtdsl.calibration.workers import default_workers, run_workers
from trtdsl.errors import CalibrationError, UsageError
from trtdsl.ir.graph import Graph
from trtdsl.kernels.parallel import MAX_THREADS
from trtdsl.passes.fold_bn import fold_batchnorm
from trtdsl.passes.quantize import plan_quantization

CLIP_WARNING = 0.01
"""A tensor whose amax clips more than this fraction of its calibration values is named in a
warning that suggests ``--method-for 'NAME=max'``."""

_LOG = logging.getLogger("trtdsl")


def calibrate(
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    data: CalibrationData,
    method: Method | str = "entropy",
    batch_size: int = 8,
    progress: Progress | None = None,
    *,
    method_for: Sequence[MethodRule | str] = (),
    executor: str = "auto",
    workers: int | None = None,
    backend: str = "auto",
    engine_precision: str = "fp32",
    histogram_sample: int | None = SAMPLE_VALUES,
) -> Calibration:
    """Calibrate every tensor the quantization pass quantizes.

    Args:
        graph: the model as loaded (before any pass); weights: its bound weights.
        data: the calibration samples (``CalibrationData``).
        method: ``entropy``, ``max``, ``percentile[:P]`` or ``mse`` (a Method or its text).
        batch_size: samples per run (memory grows with it and ``workers``, not with the data);
            a model whose inputs fix the batch runs that many (a last, smaller batch padded).
        progress: called as ``progress(done, total)`` after each batch (from worker threads).
        method_for: ``PATTERN=METHOD`` rules (globs over the calibrated value names; the first
            that matches a tensor decides its method).
        executor: ``auto``, ``engine``, ``onnxruntime`` or ``reference`` (``executors``).
        workers: threads running batches at once (default: this process's cores).
        backend, engine_precision: the engine executor's ``--backend`` and fp32 or tf32.
        histogram_sample: values per sample and tensor binned (None: all of them); min, max
            and amax always cover every value.
    Returns:
        the Calibration (``save`` writes it); ``executor`` names what ran.
    Raises:
        UsageError: bad arguments (a rule that matches no calibrated tensor among them);
        CalibrationError: bad data, NaN or inf in an activation, an amax above MAX_AMAX;
        BackendError / EngineNotRunnableError: the executor could not run the model.
    """
    method = method if isinstance(method, Method) else Method.parse(method)
    rules = [r if isinstance(r, MethodRule) else MethodRule.parse(r) for r in method_for]
    workers = default_workers() if workers is None else workers
    check_arguments(executor, batch_size, workers, histogram_sample)
    check_weights(graph, weights)
    start = time.perf_counter()
    folded, folded_weights = fold_batchnorm(graph, weights)
    values = plan_quantization(folded).values
    methods = methods_for(values, method, rules)
    targets = Targets(folded, sample_plans(folded, values, data, histogram_sample))
    chosen, why = auto_executor(backend) if executor == "auto" else (executor, "")
    weights_sha256, data_sha256 = _digests(weights, data, background=chosen != "reference")
    fixed = static_batch(graph)
    if fixed is not None:  # inputs declared with a batch of `fixed` samples: run exactly that
        batch_size = fixed
    runner = open_executor(
        chosen, targets, graph, weights, folded_weights, backend, engine_precision, batch_size
    )
    if fixed is not None:
        runner = FixedBatch(runner, fixed)
    try:
        histograms = run_workers(runner, data, batch_size, values, workers, progress)
    finally:
        runner.close()

    def amax_of(value: str) -> float:
        return histograms[value].compute_amax(methods[value])

    with ThreadPoolExecutor(max(1, workers)) as pool:  # NumPy's loops release Python's lock
        found = dict(zip(histograms, pool.map(amax_of, histograms), strict=True))
    amax = {v: _recorded_amax(found[v], v, data) for v in histograms}
    clipped = {v: h.clipped(amax[v]) for v, h in histograms.items()}
    _warn_clipping(clipped, methods)
    described = runner.description + (f" ({why})" if why else "")
    return Calibration(
        method=method,
        amax=amax,
        stats={v: _stats(h) for v, h in histograms.items()},
        model={
            "name": graph.name,
            "graph_sha256": graph_digest(graph),
            "nodes": len(graph.nodes),
            "nodes_sha256": nodes_digest(graph, len(graph.nodes)),
        },
        weights={"sha256": weights_sha256()},
        data={
            "path": str(data.path),
            "kind": data.kind,
            "sha256": data_sha256(),
            "samples": data.samples,
            "batch_size": batch_size,
            "preprocess": data.preprocess.to_dict() if data.preprocess else None,
        },
        seconds=time.perf_counter() - start,
        methods={v: m for v, m in methods.items() if m != method},
        clipped=clipped,
        method_for=tuple(str(r) for r in rules),
        executor=f"{chosen}: {described}, {min(workers, _batches(data, batch_size))} worker(s)",
        histogram_sample=histogram_sample,
    )


def _digests(
    weights: Mapping[str, np.ndarray], data: CalibrationData, background: bool
) -> tuple[Callable[[], str], Callable[[], str]]:
    """Callables giving the scales file's sha256 of the weights and of the data. In the
    background, they are computed while the batches run (ResNet-50: 100 MB of weights, 150 MB
    for 256 photos; hashlib releases Python's lock), and nothing waits for them when
    calibration fails; not for the reference executor, whose worker processes are forked, which
    a running thread would make unsafe."""
    if not background:
        return (lambda: weights_digest(weights)), data.digest
    pool = ThreadPoolExecutor(1, thread_name_prefix="trtdsl-digest")
    of_weights, of_data = pool.submit(weights_digest, weights), pool.submit(data.digest)
    pool.shutdown(wait=False)  # the two tasks run on
    return of_weights.result, of_data.result


def check_arguments(
    executor: str, batch_size: int, workers: int, histogram_sample: int | None
) -> None:
    """UsageError naming the first of ``calibrate``'s options that is out of range (the CLI
    calls this before it prints or loads anything)."""
    if executor not in EXECUTORS:
        raise UsageError(f"--executor {executor!r}: expected one of {', '.join(EXECUTORS)}")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {batch_size}")
    if not 1 <= workers <= MAX_THREADS:
        raise UsageError(f"--workers must be from 1 to {MAX_THREADS}, got {workers}")
    if histogram_sample is not None and histogram_sample < 1:
        raise UsageError(f"--histogram-sample must be >= 1 or all, got {histogram_sample}")


def _batches(data: CalibrationData, batch_size: int) -> int:
    return max(1, -(-data.samples // batch_size))


def sample_plans(
    graph: Graph, values: Sequence[str], data: CalibrationData, limit: int | None
) -> dict[str, SamplePlan]:
    """Each calibrated value's SamplePlan: its sample shape from the graph's types with the
    data's sample shapes (a value whose axis 0 is not the batch is one flat sample)."""
    sizes = graph.sizes("opt")
    batch: set[str | int] = set()
    for name, shape in data.sample_shapes().items():
        declared = graph.types[name].shape
        if declared and isinstance(declared[0], str) and declared[0].isidentifier():
            sizes[declared[0]] = 1
            batch.add(declared[0])
        for dim, size in zip(declared[1:], shape, strict=False):
            if isinstance(dim, str) and dim.isidentifier():
                sizes[dim] = int(size)
    fixed = static_batch(graph)  # a batch the inputs fix: values lead with it too
    plans = {}
    for v in values:
        declared = graph.types[v].shape
        shape = graph.types[v].concrete(sizes)
        if declared and (declared[0] in batch or (fixed is not None and declared[0] == fixed)):
            shape = shape[1:]
        else:
            shape = (max(1, math.prod(shape)),)
        plans[v] = SamplePlan.of(shape, limit)
    return plans


def _stats(histogram: TensorHistogram) -> dict[str, float]:
    if not histogram.total:
        return {"count": 0}
    return {"min": histogram.min, "max": histogram.max, "count": histogram.total}


def _recorded_amax(amax: float, value: str, data: CalibrationData) -> float:
    """``amax`` as the scales file records it: CalibrationError above MAX_AMAX, 0 below
    MIN_AMAX (see both)."""
    if amax > MAX_AMAX:
        raise CalibrationError(
            f"{data.path}: value {value!r} reaches amax {amax:.6g}, above {MAX_AMAX:g}, "
            "float16's largest value, in which an int8/fp8 engine computes around its scales "
            "(scale the data or the weights down)"
        )
    return float(amax) if amax >= MIN_AMAX else 0.0


def _warn_clipping(clipped: Mapping[str, float], methods: Mapping[str, Method]) -> None:
    """One warning naming every tensor whose amax clips more than CLIP_WARNING of its values."""
    over = [v for v, fraction in clipped.items() if fraction > CLIP_WARNING]
    if not over:
        return
    by_method: dict[str, list[str]] = {}
    for v in over:
        by_method.setdefault(str(methods[v]), []).append(f"{v} ({clipped[v]:.1%})")
    parts = [f"{m} clips {', '.join(names)}" for m, names in by_method.items()]
    suggestion = " ".join(f"--method-for '{v}=max'" for v in over[:4])
    more = f" (and {len(over) - 4} more)" if len(over) > 4 else ""
    _LOG.warning(
        "more than %.0f%% of the calibration values lie above the chosen amax of %d tensor(s): "
        "%s; %s%s keeps their full range",
        CLIP_WARNING * 100,
        len(over),
        "; ".join(parts),
        suggestion,
        more,
    )
