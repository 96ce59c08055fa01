"""Zoo parity with torchvision: each zoo model binds a torchvision state_dict saved as
safetensors with no renaming, and its logits on the reference executor and on the emulated
TensorRT backend match torchvision's within max |error| <= 1e-4 * max |logit| (fp32).

For each model: ``torch.manual_seed(0)``, torchvision's model with ``weights=None`` (googlenet
and inception_v3 with ``aux_logits=False, init_weights=True``; ``transform_input`` stays False,
torchvision's default without weights), in eval mode, on the CPU, in float32. Its BatchNorm
running statistics are first calibrated: reset, then one forward pass of a seeded batch (8
images) with only the BatchNorm layers in training mode and ``momentum=None``. Freshly
initialised statistics (mean 0, var 1) leave googlenet's logits equal to the classifier bias
(its 0.01-std convs shrink activations to ~1e-13), which would test nothing, and make batch-norm
folding trivial. A comparison in float32 is only meaningful when the weights are well
conditioned, so each model must pass two checks first: torch's own float32 logits are within a
quarter of the bound of its float64 logits, and the logits depend on the features (zeroing the
last layer's weight changes them by >= 1% of their scale). Where the calibrated model fails the
first check (deep ResNets, inception_v3: see ``choose_model``) torchvision's plain init is used,
which passes; the table says which statistics each model used ("none": no BatchNorm).

The state_dict is saved with ``safetensors.torch.save_file`` and loaded with
``trtdsl.weights.load_weights`` (the path a user takes); its keys must equal the graph's
parameter keys exactly. The input is one seeded standard-normal batch (2 images; 224x224,
inception_v3 299x299) fed to torchvision, ``run_reference`` and the emulated engine
(``prepare_graph`` + ``emit_network`` + ``build_engine`` with ``import_trt("emulated")``, fp32
with TF32 off, the same path as ``trtdsl compile --emulate``). Emulated results are labelled
"emulated": they are not TensorRT engine results.

As a script (on the device machine, which has torchvision)::

    PYTHONPATH=$PWD python tests/gpu/test_zoo_parity.py --out DIR [MODEL ...]

writes ``DIR/zoo_parity.json`` and ``DIR/zoo_parity.md`` and exits 1 if any model fails.
Under pytest the tests are marked ``gpu`` (they run where the device suite runs) and skip
without torchvision.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from trtdsl.backends.reference import run_reference
from trtdsl.backends.trt import BuildConfig, build_engine, emit_network, import_trt, prepare_graph
from trtdsl.debug.check import run_plan
from trtdsl.frontend.load import load_model
from trtdsl.weights import load_weights

TOLERANCE = 1e-4
"""Pass when max |logits - torchvision| <= TOLERANCE * max |torchvision logits|."""
BATCH = 2
CALIBRATION_BATCH = 8
MODELS = (
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "vgg16",
    "vgg16_bn",
    "googlenet",
    "inception_v3",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "densenet121",
    "squeezenet1_1",
    "shufflenet_v2_x1_0",
    "efficientnet_b0",
)
TORCHVISION_KWARGS: dict[str, dict[str, Any]] = {
    "googlenet": {"aux_logits": False, "init_weights": True},
    "inception_v3": {"aux_logits": False, "init_weights": True},
}


def image_size(name: str) -> int:
    return 299 if name == "inception_v3" else 224


def torchvision_model(name: str, calibrate: bool) -> Any:
    """torchvision's ``name`` (seed 0, no weights) in eval mode; with ``calibrate``, its
    BatchNorm running statistics are those of one seeded batch."""
    import torch
    import torchvision

    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None, **TORCHVISION_KWARGS.get(name, {}))
    model.eval()
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    if calibrate and norms:
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # cumulative average: exactly this batch's statistics
            norm.train()
        size = image_size(name)
        generator = torch.Generator().manual_seed(1)
        with torch.no_grad():
            model(torch.randn(CALIBRATION_BATCH, 3, size, size, generator=generator))
        model.eval()
    return model


def conditioning(model: Any, images: np.ndarray) -> dict[str, float]:
    """How well a float32 comparison can test this model on ``images``.

    ``fp32_vs_fp64``: max |torch fp32 - torch fp64| / max |fp64 logits| (torch's own rounding
    error); ``feature_share``: max |logits - logits with the last layer's weight zeroed| /
    max |logits| (near 0 when the logits are only the classifier bias).
    """
    import copy

    import torch

    with torch.no_grad():
        fp32 = model(torch.from_numpy(images)).double().numpy()
        exact_model = copy.deepcopy(model).double()
        x = torch.from_numpy(images).double()
        exact = exact_model(x).numpy()
        last = [
            m for m in exact_model.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))
        ][-1]
        last.weight.zero_()
        bias_only = exact_model(x).numpy()
    scale = float(np.max(np.abs(exact)))
    return {
        "fp32_vs_fp64": float(np.max(np.abs(fp32 - exact))) / scale,
        "feature_share": float(np.max(np.abs(exact - bias_only))) / scale,
    }


def well_conditioned(cond: dict[str, float]) -> bool:
    """torch's own fp32 error is at most a quarter of the bound and the logits depend on the
    features."""
    return cond["fp32_vs_fp64"] <= TOLERANCE / 4 and cond["feature_share"] >= 1e-2


def choose_model(name: str, images: np.ndarray) -> tuple[Any, str, dict[str, dict[str, float]]]:
    """Calibrated BatchNorm statistics when well conditioned, else torchvision's plain init.

    Calibration keeps activations at unit scale (plain init leaves googlenet's logits equal to
    the classifier bias), but in deep ResNets the ReLU'd residual sums then drift to a large
    mean that every next BatchNorm subtracts, and torch's own float32 logits of ResNet-152 are
    4e-4 off its float64 ones; their plain init is well conditioned.
    Returns:
        (model, ``"calibrated"``, ``"init"`` or ``"none"`` (no BatchNorm), the conditioning
        of each variant tried).
    """
    tried: dict[str, dict[str, float]] = {}
    for calibrate in (True, False):
        model = torchvision_model(name, calibrate)
        variant = "calibrated" if calibrate else "init"
        tried[variant] = conditioning(model, images)
        if well_conditioned(tried[variant]):
            has_norms = any("running_mean" in key for key in model.state_dict())
            return model, variant if has_norms else "none", tried
    raise AssertionError(f"{name}: no well-conditioned torchvision weights: {tried}")


def max_errors(got: np.ndarray, want: np.ndarray) -> dict[str, Any]:
    """``max_abs``, ``ref_max``, ``max_rel`` and whether it passes, plus top-1 agreement."""
    err = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
    scale = float(np.max(np.abs(want)))
    return {
        "max_abs": err,
        "ref_max": scale,
        "max_rel": err / scale if scale > 0 else float("inf"),
        "passed": bool(err <= TOLERANCE * scale),
        "top1_equal": bool((got.argmax(1) == want.argmax(1)).all()),
    }


def check_model(name: str, workdir: Path, emulated: bool = True) -> dict[str, Any]:
    """Bind torchvision's state_dict unchanged and compare logits; returns a result row."""
    import torch
    import torchvision
    from safetensors.torch import save_file

    start = time.perf_counter()
    size = image_size(name)
    images = np.random.default_rng(0).standard_normal((BATCH, 3, size, size)).astype(np.float32)
    model, batch_norm_stats, tried = choose_model(name, images)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    path = workdir / f"{name}.safetensors"
    save_file(state, str(path))
    graph = load_model(name)
    graph_keys = {key for key, *_ in graph.params()}
    row: dict[str, Any] = {
        "model": name,
        "torchvision": torchvision.__version__,
        "torch": torch.__version__,
        "params": graph.num_parameters(),
        "torchvision_params": sum(p.numel() for p in model.parameters()),
        "macs": graph.num_macs(),
        "batch_norm_stats": batch_norm_stats,
        "conditioning": tried,
        "state_dict_keys": len(state),
        "keys_equal": set(state) == graph_keys,
        "missing_in_graph": sorted(set(state) - graph_keys)[:5],
        "missing_in_state_dict": sorted(graph_keys - set(state))[:5],
    }
    bound = load_weights(str(path), graph)  # no rename rules: names must match as they are
    with torch.no_grad():
        want = model(torch.from_numpy(images)).numpy()
    row["input"] = f"x={BATCH}x3x{size}x{size}"
    row["reference"] = max_errors(run_reference(graph, bound.arrays, {"x": images})["logits"], want)
    if emulated:
        trt = import_trt("emulated")
        prepared, weights = prepare_graph(graph, bound.arrays)
        plan = build_engine(emit_network(trt, prepared, weights), BuildConfig())
        got = run_plan(trt, plan, {"x": images})["logits"]
        row["emulated"] = max_errors(np.asarray(got), want)
    row["passed"] = (
        row["keys_equal"]
        and row["params"] == row["torchvision_params"]
        and row["reference"]["passed"]
        and (not emulated or row["emulated"]["passed"])
    )
    row["seconds"] = round(time.perf_counter() - start, 2)
    return row


