"""Input arrays for an engine without its model: ``--input`` / ``--shape`` against engine I/O.

Same conventions as ``trtdsl run`` on a model: ``NAME=FILE.npy``, ``NAME=random[:SEED]``, or a
bare source for a one-input engine; without ``--input`` every input is seeded random. Dynamic
dimensions take the optimization profile's opt size unless ``--shape NAME=DIMS`` fixes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from trtdsl.errors import UsageError
from trtdsl.ir.ops.base import suggest
from trtdsl.runtime.runner import IOTensor


def parse_dims(text: str) -> tuple[int, ...]:
    """``"1x3x224x224"`` (or ``1,3,224,224``) -> ``(1, 3, 224, 224)``."""
    parts = text.replace(",", "x").split("x")
    if not text or not all(p.isdigit() for p in parts):
        raise UsageError(f"bad shape {text!r}; expected sizes like 1x3x224x224")
    return tuple(int(p) for p in parts)


def parse_shape_specs(
    specs: Sequence[str], inputs: Sequence[IOTensor]
) -> dict[str, tuple[int, ...]]:
    """``["x=8x3x224x224"]`` -> ``{"x": (8, 3, 224, 224)}``, checked against engine inputs."""
    names = [t.name for t in inputs]
    shapes: dict[str, tuple[int, ...]] = {}
    for spec in specs:
        name, sep, dims = spec.partition("=")
        if not sep:
            if len(names) != 1:
                raise UsageError(f"--shape {spec!r}: write NAME=DIMS (inputs: {', '.join(names)})")
            name, dims = names[0], spec
        if name not in names:
            raise UsageError(
                f"--shape {spec!r}: the engine has no input {name!r}{suggest(name, names)} "
                f"(inputs: {', '.join(names)})"
            )
        shapes[name] = parse_dims(dims)
    return shapes


def default_shape(t: IOTensor) -> tuple[int, ...]:
    """The static shape, or the profile's opt shape for a dynamic input."""
    if all(d >= 0 for d in t.shape):
        return t.shape
    if t.profile is None:
        raise UsageError(f"input {t.name} has dynamic shape {t.shape}; give --shape {t.name}=DIMS")
    return t.profile[1]


def random_array(t: IOTensor, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Seeded standard-normal floats (integers 0..9, booleans) of ``t``'s dtype."""
    rng = np.random.default_rng(seed)
    if t.dtype.kind == "f":
        return rng.standard_normal(shape).astype(t.dtype)
    if t.dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(t.dtype)
    return rng.integers(0, 10, shape).astype(t.dtype)


def engine_feed(
    inputs: Sequence[IOTensor],
    specs: Sequence[str] = (),
    shapes: Mapping[str, tuple[int, ...]] | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Input arrays for an engine's inputs from ``--input`` specs (see the module docstring)."""
    shapes = dict(shapes or {})
    names = [t.name for t in inputs]
    by_name = {t.name: t for t in inputs}
    sources: dict[str, str] = {}
    for spec in specs:
        name, sep, source = spec.partition("=")
        if not sep or (name not in names and len(names) == 1 and "/" in name):
            if len(names) != 1:
                raise UsageError(
                    f"--input {spec!r}: the engine has {len(names)} inputs "
                    f"({', '.join(names)}); write NAME=SOURCE"
                )
            name, source = names[0], spec
        if name not in names:
            raise UsageError(
                f"--input {spec!r}: the engine has no input {name!r}{suggest(name, names)} "
                f"(inputs: {', '.join(names)})"
            )
        if name in sources:
            raise UsageError(f"--input {spec!r}: input {name!r} given twice")
        sources[name] = source
    if specs:
        missing = [n for n in names if n not in sources]
        if missing:
            raise UsageError(
                f"no --input for {', '.join(missing)}; give NAME=FILE.npy or NAME=random for each"
            )
    feed = {}
    for name in names:
        t = by_name[name]
        source = sources.get(name, "random")
        if source == "random" or source.startswith("random:"):
            text = source.partition(":")[2]
            if source != "random" and not text.isdigit():
                raise UsageError(f"--input {name}={source}: expected random or random:SEED")
            shape = shapes.get(name) or default_shape(t)
            feed[name] = random_array(t, shape, int(text) if text else seed)
            continue
        try:
            array = np.load(source, allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise UsageError(f"--input {name}={source}: cannot read it as .npy: {reason}") from None
        if not isinstance(array, np.ndarray):
            raise UsageError(f"--input {name}={source}: an .npz archive, expected one .npy")
        feed[name] = array
    return feed
