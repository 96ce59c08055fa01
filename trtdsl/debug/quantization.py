"""Where quantization loses accuracy: the quantized layers ranked by the error each adds
against float32, and a search for a small set of layers to leave in the fallback precision
(fp16) so that the outputs meet a tolerance."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from trtdsl.debug.compare import LayerwiseReport
from trtdsl.ir.graph import Graph
from trtdsl.passes.quantize import plan_quantization


@dataclass(frozen=True)
class LayerLoss:
    """One quantized layer: its relative error against float32 and the part of it the layer
    adds (its error minus the largest error among the values it reads)."""

    node: str
    error: float
    added: float


def rank_quantization_loss(
    report: LayerwiseReport, graph: Graph, keep_fp32: Sequence[str] = ()
) -> list[LayerLoss]:
    """The quantized layers of ``graph`` (the float32 graph the report compared) ranked by the
    error they add, largest first (layers the report has no value for are left out)."""
    errors = {r.value: r.rel_error for r in report.rows if r.status != "missing"}
    quantized = set(plan_quantization(graph, keep_fp32).nodes)
    result = []
    for node in graph.nodes:
        if node.name not in quantized or node.outputs[0] not in errors:
            continue
        error = errors[node.outputs[0]]
        upstream = max((errors.get(v, 0.0) for v in node.inputs), default=0.0)
        result.append(LayerLoss(node.name, error, error - upstream))
    return sorted(result, key=lambda loss: -loss.added)


@dataclass(frozen=True)
class KeepSearch:
    """The result of ``search_fp16_layers``: the layers to leave unquantized, the output error
    with them so, the error with every layer quantized, the engines built, whether it met the
    tolerance, and each step as (layers left unquantized, output error)."""

    keep: tuple[str, ...]
    error: float
    quantized_error: float
    builds: int
    met: bool
    steps: tuple[tuple[tuple[str, ...], float], ...]


def search_fp16_layers(
    output_error: Callable[[tuple[str, ...]], float],
    ranked: Sequence[str],
    tolerance: float,
    limit: int = 16,
) -> KeepSearch:
    """A small set of layers to leave unquantized so that ``output_error(keep) <= tolerance``.

    Greedy, then pruned: layers are added in ``ranked`` order (the largest added error first)
    until the outputs meet the tolerance or ``limit`` layers are kept; then each kept layer is
    dropped again if the outputs still meet the tolerance without it. Each call of
    ``output_error`` builds and runs one engine.
    """
    steps: list[tuple[tuple[str, ...], float]] = []

    def measure(keep: tuple[str, ...]) -> float:
        error = output_error(keep)
        steps.append((keep, error))
        return error

    keep: tuple[str, ...] = ()
    quantized_error = error = measure(keep)
    for name in ranked[:limit]:
        if error <= tolerance:
            break
        keep = (*keep, name)
        error = measure(keep)
    if error <= tolerance:
        for name in reversed(keep):
            trial = tuple(n for n in keep if n != name)
            trial_error = measure(trial)
            if trial_error <= tolerance:
                keep, error = trial, trial_error
    return KeepSearch(keep, error, quantized_error, len(steps), error <= tolerance, tuple(steps))