def format_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The parity table (emulated results labelled as such)."""
    lines = [
        "| model | params | MACs | input | BN stats | keys bind unchanged "
        "| max rel error, reference | max rel error, emulated TensorRT | top-1 equal | pass |",
        "|---|---:|---:|---|---|---|---:|---:|---|---|",
    ]
    for r in rows:
        emulated = f"{r['emulated']['max_rel']:.2e} (emulated)" if "emulated" in r else "not run"
        lines.append(
            f"| {r['model']} | {r['params']:,} | {r['macs'] / 1e9:.2f} G | {r['input']} "
            f"| {r['batch_norm_stats']} "
            f"| {'yes' if r['keys_equal'] else 'NO'} | {r['reference']['max_rel']:.2e} "
            f"| {emulated} "
            f"| {'yes' if r['reference']['top1_equal'] else 'no'} "
            f"| {'yes' if r['passed'] else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="zoo parity against torchvision")
    parser.add_argument("models", nargs="*", default=list(MODELS))
    parser.add_argument("--out", required=True, help="directory for zoo_parity.json/.md")
    parser.add_argument("--no-emulated", action="store_true", help="reference backend only")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            try:
                row = check_model(name, Path(tmp), emulated=not args.no_emulated)
            except Exception as e:  # a broken model is a failed row, the others still run
                row = {"model": name, "passed": False, "error": f"{type(e).__name__}: {e}"}
            rows.append(row)
            print(json.dumps(row), flush=True)
            (out / "zoo_parity.json").write_text(json.dumps(rows, indent=2) + "\n")
    good = [r for r in rows if "error" not in r]
    (out / "zoo_parity.md").write_text(format_markdown(good))
    print(format_markdown(good))
    failed = [r["model"] for r in rows if not r["passed"]]
    print(f"{len(rows) - len(failed)}/{len(rows)} models pass; failed: {failed or 'none'}")
    return 1 if failed else 0


_HAS_TORCHVISION = importlib.util.find_spec("torchvision") is not None


@pytest.mark.gpu
@pytest.mark.skipif(not _HAS_TORCHVISION, reason="needs torchvision")
@pytest.mark.parametrize("name", MODELS)
def test_zoo_model_matches_torchvision(name: str, tmp_path: Path) -> None:
    row = check_model(name, tmp_path)
    assert row["keys_equal"], (row["missing_in_graph"], row["missing_in_state_dict"])
    assert row["params"] == row["torchvision_params"]
    assert row["reference"]["passed"], row["reference"]
    assert row["emulated"]["passed"], row["emulated"]


if __name__ == "__main__":
    sys.exit(main())
