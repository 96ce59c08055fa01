"""``--input`` for every command: ``NAME=FILE.npy``, ``NAME=random[:SEED]``, or a bare source
for a one-input model or engine; without ``--input`` every input is seeded random (see
``trtdsl.debug.inputs``). Shapes must lie inside the model's declared ranges."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from trtdsl.cli.args import check_input_shape
from trtdsl.debug.inputs import check_value_range, require_graph_memory, seeded_array
from trtdsl.errors import UsageError
from trtdsl.files import ArrayHeader, load_npy
from trtdsl.frontend.strides import largest_stride
from trtdsl.ir.graph import Graph
from trtdsl.ir.ops.base import suggest
from trtdsl.ir.types import ValueRange
from trtdsl.runtime.runner import IOTensor

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
"""``--input`` sources with these endings are photos, decoded with Pillow."""


def is_image(source: str) -> bool:
    """Whether an ``--input`` source (``NAME=FILE`` or ``FILE``) names a photo."""
    return source.rpartition("=")[2].lower().endswith(IMAGE_SUFFIXES)


def input_sources(
    specs: Sequence[str], names: Sequence[str], what: str, given: Sequence[str] = ()
) -> dict[str, str]:
    """``--input`` specs -> ``{input name: source}`` (``what``: "model" or "engine").

    Raises:
        UsageError: an unknown name, a name given twice, a bare source for several inputs,
            or specs that leave an input out.
    """
    sources: dict[str, str] = {}
    for spec in specs:
        name, sep, source = spec.partition("=")
        if not sep or (name not in names and "/" in name):  # a bare path may hold "="
            if len(names) != 1:
                raise UsageError(
                    f"--input {spec!r}: the {what} has {len(names)} inputs "
                    f"({', '.join(names)}); write NAME=SOURCE"
                )
            name, source = names[0], spec
        if name not in names:
            raise UsageError(
                f"--input {spec!r}: the {what} has no input {name!r}{suggest(name, names)} "
                f"(inputs: {', '.join(names)})"
            )
        if name in sources:
            raise UsageError(f"--input {spec!r}: input {name!r} given twice")
        sources[name] = source
    missing = [n for n in names if n not in sources and n not in given]
    if (specs or given) and missing:
        raise UsageError(
            f"no --input for {', '.join(missing)}; give NAME=FILE.npy or NAME=random for each"
        )
    return sources


ShapeCheck = Callable[[tuple[int, ...]], None]
"""Raises UsageError when an input shape does not fit the model or engine."""


def read_source(
    name: str,
    source: str,
    shape: tuple[int, ...],
    dtype: np.dtype | type,
    seed: int,
    position: int,
    check: ShapeCheck | None = None,
    value_range: ValueRange | None = None,
) -> np.ndarray:
    """The array of one ``--input`` source: ``random[:SEED]`` (``shape``, ``dtype``; integers
    drawn from ``value_range``, the input's declared range) or a ``.npy`` file (read as it
    is; its values must lie in ``value_range``). ``check`` sees the shape first: the random
    one, or the one the file's header declares, before any data is allocated or read."""
    if source == "random" or source.startswith("random:"):
        text = source.partition(":")[2]
        if source != "random" and not text.isdigit():
            raise UsageError(f"--input {name}={source}: expected random or random:SEED")
        if check is not None:
            check(shape)
        return seeded_array(shape, dtype, int(text) if text else seed, position, value_range)
    if source.lower().endswith(".npz"):
        raise UsageError(f"--input {name}={source}: an .npz archive, expected one .npy")

    def check_header(header: ArrayHeader) -> None:
        if check is not None:
            check(header.shape)

    array = load_npy(source, f"--input {name}={source}", check=check_header)
    check_value_range(array, value_range, f"--input {name}={source}")
    return array


def _is_random(source: str) -> bool:
    return source == "random" or source.startswith("random:")


