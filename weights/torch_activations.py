"""Dump a PyTorch model's activations, keyed by module path, for ``trtdsl compare --against``.

    python weights/torch_activations.py model.py:build --input x=x.npy -o acts.npz
    python weights/torch_activations.py torchvision:resnet18 --weights r18.safetensors \\
        --input x=x.npy -o acts.npz
    python weights/torch_activations.py timm:regnety_002 --weights w.safetensors \\
        --input x=x.npy -o acts.npz

A forward hook on every submodule saves a copy of its output (``layer1.0.conv1``: the same
name as the trtdsl node, because trtdsl's names are state_dict prefixes); the inputs are saved
under their names, so ``trtdsl compare MODEL --weights W --against acts.npz`` runs the model on
the same input and names the first node whose value differs. Outputs that are not one tensor
(tuples, dicts) are skipped; a module called several times keeps its last output. Needs torch
(and torchvision or timm for those models; timm models are built with ``pretrained=False``,
so nothing is downloaded: give the weights with ``--weights``).

A framework module need not end where the trtdsl node of its name does (timm's
``BatchNormAct2d`` ``stem.bn`` includes its activation; ``LayerNorm2d`` permutes around its
layer norm): ``compare --against`` matches such values to the trtdsl node they equal.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def torch_activations(model: Any, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run ``model`` (a torch.nn.Module, put in eval mode) on ``inputs`` (passed positionally,
    in order) and return every submodule's output by module path, plus the inputs."""
    import torch

    saved: dict[str, np.ndarray] = {}
    handles = []

    def hook(name: str) -> Any:
        def save(module: Any, args: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor):
                # A copy: a later in-place op (ReLU(inplace=True)) would change the tensor.
                saved[name] = output.detach().cpu().clone().numpy()

        return save

    model.eval()
    for name, module in model.named_modules():
        if name:
            handles.append(module.register_forward_hook(hook(name)))
    try:
        with torch.no_grad():
            model(*(torch.from_numpy(np.ascontiguousarray(a)) for a in inputs.values()))
    finally:
        for handle in handles:
            handle.remove()
    return {**{k: np.asarray(v) for k, v in inputs.items()}, **saved}


def _load_model(spec: str) -> Any:
    kind, _, name = spec.partition(":")
    if kind == "torchvision":
        import torchvision.models as models

        return getattr(models, name)()
    if kind == "timm":
        import timm

        return timm.create_model(name, pretrained=False)
    spec_obj = importlib.util.spec_from_file_location("_trtdsl_torch_model", kind)
    if spec_obj is None or spec_obj.loader is None:
        raise SystemExit(f"{kind}: cannot load this Python file")
    module = importlib.util.module_from_spec(spec_obj)
    spec_obj.loader.exec_module(module)
    return getattr(module, name or "build")()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="torch_activations.py",
        description="Save every submodule's output of a PyTorch model, keyed by module path.",
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "model",
        help="FILE.py:FUNCTION returning an nn.Module, torchvision:NAME or timm:NAME",
    )
    parser.add_argument("--weights", metavar="W.safetensors", help="a state_dict to load first")
    parser.add_argument("--input", action="append", required=True, metavar="NAME=FILE.npy")
    parser.add_argument("-o", "--output", required=True, metavar="ACTS.npz")
    args = parser.parse_args(argv)
    model = _load_model(args.model)
    if args.weights:
        import torch
        from safetensors.numpy import load_file

        state = {k: torch.from_numpy(v) for k, v in load_file(args.weights).items()}
        model.load_state_dict(state, strict=True)
    inputs = {}
    for spec in args.input:
        name, sep, path = spec.partition("=")
        if not sep:
            parser.error(f"--input {spec!r}: expected NAME=FILE.npy")
        inputs[name] = np.load(path, allow_pickle=False)
    activations = torch_activations(model, inputs)
    np.savez(args.output, **activations)  # type: ignore[arg-type]
    print(f"wrote {args.output}: {len(activations) - len(inputs)} module outputs and the inputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
