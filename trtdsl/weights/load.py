"""``load_weights``: the one entry point for a weights spec, a file path or ``random[:SEED]``."""

from __future__ import annotations

import os

from trtdsl.errors import WeightError
from trtdsl.ir.graph import Graph
from trtdsl.weights.bind import BoundWeights, Interface, _bind, bind_weights
from trtdsl.weights.random import random_weights
from trtdsl.weights.rename import RenameSpec
from trtdsl.weights.safetensors import open_safetensors

RANDOM_PREFIX = "random"


def parse_random_spec(spec: str) -> int | None:
    """The seed of a ``random`` / ``random:SEED`` spec, None for any other spec.

    Raises:
        WeightError for ``random:`` followed by anything but a non-negative integer.
    """
    if spec == RANDOM_PREFIX:
        return 0
    if not spec.startswith(RANDOM_PREFIX + ":"):
        return None
    text = spec[len(RANDOM_PREFIX) + 1 :]
    if not text.isascii() or not text.isdigit():
        raise WeightError(
            f"weights {spec!r}: expected random or random:SEED with SEED a non-negative "
            f"integer, got seed {text!r}"
        )
    return int(text)


def load_weights(
    spec: str | os.PathLike[str],
    graph: Graph,
    rename: RenameSpec | None = None,
    *,
    interface: Interface = "python",
) -> BoundWeights:
    """Load and bind weights for ``graph``.

    Args:
        spec: a ``.safetensors`` path, or ``random`` / ``random:SEED`` for seeded random
            weights (see ``random_weights``; write ``./random`` for a file called random).
        graph: the model to bind to.
        rename: extra checkpoint-key rename rules (files only; see ``bind_weights``).
        interface: ``"cli"`` phrases a suggested rename as ``--rename PATTERN REPLACEMENT``
            (the CLI passes it), ``"python"`` as ``rename={...}``.
    Returns:
        BoundWeights; ``source`` is the path or ``random:SEED``.
    Raises:
        WeightError for an unreadable file, a malformed spec or any binding problem.
    """
    text = os.fspath(spec)
    seed = parse_random_spec(text) if isinstance(text, str) else None
    if seed is not None:
        if rename:
            raise WeightError(f"weights {text!r}: rename rules apply to files, not random weights")
        # Random weights use the model's own keys: rename rules (for foreign checkpoints)
        # must not touch them.
        return _bind(graph, random_weights(graph, seed), (), f"random:{seed}")
    return bind_weights(graph, open_safetensors(text), rename, interface=interface)
