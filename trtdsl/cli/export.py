"""``trtdsl export``: write a model and its weights as an ONNX file (for onnxruntime checks)."""

from __future__ import annotations

import argparse

from trtdsl.cli import _deploy_export as deploy
from trtdsl.cli.args import (
    add_model_argument,
    add_shape_option,
    add_weights_options,
    check_command_outputs,
    load_bound_weights,
    load_graph,
)

EXAMPLES = """examples:
  trtdsl export resnet50 --weights random --onnx resnet50.onnx
  trtdsl export zoo/resnet50.yaml --weights resnet50.safetensors --fold-bn --onnx r50.onnx
  trtdsl export resnet50 --weights random --shape x=1x3x224x224 --onnx r50-b1.onnx
  trtdsl export resnet50 --weights random --triton repo --max-batch-size 32 --instances 2
  trtdsl export resnet50 --weights random --polygraphy net.py
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a model with its weights to ONNX, Triton or Polygraphy",
        description=(
            "Write MODEL with weights W as an ONNX file: initializers are named by their "
            "state_dict keys, ONNX nodes by the model's node names, and symbolic dimensions "
            "become dim_param. Needs the onnx package (pip install 'trtdsl[onnx]')."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_argument(parser)
    add_weights_options(parser)
    outputs = parser.add_mutually_exclusive_group(required=True)
    outputs.add_argument("--onnx", metavar="OUT.onnx", help="the ONNX file to write")
    parser.add_argument(
        "--opset",
        type=int,
        default=17,
        help="ONNX opset (default 17; at least 11, and some ops need more: trtdsl ops lists "
        "the oldest each one exports with)",
    )
    add_shape_option(parser)
    parser.add_argument(
        "--fold-bn", action="store_true", help="fold batch-norms into convs before exporting"
    )
    deploy.add_deploy_options(parser, outputs)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from trtdsl.backends.onnx_export import export_onnx

    if not args.onnx:
        return deploy.run_deploy(args)
    deploy.refuse_deploy_options(args)
    check_command_outputs(args, [("--onnx", args.onnx)])
    graph = load_graph(args.model, args)
    weights = dict(load_bound_weights(args, graph).arrays)
    note = ""
    if args.fold_bn:
        from trtdsl.passes import fold_batchnorm, foldable_batchnorms

        note = f", {len(foldable_batchnorms(graph))} batch-norm(s) folded"
        graph, weights = fold_batchnorm(graph, weights)
    size = export_onnx(graph, weights, args.onnx, opset=args.opset)
    print(
        f"wrote {args.onnx}: model {graph.name}, {len(graph.nodes)} nodes{note}, "
        f"{len(weights)} weights, opset {args.opset}, {size / 2**20:.1f} MiB"
    )
    return 0
