"""Send one request to a model that ``trtdsl export MODEL --weights W --triton REPO`` wrote, once
Triton Inference Server serves the repository.

On the GPU machine (the engine must be built there with TensorRT: ``--backend auto`` picks it;
a TensorRT-RTX engine does not load in Triton's tensorrt_plan backend):

    trtdsl export resnet50 --weights resnet50.safetensors --triton repo
    tritonserver --model-repository repo
    python examples/triton_client.py --model resnet50 [--url localhost:8000] [--batch 4]
    python examples/triton_client.py --model resnet50 --input x=image.npy

The script asks the server for the model's inputs (KServe v2 metadata), sends a seeded random
batch (or the given .npy files), and prints each output's shape and, for classifier logits, the
top-5 classes of every row. Needs ``pip install 'tritonclient[http]'``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

NUMPY_TYPES = {
    "FP32": np.float32,
    "FP16": np.float16,
    "INT64": np.int64,
    "INT32": np.int32,
    "INT8": np.int8,
    "UINT8": np.uint8,
    "BOOL": np.bool_,
}
"""KServe v2 datatype -> NumPy dtype (BF16 has no NumPy type: send FP32 models instead)."""


def request_arrays(
    metadata: Mapping[str, Any],
    batch: int,
    seed: int = 0,
    given: Mapping[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """One array per model input: ``given`` ones as they are, the others seeded random with
    the metadata's shape (-1, the batch dimension of a batching model, becomes ``batch``)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for spec in metadata["inputs"]:
        name, datatype = spec["name"], spec["datatype"]
        if datatype not in NUMPY_TYPES:
            raise SystemExit(f"input {name}: datatype {datatype} is not supported here")
        if given and name in given:
            arrays[name] = given[name].astype(NUMPY_TYPES[datatype])
            continue
        shape = [int(d) for d in spec["shape"]]
        if -1 in shape[1:]:
            raise SystemExit(f"input {name}: shape {shape} is dynamic; pass --input {name}=FILE")
        shape = [batch if d == -1 else d for d in shape]
        arrays[name] = rng.standard_normal(shape).astype(NUMPY_TYPES[datatype])
    return arrays


def top5(logits: np.ndarray) -> list[list[int]]:
    """The five largest classes of each row, best first."""
    rows = logits.reshape(logits.shape[0], -1)
    return [list(map(int, np.argsort(-row)[:5])) for row in rows]


def parse_inputs(items: Sequence[str]) -> dict[str, np.ndarray]:
    """``NAME=FILE.npy`` items -> arrays."""
    arrays = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"--input {item!r}: expected NAME=FILE.npy")
        arrays[name] = np.load(path)
    return arrays


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="the model's name in the repository")
    parser.add_argument("--url", default="localhost:8000", help="Triton's HTTP endpoint")
    parser.add_argument("--batch", type=int, default=1, help="rows of a random batch (1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy")
    args = parser.parse_args(argv)

    import tritonclient.http as httpclient  # pip install 'tritonclient[http]'

    client = httpclient.InferenceServerClient(url=args.url)
    if not client.is_model_ready(args.model):
        print(f"{args.model}: not ready on {args.url}", file=sys.stderr)
        return 1
    metadata = client.get_model_metadata(args.model)
    arrays = request_arrays(metadata, args.batch, args.seed, parse_inputs(args.input))
    inputs = []
    for spec in metadata["inputs"]:
        array = arrays[spec["name"]]
        request = httpclient.InferInput(spec["name"], list(array.shape), spec["datatype"])
        request.set_data_from_numpy(array)
        inputs.append(request)
    outputs = [httpclient.InferRequestedOutput(spec["name"]) for spec in metadata["outputs"]]
    result = client.infer(args.model, inputs, outputs=outputs)
    for spec in metadata["outputs"]:
        value = result.as_numpy(spec["name"])
        print(f"{spec['name']}: {spec['datatype']} {list(value.shape)}")
        if value.ndim == 2 and value.shape[1] > 5:
            for row, classes in enumerate(top5(value)):
                print(f"  row {row}: top-5 classes {classes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
