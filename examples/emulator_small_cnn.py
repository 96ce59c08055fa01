"""A small CNN (LeNet-style, for 28x28 digits) written by hand against the TensorRT Python API.

It runs unchanged on real TensorRT and on trtdsl's CPU emulator; only the import line below
differs (``import tensorrt as trt`` on a GPU machine). Buffers come from cuda-python when it is
installed and a GPU is present, and are plain NumPy host arrays otherwise (the emulator accepts
both; real TensorRT needs the GPU ones).

    python examples/emulator_small_cnn.py [--batch 4] [--seed 0]

prints the TensorRT version (the emulator's says "emulated") and the largest difference between
the engine's class probabilities and an independent NumPy reference.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import trtdsl.emulator as trt  # on a GPU machine with TensorRT: import tensorrt as trt

INPUT_NAME, OUTPUT_NAME = "input", "prob"
MAX_BATCH = 8


def make_weights(seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights in PyTorch layouts (conv OIHW = TensorRT GKCRS, linear (out, in))."""
    rng = np.random.default_rng(seed)

    def normal(*shape: int, scale: float) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    return {
        "conv1.weight": normal(20, 1, 5, 5, scale=0.2), "conv1.bias": normal(20, scale=0.1),
        "conv2.weight": normal(50, 20, 5, 5, scale=0.05), "conv2.bias": normal(50, scale=0.1),
        "fc1.weight": normal(500, 800, scale=0.03), "fc1.bias": normal(500, scale=0.1),
        "fc2.weight": normal(10, 500, scale=0.05), "fc2.bias": normal(10, scale=0.1),
    }  # fmt: skip


def add_linear(
    network: trt.INetworkDefinition, x: trt.ITensor, weight: np.ndarray, bias: np.ndarray, name: str
) -> trt.ITensor:
    """x (N, in) @ weight.T + bias: a constant, a matrix multiply and a broadcast sum."""
    w = network.add_constant(weight.shape, weight)
    w.name = f"{name}.weight"
    matmul = network.add_matrix_multiply(
        x, trt.MatrixOperation.NONE, w.get_output(0), trt.MatrixOperation.TRANSPOSE
    )
    matmul.name = f"{name}.matmul"
    b = network.add_constant((1, bias.shape[0]), bias)
    b.name = f"{name}.bias"
    add = network.add_elementwise(
        matmul.get_output(0), b.get_output(0), trt.ElementWiseOperation.SUM
    )
    add.name = name
    return add.get_output(0)


def populate_network(network: trt.INetworkDefinition, weights: dict[str, np.ndarray]) -> None:
    """conv 5x5 -> max pool 2 -> conv 5x5 -> max pool 2 -> fc 500 -> relu -> fc 10 -> softmax."""
    x = network.add_input(INPUT_NAME, trt.float32, (-1, 1, 28, 28))
    conv1 = network.add_convolution_nd(
        x, 20, (5, 5), kernel=weights["conv1.weight"], bias=weights["conv1.bias"]
    )
    conv1.name = "conv1"
    pool1 = network.add_pooling_nd(conv1.get_output(0), trt.PoolingType.MAX, (2, 2))
    pool1.stride_nd = (2, 2)  # TensorRT's default stride is 1, not the window
    pool1.name = "pool1"
    conv2 = network.add_convolution_nd(
        pool1.get_output(0), 50, (5, 5), weights["conv2.weight"], weights["conv2.bias"]
    )
    conv2.name = "conv2"
    pool2 = network.add_pooling_nd(conv2.get_output(0), trt.PoolingType.MAX, (2, 2))
    pool2.stride_nd = (2, 2)
    pool2.name = "pool2"
    flatten = network.add_shuffle(pool2.get_output(0))
    flatten.reshape_dims = (0, -1)  # (N, 50*4*4)
    flatten.name = "flatten"
    fc1 = add_linear(
        network, flatten.get_output(0), weights["fc1.weight"], weights["fc1.bias"], "fc1"
    )
    relu = network.add_activation(fc1, trt.ActivationType.RELU)
    relu.name = "relu"
    fc2 = add_linear(network, relu.get_output(0), weights["fc2.weight"], weights["fc2.bias"], "fc2")
    softmax = network.add_softmax(fc2)
    softmax.axes = 1 << 1  # the default would be axis 0 for a rank-2 tensor
    softmax.name = "softmax"
    prob = softmax.get_output(0)
    prob.name = OUTPUT_NAME
    network.mark_output(prob)


