"""Export a Graph and its weights to an ONNX model (for onnxruntime cross-checks and benchmarks).

Names carry over: ONNX value names are IR value names, initializers are the state_dict keys,
the ONNX node that produces an IR node's output is named after the IR node (helper nodes of a
decomposition are ``<node>/<step>``), and symbolic dimensions become ``dim_param``.
The ``onnx`` package is optional (``pip install 'trtdsl[onnx]'``) and imported on use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from trtdsl.backends import onnx_dense as onnx_dense  # registers its EXPORTERS
from trtdsl.backends import onnx_detection as onnx_detection  # registers its EXPORTERS
from trtdsl.backends import onnx_quantize as onnx_quantize  # registers its EXPORTERS
from trtdsl.backends import onnx_transformer as onnx_transformer  # registers its EXPORTERS
from trtdsl.backends.onnx_custom import CUSTOM_DOMAIN, export_custom
from trtdsl.backends.onnx_ops import (
    EXPORTERS,
    MIN_OPSET,
    OPSETS,
    Context,
    opset_error,
    value_info,
)
from trtdsl.backends.reference import check_weights
from trtdsl.errors import BackendError
from trtdsl.files import write_file
from trtdsl.ir.graph import Graph
from trtdsl.ir.ops.custom import is_custom

__all__ = ["EXPORTERS", "export_onnx", "to_onnx_model"]

_PROTOBUF_LIMIT = 2**31 - 2**20
"""A serialized ModelProto must stay below 2 GiB (with room for the graph itself)."""


def export_onnx(
    graph: Graph, weights: Mapping[str, np.ndarray], path: str | os.PathLike[str], opset: int = 17
) -> int:
    """Write ``graph`` with ``weights`` as an ONNX model file (atomically).

    Args:
        graph: a verified graph.
        weights: ``"{node}.{role}"`` -> array for every non-optional param.
        path: destination ``.onnx`` file; replaced only once the whole model is written.
        opset: ONNX default-domain opset: at least ``MIN_OPSET`` (11) and whatever the
            graph's ops need (``OPSETS``: softmax 13, hardswish 14, ...).
    Returns:
        the file's size in bytes.
    Raises:
        BackendError if ``onnx`` is missing, an op has no ONNX form, the opset is too old for
        an op (naming the op, its node and the opset it needs), or the checker rejects the
        model; WeightError for missing or mismatched weights.
    """
    model = _build_model(graph, weights, opset)
    data = model.SerializeToString()
    _check(graph, data)  # the checker takes the bytes: the 100 MB model is serialized once
    write_file(path, data, "--onnx")
    return len(data)


def to_onnx_model(
    graph: Graph, weights: Mapping[str, np.ndarray], opset: int = 17, check: bool = True
) -> Any:
    """The ``onnx.ModelProto`` of ``graph`` with ``weights`` (see ``export_onnx``), checked by
    ``onnx.checker`` unless ``check`` is False (for a model handed straight to a runtime that
    validates it as it loads it: the checker serializes the whole model, weights included)."""
    model = _build_model(graph, weights, opset)
    if check:
        _check(graph, model)
    return model


def _build_model(graph: Graph, weights: Mapping[str, np.ndarray], opset: int) -> Any:
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise BackendError(
            "ONNX export needs the onnx package: pip install 'trtdsl[onnx]'"
        ) from None
    check_opset(graph, opset)
    check_weights(graph, weights)
    total = sum(weights[key].nbytes for key, *_ in graph.params() if key in weights)
    if total >= _PROTOBUF_LIMIT:
        raise BackendError(
            f"ONNX export of {graph.name!r}: {total / 2**30:.1f} GiB of weights exceed the "
            f"2 GiB protobuf limit (external-data export is not supported)"
        )
    ctx = Context(graph, weights, opset)
    custom = False
    for node in graph.nodes:
        exporter = EXPORTERS.get(type(node.op))
        if exporter is None and is_custom(node.op):
            export_custom(ctx, node)
            custom = True
            continue
        if exporter is None:
            raise BackendError(f"{node.where()}: op {node.op.op_name} has no ONNX export")
        exporter(ctx, node)
    outputs = []
    for port in graph.outputs:
        if port.name != port.value:
            ctx.add("Identity", [port.value], port.name, f"output/{port.name}")
        outputs.append(value_info(ctx, port.name, graph.types[port.value]))
    onnx_graph = ctx.helper.make_graph(
        ctx.nodes,
        graph.name,
        [value_info(ctx, name, graph.types[name]) for name in graph.inputs],
        outputs,
        ctx.initializers,
    )
    return ctx.helper.make_model(
        onnx_graph,
        opset_imports=[ctx.helper.make_opsetid("", opset)]
        + ([ctx.helper.make_opsetid(CUSTOM_DOMAIN, 1)] if custom else []),
        ir_version=_ir_version(ctx.helper, opset),
        producer_name="trtdsl",
    )


def check_opset(graph: Graph, opset: int) -> None:
    """Raise BackendError if ``opset`` is older than trtdsl or one of the graph's ops supports.

    The message names the first node of the first op that needs more, what needs it, and the
    opset that exports the whole graph.
    """
    if opset < MIN_OPSET:
        raise BackendError(
            f"ONNX export: opset {opset} is older than trtdsl exports (>= {MIN_OPSET})"
        )
    too_new = [
        (node, *OPSETS[type(node.op)])
        for node in graph.nodes
        if type(node.op) in OPSETS and OPSETS[type(node.op)][0] > opset
    ]
    if too_new:
        node, version, needs = too_new[0]
        highest = max(v for _, v, _ in too_new)
        others = sorted({n.op.op_name for n, _, _ in too_new} - {node.op.op_name})
        also = f"; so do {', '.join(others)}" if others else ""
        raise BackendError(
            f"{opset_error(node, version, needs, opset)}{also}; this graph exports with "
            f"opset >= {highest}"
        )


def _check(graph: Graph, model: Any) -> None:
    """Run ``onnx.checker`` on a ModelProto or its serialized bytes."""
    import onnx

    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BackendError(f"ONNX export of {graph.name!r}: checker rejected it: {first}") from e


def _ir_version(helper: Any, opset: int) -> int:
    """The oldest IR version that supports ``opset`` (so older runtimes load the file)."""
    for _release, ir_version, ai_onnx, *_ in helper.VERSION_TABLE:
        if ai_onnx >= opset:
            return int(ir_version)
    raise BackendError(f"ONNX export: opset {opset} is newer than the installed onnx package")
