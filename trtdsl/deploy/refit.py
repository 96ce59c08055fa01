"""Refitting a built engine with new weights, by state_dict name, through TensorRT's Refitter.

The new weights go through exactly what a build does to them: the graph is prepared (batch
norms folded, precision made explicit) and emitted with the engine's own TensorRT module, and
each name's refit values are the very buffer the emitter handed to TensorRT under that name
(``EmittedNetwork.named_weights``): same folding, same dtype, same layout as at build time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from trtdsl.backends.trt import emit_network, import_trt
from trtdsl.backends.trt.module import describe_version, shared_logger
from trtdsl.errors import BackendError, UsageError
from trtdsl.ir.graph import Graph


@dataclass(frozen=True)
class RefitResult:
    """A refitted engine.

    Attributes:
        plan: the serialized engine with the new weights.
        names: the refitted weights' names (state_dict keys after preparation, e.g. a folded
            ``conv.bias``), sorted.
        unnamed: how many refittable weights have no name (constants the emitters make that
            do not come from the checkpoint, such as pooling matrices); left as built.
    """

    plan: bytes
    names: tuple[str, ...]
    unnamed: int


def refit_plan(
    plan: bytes,
    trt: ModuleType,
    graph: Graph,
    weights: Mapping[str, np.ndarray],
    source: str = "the engine",
) -> RefitResult:
    """Refit ``plan`` with ``weights``.

    Args:
        plan: a serialized engine built with ``BuildConfig(refittable=True)``.
        trt: the module that built it (``import_trt(plan_backend(plan))``).
        graph, weights: the model as ``prepare_graph`` returns it for the new weights, with
            the precision and keep-fp32 patterns of the build.
        source: the engine's name in messages.
    Returns:
        the refitted plan and what was refitted.
    Raises:
        EngineNotRunnableError: a real engine this machine cannot deserialize (no GPU).
        UsageError: the engine is not refittable, or its refittable weights and the model's
            differ (one line naming them), or a weight derived from the checkpoint has no name.
        BackendError: TensorRT refused a weight or the refit (quoting its errors).
    """
    from trtdsl.runtime.engines import deserialize

    check_refittable_by_name(graph, weights)
    emitted = emit_network(trt, graph, weights)  # keeps the buffers alive until we return
    given = dict(emitted.named_weights)
    loaded = deserialize(plan, trt, source)
    engine = loaded.engine
    if not engine.refittable:
        raise UsageError(
            f"{source} was not built refittable; build it with trtdsl compile ... --refittable"
        )
    logger = shared_logger(trt)
    since = logger.mark()
    refitter = trt.Refitter(engine, logger.trt_logger)
    all_names = list(refitter.get_all_weights())
    refittable = {name for name in all_names if name}
    missing = sorted(refittable - set(given))
    extra = sorted(set(given) - refittable)
    if missing or extra:
        raise UsageError(
            f"{source}: its refittable weights do not match the model's "
            + "; ".join(
                part
                for part in (
                    f"not produced from the checkpoint: {_names(missing)}" if missing else "",
                    f"not refittable in the engine: {_names(extra)}" if extra else "",
                )
                if part
            )
            + " (was the engine built from another model or precision?)"
        )
    for name in sorted(refittable):
        prototype = refitter.get_weights_prototype(name)
        count = _count(given[name])
        if prototype.size >= 0 and prototype.size != count:
            raise UsageError(
                f"{source}: weights {name!r} take {prototype.size} values in the engine, the "
                f"model gives {count} (was the engine built from another model?)"
            )
        if not refitter.set_named_weights(name, given[name]):
            errors = logger.errors_text(since) or "no error was logged"
            raise BackendError(f"{source}: TensorRT refused the new weights {name!r}: {errors}")
    still_missing = [n for n in refitter.get_missing_weights() if n]
    if still_missing:
        raise BackendError(f"{source}: TensorRT still misses weights {_names(still_missing)}")
    if not refitter.refit_cuda_engine():
        errors = logger.errors_text(since) or "no error was logged"
        raise BackendError(f"{source}: {describe_version(trt)} failed to refit: {errors}")
    return RefitResult(bytes(engine.serialize()), tuple(sorted(refittable)), all_names.count(""))


def check_refittable_by_name(graph: Graph, weights: Mapping[str, np.ndarray]) -> None:
    """UsageError when an emitter turns checkpoint weights into TensorRT weights without a
    name: a refit by name could not reach them, and the refitted engine would silently keep
    part of the old weights.

    Found by emitting the graph twice in trtdsl's emulator, the second time with every float
    weight changed: a weights buffer that changes and has no name depends on the checkpoint.
    """
    emulator = import_trt("emulated")
    first = emit_network(emulator, graph, weights)
    changed = {
        k: (v * 1.5 + 0.25).astype(v.dtype) if v.dtype.kind == "f" else v
        for k, v in weights.items()
    }
    second = emit_network(emulator, graph, changed)
    named = {_address(w) for w in first.named_weights.values()}
    derived = [
        a
        for a, b in zip(first.keep, second.keep, strict=True)
        if isinstance(a, np.ndarray)
        and a.size
        and _address(a) not in named
        and not np.array_equal(a, b)
    ]
    if derived:
        where = _constant_layers(emulator, first.network, {_address(a) for a in derived})
        raise UsageError(
            f"model {graph.name!r}: {len(derived)} weights buffer(s) computed from the "
            f"checkpoint have no name TensorRT could refit them by"
            + (f" (layers {_names(where)})" if where else "")
            + "; rebuild the engine with the new weights instead"
        )


def _address(weights: Any) -> int:
    array = weights if isinstance(weights, np.ndarray) else weights.numpy()
    return int(array.ctypes.data)


def _count(weights: Any) -> int:
    return int(weights.size)


def _constant_layers(trt: ModuleType, network: Any, addresses: set[int]) -> list[str]:
    """Names of the layers of ``network`` holding weights at ``addresses``."""
    from trtdsl.backends.trt.module import downcast_layer

    found = []
    for index in range(network.num_layers):
        layer = downcast_layer(trt, network.get_layer(index))
        for attribute in ("weights", "kernel", "bias", "scale", "shift"):
            value = getattr(layer, attribute, None)
            if value is not None and hasattr(value, "numpy") and value.size:
                if _address(value) in addresses:
                    found.append(str(layer.name))
                    break
    return found


def _names(names: list[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
