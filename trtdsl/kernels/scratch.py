"""Per-thread scratch buffers that kernels reuse from call to call (contents undefined)."""

from __future__ import annotations

import math
import threading

import numpy as np

_SCRATCH = threading.local()


def scratch(slot: str, shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
    """A C-contiguous buffer of ``shape`` owned by this thread and ``slot``.

    Reusing warm memory avoids page faults on fresh allocations for every tile; a slot only
    grows (to the largest request seen in this thread) and its contents are undefined. A slot
    is valid until this thread asks for the same slot again.
    """
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    buffers: dict[str, np.ndarray] | None = getattr(_SCRATCH, "buffers", None)
    if buffers is None:
        buffers = _SCRATCH.buffers = {}
    buffer = buffers.get(slot)
    if buffer is None or buffer.nbytes < nbytes:
        buffer = buffers[slot] = np.empty(max(nbytes, 64), np.uint8)
    return buffer[:nbytes].view(dtype).reshape(shape)