def build_engine(weights: dict[str, np.ndarray], logger: trt.ILogger) -> trt.ICudaEngine:
    """Build and deserialize the engine (weights must stay alive until the build returns)."""
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 30)
    config.clear_flag(trt.BuilderFlag.TF32)
    profile = builder.create_optimization_profile()
    shape = (1, 28, 28)
    profile.set_shape(INPUT_NAME, (1, *shape), (MAX_BATCH // 2, *shape), (MAX_BATCH, *shape))
    config.add_optimization_profile(profile)
    populate_network(network, weights)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise RuntimeError("the engine build failed (see the logger's messages)")
    return trt.Runtime(logger).deserialize_cuda_engine(plan)


def _cudart() -> object | None:
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        return None
    err, count = cudart.cudaGetDeviceCount()
    return cudart if int(err) == 0 and count > 0 else None


def infer(engine: trt.ICudaEngine, images: np.ndarray) -> np.ndarray:
    """Run the engine on images (N, 1, 28, 28) float32; returns probabilities (N, 10)."""
    context = engine.create_execution_context()
    context.set_input_shape(INPUT_NAME, images.shape)
    assert context.infer_shapes() == []
    out = np.empty(tuple(context.get_tensor_shape(OUTPUT_NAME)), dtype=np.float32)
    images = np.ascontiguousarray(images, dtype=np.float32)
    cudart = _cudart()
    if cudart is None:  # host pointers: only the emulator accepts these
        context.set_tensor_address(INPUT_NAME, images.ctypes.data)
        context.set_tensor_address(OUTPUT_NAME, out.ctypes.data)
        if not context.execute_async_v3(0):
            raise RuntimeError("execute_async_v3 failed")
        return out
    h2d, d2h = (
        cudart.cudaMemcpyKind.cudaMemcpyHostToDevice,
        cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost,
    )
    _, stream = cudart.cudaStreamCreate()
    _, d_in = cudart.cudaMalloc(images.nbytes)
    _, d_out = cudart.cudaMalloc(out.nbytes)
    try:
        context.set_tensor_address(INPUT_NAME, d_in)
        context.set_tensor_address(OUTPUT_NAME, d_out)
        cudart.cudaMemcpyAsync(d_in, images.ctypes.data, images.nbytes, h2d, stream)
        if not context.execute_async_v3(int(stream)):
            raise RuntimeError("execute_async_v3 failed")
        cudart.cudaMemcpyAsync(out.ctypes.data, d_out, out.nbytes, d2h, stream)
        cudart.cudaStreamSynchronize(stream)
    finally:
        cudart.cudaFree(d_in)
        cudart.cudaFree(d_out)
        cudart.cudaStreamDestroy(stream)
    return out


def reference(weights: dict[str, np.ndarray], images: np.ndarray) -> np.ndarray:
    """The same network in plain NumPy (float64), independent of TensorRT and trtdsl."""

    def conv(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        k = w.shape[-1]
        windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))
        return np.einsum("nchwij,ocij->nohw", windows, w) + b[None, :, None, None]

    def max_pool(x: np.ndarray) -> np.ndarray:
        n, c, h, w = x.shape
        return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))

    x = images.astype(np.float64)
    x = max_pool(conv(x, weights["conv1.weight"], weights["conv1.bias"]))
    x = max_pool(conv(x, weights["conv2.weight"], weights["conv2.bias"]))
    x = x.reshape(x.shape[0], -1)
    x = np.maximum(x @ weights["fc1.weight"].T + weights["fc1.bias"], 0)
    x = x @ weights["fc2.weight"].T + weights["fc2.bias"]
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    weights = make_weights(args.seed)
    images = np.random.default_rng(args.seed + 1).random((args.batch, 1, 28, 28), np.float32)
    engine = build_engine(weights, trt.Logger(trt.Logger.WARNING))
    probs = infer(engine, images)
    error = float(np.abs(probs - reference(weights, images)).max())
    print(
        f"TensorRT {trt.__version__}: probabilities {probs.shape}, max |diff| vs NumPy {error:.2e}"
    )
    return 0 if error < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