def model_inputs(
    graph: Graph,
    specs: Sequence[str],
    seed: int = 0,
    shapes: Mapping[str, tuple[int, ...]] | None = None,
    given: Mapping[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """The input arrays of ``graph`` named by ``--input`` specs (random by default, symbolic
    dimensions at their opt size unless ``shapes`` fixes them), each checked against the
    declared shape and ranges. ``given``: inputs already made (e.g. decoded photos)."""
    given = dict(given or {})
    sources = input_sources(specs, graph.inputs, "model", tuple(given))
    sizes = graph.sizes("opt")
    planned = {
        name: tuple(given[name].shape)
        if name in given
        else tuple((shapes or {}).get(name, graph.types[name].concrete(sizes)))
        for name in graph.inputs
    }
    if all(_is_random(sources.get(n, "random")) for n in graph.inputs if n not in given):
        require_graph_memory(graph, planned)  # files: their headers are checked as read
    result = {}
    for position, name in enumerate(graph.inputs):
        t = graph.types[name]
        shape = tuple((shapes or {}).get(name, t.concrete(sizes)))

        source = sources.get(name, "random")
        what = "--input" if _is_random(source) else f"--input {name}={source}: shape"

        def check(shape: tuple[int, ...], name: str = name, what: str = what) -> None:
            try:
                check_input_shape(graph, name, shape, what)
            except UsageError as e:
                raise UsageError(f"{e}{_shape_hint(graph, name, shape)}") from None

        value_range = graph.input_ranges.get(name)
        if name in given:
            array = given[name]
            check(tuple(array.shape))
            check_value_range(array, value_range, f"--input {name}")
        else:
            array = read_source(
                name, source, shape, t.dtype.to_numpy(), seed, position, check, value_range
            )
        result[name] = array
    require_graph_memory(graph, {n: tuple(a.shape) for n, a in result.items()})
    return result


def _shape_hint(graph: Graph, name: str, shape: tuple[int, ...]) -> str:
    """``; --shape x=1x3x160x160 runs the model at this size`` where only static sizes of
    the declared shape differ (``--shape`` re-infers the model for them), else ``""``."""
    declared = graph.types[name]
    if len(shape) != declared.rank or all(
        not isinstance(d, int) or d == s for d, s in zip(declared.shape, shape, strict=True)
    ):
        return ""
    text = "x".join(map(str, shape))
    return f"; --shape {name}={text} runs the model at this size"


def default_shape(t: IOTensor) -> tuple[int, ...]:
    """The static shape, or the profile's opt shape for a dynamic engine input."""
    if all(d >= 0 for d in t.shape):
        return t.shape
    if t.profile is None:
        raise UsageError(f"input {t.name} has dynamic shape {t.shape}; give --shape {t.name}=DIMS")
    return t.profile[1]


def engine_inputs(
    inputs: Sequence[IOTensor],
    specs: Sequence[str] = (),
    shapes: Mapping[str, tuple[int, ...]] | None = None,
    seed: int = 0,
    ranges: Mapping[str, ValueRange] | None = None,
) -> dict[str, np.ndarray]:
    """Input arrays for an engine's inputs from ``--input`` specs and ``--shape`` sizes;
    ``ranges``: the integer inputs' declared value ranges (from the engine's sidecar)."""
    names = [t.name for t in inputs]
    unknown = [n for n in shapes or {} if n not in names]
    if unknown:
        raise UsageError(
            f"--shape {unknown[0]}: the engine has no input {unknown[0]!r}"
            f"{suggest(unknown[0], names)} (inputs: {', '.join(names)})"
        )
    sources = input_sources(specs, names, "engine")
    result = {}
    for position, t in enumerate(inputs):
        shape = (shapes or {}).get(t.name) or default_shape(t)
        what = "--shape" if t.name in (shapes or {}) else "--input"

        def check(shape: tuple[int, ...], t: IOTensor = t, what: str = what) -> None:
            check_engine_input_shape(t, shape, what)

        result[t.name] = read_source(
            t.name,
            sources.get(t.name, "random"),
            shape,
            t.dtype,
            seed,
            position,
            check,
            (ranges or {}).get(t.name),
        )
    return result


def check_engine_input_shape(t: IOTensor, shape: tuple[int, ...], what: str) -> None:
    """UsageError unless ``shape`` fits engine input ``t``: its rank, its static dimensions
    and its optimization profile (checked before anything of that shape is allocated)."""
    text = "x".join(map(str, shape)) or "scalar"
    declared = "x".join("?" if d < 0 else str(d) for d in t.shape) or "scalar"
    if len(shape) != len(t.shape):
        raise UsageError(
            f"{what} {t.name}={text}: the engine's input has {len(t.shape)} dimensions ({declared})"
        )
    if any(d >= 0 and d != s for d, s in zip(t.shape, shape, strict=True)):
        raise UsageError(f"{what} {t.name}={text}: does not fit the engine's input {declared}")
    if t.profile is not None:
        low, _, high = t.profile
        if not all(lo <= s <= hi for lo, s, hi in zip(low, shape, high, strict=True)):
            lo_text, hi_text = ("x".join(map(str, p)) for p in (low, high))
            raise UsageError(
                f"{what} {t.name}={text}: outside the engine's optimization profile "
                f"{lo_text} .. {hi_text}"
            )


def letterboxed_photo(graph: Graph, specs: Sequence[str]) -> tuple[str, str, Any, Any]:
    """The one photo among ``--input`` specs, letterboxed for a detector input as Ultralytics
    does: (spec, input name, (1, 3, H, W) array, (Letterbox, original RGB image)). The input
    size must be a multiple of the detection head's largest stride (32 without anchor nodes),
    as ``load_graph`` checks for a ``--shape``."""
    from trtdsl.vision import prepare_image

    photos = [s for s in specs if is_image(s)]
    if len(photos) != 1:
        raise UsageError(
            f"--boxes draws on one photo: give one --input [NAME=]PHOTO.jpg (got {len(photos)})"
        )
    spec = photos[0]
    name, path = _photo_target(graph, spec)
    head = largest_stride(graph)
    array, box, image = prepare_image(path, graph.types[name].shape, head[1] if head else 32)
    return spec, name, array, (box, image)


def photo_inputs(
    graph: Graph, specs: Sequence[str], model_spec: str
) -> tuple[dict[str, np.ndarray], list[str]]:
    """The photos among ``--input`` specs, preprocessed as the model's ``preprocess:``
    declares (ImageNet's by default) into (N, C, H, W) arrays (one photo repeated over a static
    batch); returns (input name -> array, the other specs)."""
    photos = [s for s in specs if is_image(s)]
    if not photos:
        return {}, list(specs)
    from trtdsl.frontend.load import resolve_model_path
    from trtdsl.vision.photos import load_photo, resolve_preprocess
    from trtdsl.vision.preprocess import Preprocess, read_model_preprocess

    declared = read_model_preprocess(resolve_model_path(model_spec))
    preprocess = Preprocess.from_mapping(declared, f"{model_spec}: preprocess")
    given: dict[str, np.ndarray] = {}
    for spec in photos:
        name, path = _photo_target(graph, spec)
        t = graph.types[name]
        resolved = resolve_preprocess(preprocess, t, f"--input {spec}")
        sample = load_photo(path, resolved, int(t.shape[1]), UsageError)
        batch = t.shape[0] if isinstance(t.shape[0], int) else 1
        given[name] = np.ascontiguousarray(
            np.broadcast_to(sample, (batch, *sample.shape)), dtype=t.dtype.to_numpy()
        )
    return given, [s for s in specs if s not in photos]


def _photo_target(graph: Graph, spec: str) -> tuple[str, str]:
    """(input name, file) of a photo ``--input`` spec (a bare file for a one-input model)."""
    name, sep, path = spec.partition("=")
    if not sep:
        if len(graph.inputs) != 1:
            raise UsageError(f"--input {spec!r}: the model has several inputs; write NAME=PHOTO")
        name, path = graph.inputs[0], spec
    if name not in graph.inputs:
        raise UsageError(
            f"--input {spec!r}: the model has no input {name!r}{suggest(name, graph.inputs)}"
        )
    return name, path
