"""A Triton Inference Server model repository entry for an engine: ``REPO/NAME/config.pbtxt``
and ``REPO/NAME/1/model.plan``, written all at once or not at all.

The configuration follows Triton's model configuration schema (``model_config.proto``):
platform ``tensorrt_plan``; with a dynamic batch dimension shared by every input and output,
``max_batch_size`` and dims without the batch dimension, dynamic batching with preferred batch
sizes from the optimization profile; otherwise ``max_batch_size: 0`` and full dims; instance
groups of KIND_GPU.
https://docs.nvidia.com/deeplearning/triton-inference-server/user-guide/docs/user_guide/model_configuration.html
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from trtdsl.backends.trt.layers import TensorInfo
from trtdsl.errors import FileError, UsageError
from trtdsl.ir.graph import Graph
from trtdsl.ir.types import ShapeRange

TRITON_DTYPES = {
    "float32": "TYPE_FP32",
    "float16": "TYPE_FP16",
    "bfloat16": "TYPE_BF16",
    "int8": "TYPE_INT8",
    "uint8": "TYPE_UINT8",
    "int32": "TYPE_INT32",
    "int64": "TYPE_INT64",
    "bool": "TYPE_BOOL",
}
"""Engine I/O dtype (IR name) -> Triton DataType."""

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def check_model_name(name: str) -> str:
    """``name`` if Triton can serve a model by it, else UsageError.

    Triton refuses model names that contain ``/`` or are ``.``/``..`` (they would leave the
    repository); trtdsl also keeps to letters, digits, ``_``, ``.`` and ``-`` without a
    leading ``.`` or ``-``, since the name is a directory that Triton must not skip as hidden
    and a URL path segment (``/v2/models/NAME``).
    """
    if not _NAME.fullmatch(name) or name in (".", ".."):
        raise UsageError(
            f"--name {name!r}: not a Triton model name (use letters, digits, '_', '.' and '-', "
            "not starting with '.' or '-'; Triton refuses '/' and '..')"
        )
    return name


@dataclass(frozen=True)
class Batching:
    """How Triton batches the model: ``max_batch_size`` (0: no batching) and the profile's
    batch range."""

    max_batch_size: int
    preferred: tuple[int, ...] = ()


def batching(
    graph: Graph, profiles: Mapping[str, ShapeRange], max_batch_size: int | None
) -> Batching:
    """Triton batching for ``graph`` built with ``profiles``.

    The model batches when the first dimension of every input and output is the same
    symbolic dimension; the batch range comes from the inputs' profiles (min must be 1:
    Triton sends batches of any size up to ``max_batch_size``).

    Raises:
        UsageError: ``max_batch_size`` given for a model without a batch dimension, outside
            the profile, or a profile whose smallest batch is not 1.
    """
    firsts = {
        graph.types[v].shape[0] if graph.types[v].rank else None
        for v in [*graph.inputs, *(p.value for p in graph.outputs)]
    }
    (symbol,) = firsts if len(firsts) == 1 else (None,)
    if not isinstance(symbol, str):
        if max_batch_size:
            raise UsageError(
                f"--max-batch-size {max_batch_size}: model {graph.name!r} has no batch "
                "dimension shared by all its inputs and outputs (Triton gets max_batch_size 0)"
            )
        return Batching(0)
    lows, opts, highs = zip(
        *((r.min[0], r.opt[0], r.max[0]) for r in profiles.values()), strict=True
    )
    low, opt, high = max(lows), min(opts), min(highs)
    if low != 1:
        raise UsageError(
            f"the profile's smallest batch is {low}: Triton sends batches of 1 to "
            "max_batch_size; build with a profile from 1 (--shape NAME=1x...:...:...)"
        )
    size = high if max_batch_size is None else max_batch_size
    if not 1 <= size <= high:
        raise UsageError(
            f"--max-batch-size {max_batch_size}: outside the profile's batch range 1..{high} "
            f"({symbol})"
        )
    preferred = tuple(sorted({b for b in (opt, size) if 1 < b <= size}))
    return Batching(size, preferred)


def triton_config(
    name: str,
    inputs: Sequence[TensorInfo],
    outputs: Sequence[TensorInfo],
    batch: Batching,
    instances: int = 1,
) -> str:
    """``config.pbtxt`` text for an engine with these I/O tensors (engine dims, -1 dynamic).

    Raises:
        UsageError: a dtype Triton has no type for, or ``instances`` < 1.
    """
    if instances < 1:
        raise UsageError(f"--instances {instances}: expected at least 1")
    lines = [
        f'name: "{check_model_name(name)}"',
        'platform: "tensorrt_plan"',
        f"max_batch_size: {batch.max_batch_size}",
    ]
    for kind, tensors in (("input", inputs), ("output", outputs)):
        lines.append(f"{kind} [")
        entries = []
        for t in tensors:
            dims = list(t.shape[1:] if batch.max_batch_size else t.shape)
            entries.append(
                "  {\n"
                f'    name: "{t.name}"\n'
                f"    data_type: {_triton_dtype(t)}\n"
                f"    dims: [ {', '.join(map(str, dims))} ]\n"
                "  }"
            )
        lines.append(",\n".join(entries))
        lines.append("]")
    if batch.max_batch_size > 1:
        lines.append("dynamic_batching {")
        if batch.preferred:
            lines.append(f"  preferred_batch_size: [ {', '.join(map(str, batch.preferred))} ]")
        lines.append("}")
    lines.append("instance_group [")
    lines.append("  {")
    lines.append(f"    count: {instances}")
    lines.append("    kind: KIND_GPU")
    lines.append("  }")
    lines.append("]")
    return "\n".join(lines) + "\n"


def _triton_dtype(t: TensorInfo) -> str:
    try:
        return TRITON_DTYPES[t.dtype]
    except KeyError:
        raise UsageError(
            f"tensor {t.name}: Triton has no data type for {t.dtype} "
            f"(it takes {', '.join(TRITON_DTYPES)})"
        ) from None


def check_repository(
    repository: str | os.PathLike[str],
    name: str,
    create: bool = False,
    inputs: Sequence[str | os.PathLike[str]] = (),
) -> Path:
    """The repository directory; FileError if it is a file or one of ``inputs``, is missing
    and its parent too, cannot be created (with ``create``) or written, or already holds
    ``name``. Without ``create`` it only checks (before any build), so a failed export
    leaves no directory behind."""
    from trtdsl.files import check_output_directory

    repo = check_output_directory(repository, "--triton", create=create, inputs=inputs)
    if os.path.lexists(repo / name):
        raise FileError(
            f"--triton {os.fspath(repository)}: {repo / name} already exists; remove it or "
            "choose another --name"
        )
    return repo


def write_triton_model(
    repository: str | os.PathLike[str],
    name: str,
    config: str,
    plan: bytes,
    files: Mapping[str, bytes] | None = None,
) -> Path:
    """Write ``REPO/NAME/config.pbtxt``, ``REPO/NAME/1/model.plan`` and ``files`` (more files
    of version 1, e.g. the engine's sidecar) all at once or nothing: the model directory
    is written beside its place and renamed into it in one step (``files.write_directory``).

    Returns:
        the model directory. Raises FileError as ``check_repository`` does.
    """
    from trtdsl.files import write_directory

    repo = check_repository(repository, check_model_name(name), create=True)
    contents: dict[str, bytes] = {"config.pbtxt": config.encode(), "1/model.plan": plan}
    contents.update((f"1/{file_name}", data) for file_name, data in (files or {}).items())
    return write_directory(repo / name, contents, "--triton")
