"""YOLOv8n with TensorRT-RTX's NMS lowering (a WHILE loop), emulated engine, run through the
runtime in device memory; the detections must be an NMS of the reference's candidates.
Level: "GPU without TensorRT". ``--memory host`` runs the same check on a machine without one.
"""

from __future__ import annotations

import argparse

import numpy as np

from trtdsl.backends.reference import run_reference
from trtdsl.backends.trt import BuildConfig, build_engine, emit_network, import_trt, prepare_graph
from trtdsl.debug.detections import check_detections, nms_node, with_candidates
from trtdsl.frontend.load import load_model
from trtdsl.ir.ops.detection import NMS
from trtdsl.passes.nms import add_nms_stage
from trtdsl.runtime.engines import deserialize
from trtdsl.runtime.runner import EngineRunner
from trtdsl.weights import random_weights


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory", default="device", choices=["device", "host"])
    args = parser.parse_args()
    graph = add_nms_stage(load_model("yolov8n", {"x": (2, 3, 320, 320)}))
    weights = random_weights(graph, seed=0)
    trt = import_trt("emulated")
    prepared, prepared_weights = prepare_graph(graph, weights, "fp32")
    emitted = emit_network(trt, prepared, prepared_weights, product="tensorrt-rtx")
    loaded = deserialize(build_engine(emitted, BuildConfig()), trt, "yolov8n + NMS")
    x = np.random.default_rng(0).uniform(0, 1, (2, 3, 320, 320)).astype(np.float32)
    with EngineRunner(loaded.engine, trt, memory=args.memory) as runner:
        got = runner.infer({"x": x})
    node = nms_node(graph)
    assert node is not None and isinstance(node.op, NMS)
    want = run_reference(with_candidates(graph, node), weights, {"x": x})
    found = check_detections(node.op, got, want, 1e-4)
    print(
        f"memory {args.memory}: detections {found.rows} (reference {found.reference_rows}), "
        f"box error {found.box_error:.3g} px, score error {found.score_error:.3g}, "
        f"problems: {list(found.problems) or 'none'}"
    )
    return 1 if found.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
