"""Choosing TensorRT, TensorRT-RTX or the CPU emulator, and the one place where they differ.

Every other file of the backend receives the chosen module as an argument (``trt``) and uses
only the network-definition API that TensorRT >= 10.8, 11.x and TensorRT-RTX >= 1.7 share.
Differences between the products and versions live below the marked line of this file.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from types import ModuleType
from typing import Any

from trtdsl.backends.trt.logger import CapturingLogger
from trtdsl.errors import BackendError, UsageError

BACKENDS = ("auto", "tensorrt", "tensorrt-rtx", "emulated")
"""``--backend`` values that build engines. ``auto``: tensorrt if it imports, else
tensorrt-rtx. (Commands that can also run the NumPy reference add ``reference``.)"""

MODULES = {"tensorrt": "tensorrt", "tensorrt-rtx": "tensorrt_rtx", "emulated": "trtdsl.emulator"}
"""Backend name -> the Python module it imports."""

PRODUCTS = {"tensorrt": "TensorRT", "tensorrt-rtx": "TensorRT-RTX"}

MIN_VERSIONS = {"tensorrt": (10, 8), "tensorrt-rtx": (1, 7)}
"""The oldest supported version of each product (IProgressMonitor, strong typing, *_nd)."""

INSTALL_HINT = (
    "install TensorRT-RTX (builds real engines, even on a machine without a GPU) with "
    "`pip install 'trtdsl[rtx]'`, or TensorRT on a machine with an NVIDIA GPU with "
    "`pip install 'trtdsl[trt]'`; `--backend emulated` uses trtdsl's CPU emulator of the "
    "TensorRT API instead (results labelled emulated, no engine written)"
)


class TensorRTMissingError(BackendError):
    """The chosen backend's module cannot be imported (or is too old)."""


