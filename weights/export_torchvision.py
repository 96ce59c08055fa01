"""Export a torchvision model's state_dict as a safetensors file that the trtdsl zoo binds.

    python weights/export_torchvision.py resnet50 -o resnet50.safetensors --pretrained
    python weights/export_torchvision.py resnet18 -o r18-random.safetensors --seed 0

Without ``--pretrained`` nothing is downloaded: the architecture is built with torchvision's
own random initialisation under ``torch.manual_seed(SEED)``. With ``--pretrained`` torchvision
fetches its DEFAULT weights (into the torch hub cache) the first time.

Keys are torchvision's state_dict keys unchanged (``layer1.0.conv1.weight``), which are the
zoo's node names, so the file binds with no renaming; ``num_batches_tracked`` is kept (trtdsl
treats it as optional, as PyTorch does). Needs ``torch`` and ``torchvision``; not run in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Sequence

AUX_PREFIXES = {
    "googlenet": ("aux1.", "aux2."),
    "inception_v3": ("AuxLogits.",),
    # torchvision's pretrained segmenters come with an auxiliary FCN head on layer3 / C4.
    "fcn_resnet50": ("aux_classifier.",),
    "fcn_resnet101": ("aux_classifier.",),
    "deeplabv3_resnet50": ("aux_classifier.",),
    "deeplabv3_mobilenet_v3_large": ("aux_classifier.",),
}
"""state_dict prefixes of training-only auxiliary heads, per torchvision model name."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="export_torchvision.py",
        description="Export a torchvision classification model's weights to safetensors.",
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help="a torchvision.models name: resnet18, resnet50, ...")
    parser.add_argument("-o", "--output", required=True, metavar="FILE.safetensors")
    parser.add_argument(
        "--pretrained",
        action="store_true",
        help="download torchvision's DEFAULT pretrained weights (otherwise: random init)",
    )
    parser.add_argument("--seed", type=int, default=0, help="torch.manual_seed for random init")
    parser.add_argument(
        "--no-check", action="store_true", help="skip binding the file to the trtdsl zoo model"
    )
    args = parser.parse_args(argv)

    try:
        import torch
        import torchvision
        from safetensors.torch import save_file
    except ImportError as e:
        print(f"export_torchvision: needs torch, torchvision and safetensors: {e}", file=sys.stderr)
        return 2

    weights = "DEFAULT" if args.pretrained else None
    torch.manual_seed(args.seed)
    try:
        model = torchvision.models.get_model(args.model, weights=weights)
    except (ValueError, KeyError) as e:
        print(f"export_torchvision: unknown model {args.model!r}: {e}", file=sys.stderr)
        return 2
    model.eval()
    # The zoo's googlenet/inception_v3 are inference graphs without the auxiliary classifiers
    # (training-only heads). torchvision keeps them whenever weights are loaded (and by default
    # without), so their keys are dropped here rather than reported as unexpected at binding.
    aux = AUX_PREFIXES.get(args.model, ())
    state = {
        k: v.detach().clone().contiguous()
        for k, v in model.state_dict().items()
        if not k.startswith(aux)
    }
    dropped = len(model.state_dict()) - len(state)
    if dropped:
        print(
            f"export_torchvision: left out {dropped} tensors of the auxiliary classifiers "
            f"({', '.join(p + '*' for p in aux)}), which the inference graph does not have"
        )
    metadata = {
        "format": "pt",
        "source": f"torchvision.models.{args.model}",
        "torchvision": str(torchvision.__version__),
        "weights": "DEFAULT (pretrained)" if args.pretrained else f"random, seed {args.seed}",
    }
    directory = os.path.dirname(os.path.abspath(args.output))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(args.output)}.", dir=directory)
    os.close(fd)
    try:
        save_file(state, tmp, metadata)
        os.replace(tmp, args.output)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    count = sum(v.numel() for v in state.values())
    print(f"wrote {args.output}: {len(state)} tensors, {count:,} elements ({metadata['weights']})")
    if not args.no_check:
        print(check_binding(args.model, args.output))
    return 0


def check_binding(model: str, path: str) -> str:
    """The trtdsl binding report of ``path`` against zoo model ``model``, or why not checked."""
    try:
        from trtdsl.frontend.load import load_model, zoo_models
        from trtdsl.weights import load_weights
    except ImportError:
        return "not checked: trtdsl is not importable"
    if model not in zoo_models():
        return f"not checked: {model} is not a trtdsl zoo model"
    return load_weights(path, load_model(model)).report()


if __name__ == "__main__":
    sys.exit(main())
