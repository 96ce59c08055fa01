"""Export a Hugging Face model's state_dict as a safetensors file that the trtdsl zoo binds.

    python weights/export_hf.py bert_base_uncased -o bert.safetensors --seed 0
    python weights/export_hf.py gpt2 -o gpt2.safetensors --checkpoint ~/models/gpt2
    python weights/export_hf.py gpt2 -o gpt2.safetensors --download

Three sources, and only the last one reaches the network:

- default: the architecture built from its default configuration (transformers' ``BertConfig()``
  is bert-base-uncased's, ``GPT2Config()`` gpt2's) with transformers' own random
  initialisation under ``torch.manual_seed(SEED)``; nothing is read or downloaded.
- ``--checkpoint PATH``: a local checkpoint (a directory written by ``save_pretrained``, or a
  snapshot in the Hugging Face cache), loaded with ``local_files_only=True``.
- ``--download``: the Hub's checkpoint (``--repo`` names another than the default), fetched
  into the Hugging Face cache the first time.

The zoo model's class is ``BertModel`` or ``GPT2Model`` (no head; a ``BertForMaskedLM`` or
``GPT2LMHeadModel`` checkpoint loads into it, as transformers does). Keys are its state_dict
keys unchanged (``encoder.layer.0.attention.self.query.weight``, ``h.0.attn.c_attn.weight``
in Conv1D's (in, out) layout), which are the zoo's node names, so the file binds with no
renaming; tensors are written as float32. The file is then bound to the zoo model and the
binding report printed. Needs ``torch``, ``transformers`` and ``safetensors``; not a trtdsl
dependency.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple


class HFModel(NamedTuple):
    """The transformers classes of a zoo model and the Hub checkpoint it reproduces."""

    model_class: str
    config_class: str
    repo: str


MODELS = {
    "bert_base_uncased": HFModel("BertModel", "BertConfig", "google-bert/bert-base-uncased"),
    "gpt2": HFModel("GPT2Model", "GPT2Config", "openai-community/gpt2"),
}
"""Zoo model name -> its transformers classes and Hub checkpoint."""


@contextlib.contextmanager
def _without_torchvision() -> Iterator[None]:
    """Hide torchvision while transformers imports: BERT and GPT-2 need none of it, and a
    torchvision built for another torch (as CI installs it) breaks transformers' import."""
    saved = sys.modules.get("torchvision", ...)
    if saved is ...:
        sys.modules["torchvision"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if saved is ...:
            sys.modules.pop("torchvision", None)


def load_hf_model(
    name: str,
    *,
    seed: int = 0,
    checkpoint: str | None = None,
    download: bool = False,
    repo: str | None = None,
) -> Any:
    """The transformers model of zoo model ``name`` in eval mode, float32.

    Args:
        name: a key of ``MODELS``.
        seed: ``torch.manual_seed`` for the random initialisation (no checkpoint).
        checkpoint: a local checkpoint directory, read with ``local_files_only=True``.
        download: load ``repo`` (default: the model's Hub checkpoint) from the Hub.
        repo: the Hub repository ``download`` fetches.
    Returns:
        a ``transformers.PreTrainedModel``.
    """
    import torch

    with _without_torchvision():
        import transformers

    entry = MODELS[name]
    model_class = getattr(transformers, entry.model_class)
    if checkpoint is not None:
        model = model_class.from_pretrained(checkpoint, local_files_only=True, dtype=torch.float32)
    elif download:
        model = model_class.from_pretrained(repo or entry.repo, dtype=torch.float32)
    else:
        torch.manual_seed(seed)
        model = model_class(getattr(transformers, entry.config_class)())
    return model.float().eval()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="export_hf.py",
        description="Export a Hugging Face model's weights to safetensors for the trtdsl zoo.",
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help=f"a zoo model: {', '.join(sorted(MODELS))}")
    parser.add_argument("-o", "--output", required=True, metavar="FILE.safetensors")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--checkpoint", metavar="PATH", help="a local checkpoint directory (nothing downloaded)"
    )
    source.add_argument(
        "--download", action="store_true", help="download the checkpoint from the Hugging Face Hub"
    )
    parser.add_argument("--repo", help="with --download: the Hub repository (default: the model's)")
    parser.add_argument("--seed", type=int, default=0, help="torch.manual_seed for random init")
    parser.add_argument(
        "--no-check", action="store_true", help="skip binding the file to the trtdsl zoo model"
    )
    args = parser.parse_args(argv)
    if args.model not in MODELS:
        print(
            f"export_hf: unknown model {args.model!r}; expected one of {', '.join(sorted(MODELS))}",
            file=sys.stderr,
        )
        return 2
    if args.checkpoint is not None and not os.path.isdir(args.checkpoint):
        print(f"export_hf: --checkpoint {args.checkpoint}: no such directory", file=sys.stderr)
        return 2
    if args.repo and not args.download:
        print("export_hf: --repo needs --download", file=sys.stderr)
        return 2
    try:
        import torch  # noqa: F401
        from safetensors.torch import save

        with _without_torchvision():
            import transformers
    except ImportError as e:
        print(f"export_hf: needs torch, transformers and safetensors: {e}", file=sys.stderr)
        return 2

    try:
        model = load_hf_model(
            args.model,
            seed=args.seed,
            checkpoint=args.checkpoint,
            download=args.download,
            repo=args.repo,
        )
    except OSError as e:  # transformers' error for a missing or incomplete checkpoint
        print(f"export_hf: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    if args.checkpoint is not None:
        weights = f"checkpoint {args.checkpoint}"
    elif args.download:
        weights = f"downloaded {args.repo or MODELS[args.model].repo}"
    else:
        weights = f"random, seed {args.seed}"
    metadata = {
        "format": "pt",
        "source": f"transformers.{MODELS[args.model].model_class}",
        "transformers": str(transformers.__version__),
        "weights": weights,
    }
    from trtdsl.errors import TrtdslError
    from trtdsl.files.writing import write_file

    try:
        write_file(args.output, save(state, metadata))
    except TrtdslError as e:
        print(f"export_hf: {e}", file=sys.stderr)
        return 2
    count = sum(v.numel() for v in state.values())
    print(f"wrote {args.output}: {len(state)} tensors, {count:,} elements ({weights})")
    if not args.no_check:
        print(check_binding(args.model, args.output))
    return 0


def check_binding(model: str, path: str) -> str:
    """The trtdsl binding report of ``path`` against zoo model ``model``."""
    from trtdsl.frontend.load import load_model
    from trtdsl.weights import load_weights

    return load_weights(path, load_model(model)).report()


if __name__ == "__main__":
    sys.exit(main())
