"""trtdsl models in Polygraphy: a network script whose ``load_network()`` returns the
``(builder, network)`` trtdsl emits, for ``polygraphy run``, ``inspect model`` and ``convert``.

Polygraphy takes a ``.py`` model as a "TensorRT network script" and calls its
``load_network``. ``network_loader`` makes that function: it emits the model into the
TensorRT module Polygraphy uses (``tensorrt``, or ``tensorrt_rtx`` with
``POLYGRAPHY_USE_TENSORRT_RTX=1``) with Polygraphy's own logger, because TensorRT wants one
logger per process. ``polygraphy_script`` writes such a script for a model.
https://github.com/NVIDIA/TensorRT/tree/main/tools/Polygraphy
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from trtdsl.ir.graph import Graph
from trtdsl.ir.types import ShapeRange

if TYPE_CHECKING:
    from trtdsl.backends.trt.logger import CapturingLogger

_KEEP: list[Any] = []
"""Every network handed to Polygraphy, with the weight buffers TensorRT reads at build time
(Polygraphy keeps the builder and network, not our buffers; they live as long as the
process)."""


def network_loader(
    model: str,
    weights: str,
    precision: str = "fp32",
    keep_fp32: Sequence[str] = (),
    shapes: Mapping[str, Sequence[int]] | None = None,
    rename: Sequence[tuple[str, str]] = (),
) -> Callable[[], tuple[Any, Any]]:
    """A Polygraphy ``load_network``: ``() -> (builder, network)``.

    Args:
        model: a model file or zoo name; ``weights``: a safetensors file or ``random[:SEED]``.
        precision, keep_fp32: as on ``trtdsl compile``.
        shapes: fixed input shapes (``--shape``); the declared ranges stay symbolic and need
            Polygraphy's ``--trt-min/opt/max-shapes``.
        rename: checkpoint key renames (``--rename``).
    """

    def load_network() -> tuple[Any, Any]:
        from polygraphy import config as polygraphy_config

        from trtdsl.backends.trt import emit_network, import_trt, prepare_graph
        from trtdsl.frontend.load import load_model
        from trtdsl.weights import load_weights

        backend = "tensorrt-rtx" if polygraphy_config.USE_TENSORRT_RTX else "tensorrt"
        trt = import_trt(backend)
        if polygraphy_config.USE_TENSORRT_RTX:
            _alias_tensorrt(trt)
        fixed = {name: tuple(int(d) for d in dims) for name, dims in (shapes or {}).items()}
        graph = load_model(model, fixed) if fixed else load_model(model)
        bound = load_weights(weights, graph, rename=list(rename) or None)
        prepared, prepared_weights = prepare_graph(graph, bound.arrays, precision, keep_fp32)
        emitted = emit_network(trt, prepared, prepared_weights, _polygraphy_logger(trt))
        _KEEP.append(emitted)
        return emitted.builder, emitted.network

    return load_network


def _alias_tensorrt(rtx: Any) -> None:
    """Make ``import tensorrt`` give TensorRT-RTX in this (Polygraphy) process, where
    datacenter TensorRT is not installed.

    NOTE: Polygraphy 0.53's ``inspect model --display-as=trt`` reads networks through
    ``mod.lazy_import("tensorrt")`` (tools/inspect/subtool/model/extractors/_trt.py) even with
    ``POLYGRAPHY_USE_TENSORRT_RTX=1``, and fails with "Module: 'tensorrt' is required" on a
    machine that has only TensorRT-RTX; the network it inspects is a TensorRT-RTX one.
    """
    import importlib.util
    import sys

    if "tensorrt" not in sys.modules and importlib.util.find_spec("tensorrt") is None:
        sys.modules["tensorrt"] = rtx


def _polygraphy_logger(trt: Any) -> CapturingLogger:
    """A CapturingLogger whose ILogger is Polygraphy's (the process's one TensorRT logger);
    TensorRT's messages then go to Polygraphy's log, not to ``errors_text``."""
    from polygraphy.backend.trt.util import get_trt_logger

    from trtdsl.backends.trt.logger import CapturingLogger

    logger = CapturingLogger(trt)
    logger.trt_logger = get_trt_logger()
    return logger


def polygraphy_flags(graph: Graph, profiles: Mapping[str, ShapeRange]) -> str:
    """``--trt-min-shapes ... --trt-opt-shapes ... --trt-max-shapes ...`` for the profile."""
    if not profiles:
        return ""
    parts = []
    for which in ("min", "opt", "max"):
        items = " ".join(
            f"{name}:[{','.join(str(d) for d in getattr(r, which))}]"
            for name, r in profiles.items()
        )
        parts.append(f"--trt-{which}-shapes {items}")
    return " ".join(parts)


def polygraphy_script(
    graph: Graph,
    model: str,
    weights: str,
    precision: str,
    keep_fp32: Sequence[str],
    shapes: Mapping[str, Sequence[int]],
    rename: Sequence[tuple[str, str]],
    profiles: Mapping[str, ShapeRange],
    script_name: str = "net.py",
) -> str:
    """The text of a Polygraphy network script for ``model`` (see ``network_loader``)."""
    flags = polygraphy_flags(graph, profiles)
    flags = f" {flags}" if flags else ""
    fixed = {name: [int(d) for d in dims] for name, dims in shapes.items()}
    renames = [(str(pattern), str(replacement)) for pattern, replacement in rename]
    return f'''"""Polygraphy network script for the trtdsl model {graph.name!r} (by trtdsl export).

load_network() emits the model with trtdsl into the TensorRT module Polygraphy uses (TensorRT, or
TensorRT-RTX with POLYGRAPHY_USE_TENSORRT_RTX=1), with Polygraphy's logger. Polygraphy builds
with TensorRT's default flags (TF32 on), where trtdsl's --precision fp32 turns TF32 off. E.g.:

  polygraphy inspect model {script_name} --display-as=trt
  polygraphy convert {script_name} -o {graph.name}.engine{flags}
  polygraphy run {script_name} --trt{flags}

Model: {model}
Weights: {weights}
Precision: {precision}; keep fp32: {list(keep_fp32)}
"""

from trtdsl.deploy.polygraphy import network_loader

load_network = network_loader(
    model={model!r},
    weights={weights!r},
    precision={precision!r},
    keep_fp32={list(keep_fp32)!r},
    shapes={fixed!r},
    rename={renames!r},
)
'''