def check_backend(backend: str) -> str:
    """``backend`` if it is one of BACKENDS, else UsageError naming the valid ones."""
    if backend not in BACKENDS:
        raise UsageError(f"--backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    return backend


def resolve_backend(backend: str) -> str:
    """The concrete backend ``auto`` stands for here (without importing anything heavy).

    Raises:
        TensorRTMissingError: ``auto`` and neither TensorRT nor TensorRT-RTX is installed.
    """
    if check_backend(backend) != "auto":
        return backend
    for name in ("tensorrt", "tensorrt-rtx"):
        if module_available(name):
            return name
    raise TensorRTMissingError(f"neither TensorRT nor TensorRT-RTX is installed: {INSTALL_HINT}")


def module_available(backend: str) -> bool:
    """Whether ``backend``'s module is installed (found on the path; not imported)."""
    try:
        return importlib.util.find_spec(MODULES[backend]) is not None
    except (ImportError, ValueError):
        return False


def import_trt(backend: str = "auto") -> ModuleType:
    """The module of ``backend``: ``tensorrt``, ``tensorrt_rtx`` or trtdsl's emulator.

    This is the only function in trtdsl that imports any of them.

    Raises:
        UsageError: an unknown backend name.
        TensorRTMissingError: the module is absent or too old (the message says how to install
            it and that ``--backend emulated`` exists).
    """
    backend = resolve_backend(backend)
    if backend == "emulated":
        return importlib.import_module(MODULES[backend])
    product = PRODUCTS[backend]
    try:
        trt = importlib.import_module(MODULES[backend])
    except ImportError as e:
        raise TensorRTMissingError(
            f"--backend {backend}: {product} is not installed ({e}); {INSTALL_HINT}"
        ) from None
    minimum = MIN_VERSIONS[backend]
    if version_tuple(trt) < minimum:
        raise TensorRTMissingError(
            f"{product} {trt.__version__} is too old: trtdsl needs >= "
            f"{'.'.join(map(str, minimum))}; upgrade it, or pass --backend emulated"
        )
    return trt


def backend_of(trt: ModuleType) -> str:
    """The backend name of an imported module: ``tensorrt``, ``tensorrt-rtx`` or ``emulated``."""
    if trt.__name__.startswith("trtdsl.emulator"):
        return "emulated"
    return "tensorrt-rtx" if trt.__name__.startswith("tensorrt_rtx") else "tensorrt"


def is_emulator(trt: ModuleType) -> bool:
    """True when ``trt`` is trtdsl's CPU emulator rather than a real TensorRT."""
    return backend_of(trt) == "emulated"


def is_rtx(trt: ModuleType) -> bool:
    """True when ``trt`` is TensorRT-RTX (ahead-of-time builds for RTX GPUs)."""
    return backend_of(trt) == "tensorrt-rtx"


def version_tuple(trt: ModuleType) -> tuple[int, ...]:
    """``trt.__version__`` as integers, e.g. ``(11, 4, 0, 106)``."""
    return tuple(int(p) for p in re.findall(r"\d+", str(trt.__version__))[:4])


def product_name(trt: ModuleType) -> str:
    """``"TensorRT"``, ``"TensorRT-RTX"`` or ``"trtdsl TensorRT emulator"``."""
    backend = backend_of(trt)
    return PRODUCTS.get(backend, "trtdsl TensorRT emulator")


def describe_version(trt: ModuleType) -> str:
    """``"TensorRT-RTX 1.7.1.116"``, ``"TensorRT 11.4.0.106"`` or the emulator's description
    (which says "emulated"), for output lines and sidecars."""
    if is_emulator(trt):
        return f"trtdsl TensorRT emulator (TensorRT {trt.__version__} API, CPU, emulated)"
    return f"{product_name(trt)} {trt.__version__}"


_LOGGERS: dict[str, CapturingLogger] = {}


def shared_logger(trt: ModuleType) -> CapturingLogger:
    """The one ILogger of this process for ``trt``, shared by every Builder and Runtime.

    NOTE: real TensorRT keeps one logger per process; a Builder or Runtime created with another
    logger object makes it log "logger passed into createInferBuilder differs" from inside the
    call while it holds an internal lock, and a garbage collection that frees an IBuilder during
    that callback deadlocks the process. So every caller takes this one. Callers read their own
    errors with ``mark()`` / ``errors_text(since)``.
    """
    logger = _LOGGERS.get(trt.__name__)
    if logger is None:
        logger = _LOGGERS[trt.__name__] = CapturingLogger(trt)
    return logger


# -- differences between products and versions: keep every one of them below this line ----------


def create_network(trt: ModuleType, builder: Any) -> Any:
    """A strongly typed network definition on TensorRT 10.x, 11.x and TensorRT-RTX.

    NOTE: STRONGLY_TYPED is required on 10.x (else the network is weakly typed and precision
    would depend on builder flags) and deprecated-but-accepted on 11.x and TensorRT-RTX, where
    every network is strongly typed. EXPLICIT_BATCH no longer exists in 11.x and is never used.
    https://docs.nvidia.com/deeplearning/tensorrt/latest/inference-library/advanced.html
    """
    flag = trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED
    return builder.create_network(1 << int(flag))


def progress_monitor_base(trt: ModuleType) -> Any:
    """``trt.IProgressMonitor`` (TensorRT >= 10.0), or None where the module lacks it."""
    return getattr(trt, "IProgressMonitor", None)


def _normal(name: str) -> str:
    return name.replace("_", "").upper()


_LAYER_CLASSES: dict[str, dict[str, Any]] = {}


def downcast_layer(trt: ModuleType, layer: Any) -> Any:
    """``layer`` as the concrete class of its LayerType (``IConvolutionLayer``, ...).

    NOTE: real TensorRT's ``network.get_layer(i)`` returns a base ``ILayer``, on which ``op``,
    ``to_type`` or the activation type are missing; the binding lets the Python class be
    swapped for the concrete one (Polygraphy does ``layer.__class__ = trt.IElementWiseLayer``).
    The emulator behaves the same way.
    """
    classes = _LAYER_CLASSES.get(trt.__name__)
    if classes is None:
        classes = {
            _normal(attr[1:-5]): getattr(trt, attr)
            for attr in dir(trt)
            if attr.startswith("I") and attr.endswith("Layer") and attr != "ILayer"
        }
        _LAYER_CLASSES[trt.__name__] = classes
    kind = str(getattr(layer.type, "name", layer.type)).rsplit(".", 1)[-1]
    cls = classes.get(_normal(kind))
    if cls is not None and not isinstance(layer, cls):
        layer.__class__ = cls
    return layer


def compute_capabilities(trt: ModuleType) -> tuple[int, ...]:
    """The compute capabilities (``86`` for sm_86) ``trt`` can build for ahead of time; empty
    for products without ahead-of-time targets (TensorRT, the emulator)."""
    enum = getattr(trt, "ComputeCapability", None)
    if enum is None or not is_rtx(trt):
        return ()
    return tuple(int(m[2:]) for m in dir(enum) if re.fullmatch(r"SM\d+", m))


def set_compute_capabilities(trt: ModuleType, config: Any, targets: tuple[int, ...]) -> None:
    """Ask TensorRT-RTX for an ahead-of-time build for ``targets`` (e.g. ``(86, 89)``);
    empty: its default portable set.

    Raises:
        UsageError: targets given to a product that cannot build ahead of time, or a target
            the product does not know (the message lists the valid ones).
    """
    if not targets:
        return
    valid = compute_capabilities(trt)
    if not valid:
        raise UsageError(
            f"--compute-capability: {product_name(trt)} builds for the GPU it runs on; only "
            "TensorRT-RTX (--backend tensorrt-rtx) builds ahead of time for chosen GPUs"
        )
    unknown = [cc for cc in targets if cc not in valid]
    if unknown:
        raise UsageError(
            f"--compute-capability {','.join(map(str, unknown))}: {describe_version(trt)} "
            f"builds for {', '.join(map(str, valid))}"
        )
    config.num_compute_capabilities = len(targets)
    for index, cc in enumerate(targets):
        config.set_compute_capability(getattr(trt.ComputeCapability, f"SM{cc}"), index)


def has_timing_cache(trt: ModuleType) -> bool:
    """Whether ``trt`` keeps a timing cache. NOTE: TensorRT-RTX's timing-cache calls are
    deprecated no-ops (it warns "Timing cache operations are no-ops in TensorRT-RTX")."""
    return not is_rtx(trt)


def describe_targets(trt: ModuleType, targets: tuple[int, ...]) -> str:
    """The GPUs an engine built with ``targets`` runs on, in words, for output and sidecars."""
    if is_emulator(trt):
        return "emulated: runs only in trtdsl's emulator"
    if not is_rtx(trt):
        return "the GPU it was built on (and GPUs of the same model)"
    if not targets:
        return "TensorRT-RTX's default portable set of GPUs (ahead of time)"
    return "ahead of time for " + ", ".join(f"sm_{cc}" for cc in targets)


def add_normalization(
    trt: ModuleType, network: Any, input: Any, scale: Any, bias: Any, axes: int
) -> Any:
    """An INormalizationLayer over the ``axes`` bitmask (``scale``/``bias``: tensors of the
    input's rank).

    NOTE: ``add_normalization`` is deprecated since TensorRT 10.15 in favour of
    ``add_normalization_v2`` (same arguments; v2 takes per-channel scale/bias for GroupNorm);
    TensorRT-RTX 1.7 and 11.x have both, the emulator and older TensorRT only the first.
    https://docs.nvidia.com/deeplearning/tensorrt/latest/_static/python-api/infer/Graph/Network.html
    """
    add = getattr(network, "add_normalization_v2", None) or network.add_normalization
    return add(input, scale, bias, axes)


def has_nms_layer(product: str) -> bool:
    """Whether ``product`` (a backend name) runs INMSLayer: TensorRT and the emulator do;
    TensorRT-RTX 1.7 builds none ("has no runners that implement it", NVIDIA/TensorRT-RTX#5),
    so ``nms`` is emitted from other layers for it (``ops/nms_layers.py``)."""
    return product != "tensorrt-rtx"


def fused_attention_available(trt: ModuleType) -> bool:
    """Whether ``trt`` has ``INetworkDefinition.add_attention_v2`` (TensorRT >= 10.15 and 11.x,
    TensorRT-RTX >= 1.2); without it attention is emitted as matmul, softmax, matmul."""
    return hasattr(trt.INetworkDefinition, "add_attention_v2")


def add_attention(
    trt: ModuleType,
    network: Any,
    query: Any,
    key: Any,
    value: Any,
    causal: bool = False,
    mask: Any = None,
) -> Any:
    """A fused IAttention (softmax) on (N, heads, L, head_dim) tensors, allowed to decompose
    where the target has no fused kernel; ``causal``: query i sees keys j <= i (the upper-left
    triangle, as PyTorch's ``is_causal``); ``mask``: a 4-D bool or query-typed float tensor
    broadcastable to (N, heads, L, S).

    NOTE: TensorRT computes softmax(Q K^T + mask) V: the 1/sqrt(head_dim) scale must already
    be in Q. A mask and a causal kind exclude one another (``setMask`` refuses a mask on a
    causal attention): fold the triangle into the mask instead.
    https://docs.nvidia.com/deeplearning/tensorrt/latest/inference-library/transformers-fused-attention.html
    """
    if causal and mask is not None:
        raise ValueError("add_attention: a mask and causal exclude one another (trtdsl bug)")
    kind = trt.CausalMaskKind.UPPER_LEFT if causal else trt.CausalMaskKind.NONE
    layer = network.add_attention_v2(query, key, value, trt.AttentionNormalizationOp.SOFTMAX, kind)
    if layer is not None:
        layer.decomposable = True
        if mask is not None:
            layer.mask = mask
    return layer
