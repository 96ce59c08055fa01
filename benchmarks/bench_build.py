"""Engine builds of the zoo: trtdsl's API path vs TensorRT-RTX's ONNX parser, in one run.

    python benchmarks/bench_build.py [--models resnet50,vgg16] [--repeat 3]
        [--precisions fp32,fp16] [--onnx-graph model|prepared] [--markdown PATH]
        [--json PATH] [--dump DIR] [--format table|json]

For each zoo model (``load_model(name)``, seeded random weights ``random_weights(graph, 0)``)
and each precision, the same model is built two ways by TensorRT-RTX on this machine's CPU
("real builder" level: NVIDIA's real INetworkDefinition and builder, a real serialized engine;
nothing runs):

- ``api``: trtdsl's API path: ``prepare_graph`` (batch norms folded, precision explicit),
  ``emit_network`` (one ``add_*`` call per op), ``build_engine``.
- ``onnx``: trtdsl's ONNX export (``to_onnx_model``, what ``export_onnx`` and ``trtdsl
  export`` write) of the same model and weights, read by
  TensorRT-RTX's own ``trt.OnnxParser`` into a network made the same way (strongly typed),
  then built by the same ``build_engine`` call: the builder configuration is identical by
  construction (TF32 cleared at fp32, the batch profile from the model's declared dims
  min/opt/max, the default optimization level unless ``--optimization-level``, profiling
  verbosity DETAILED, default compute-capability targets).

What the ONNX file holds: at fp32 (``--onnx-graph model``, the default) the model exactly as
``trtdsl export MODEL --weights random --onnx OUT`` writes it (batch norms unfolded: the
parser emits them as scale layers that the builder fuses); at fp16 always the graph the API
path emits (``prepare_graph(graph, weights, "fp16")``: batch norms folded, float16 weights,
cast nodes at the entry and exit), because a strongly typed network computes in the dtypes
its ONNX file declares. ``--onnx-graph prepared`` uses the prepared graph at fp32 too.

Per model and path, over ``--repeat`` builds (the two paths alternate, the order reversed
every other round, one fresh network per build, after one untimed warm-up build of a tiny
model per path), as medians:

- ``layers``: the network's layers (``network.num_layers``);
- ``build s``: the wall seconds of ``build_serialized_network`` (``BuildResult.seconds``);
- ``build CPU s``: the process's CPU seconds, all threads, over the same build
  (``time.process_time``): steadier than wall time on a machine that other work shares;
- ``engine MB``: the serialized engine's size (it varies by a few bytes between identical
  builds); ``engine layers``: the engine's layers as the builder reports them
  (``BuildResult.layer_information``);
- in the JSON only: the seconds to define the network (API: ``prepare_graph`` +
  ``emit_network``; ONNX: ``parse_from_file``) and every single measurement.

Ratios are api / onnx (below 1: the API path has fewer layers, builds faster, or its engine is
smaller).

``--models`` defaults to every zoo model; one that a path cannot build (an op without an ONNX
export, a parser failure) is listed as skipped and the run goes on.

One ``trt.ILogger`` object serves the whole process (``shared_logger(trt)``): a second logger
object can deadlock real TensorRT. Not run in tests.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any

from machine import cpu_model

PRECISIONS = ("fp32", "tf32", "fp16")


class Skipped(Exception):
    """A model that one of the paths cannot build (reported, and the run goes on)."""


@dataclass
class Build:
    """One build: the network's layers, seconds, the engine's bytes and layers."""

    layers: int
    define_s: float
    build_s: float
    build_cpu_s: float
    engine_bytes: int
    engine_layers: int


@dataclass
class PathResult:
    """One model built one way at one precision."""

    layers: int
    build_s: list[float]
    build_cpu_s: list[float]
    define_s: list[float]
    engine_bytes: list[int]
    engine_layers: list[int]

    @property
    def build_median(self) -> float:
        return statistics.median(self.build_s)

    @property
    def engine_bytes_median(self) -> float:
        return statistics.median(self.engine_bytes)

    @property
    def engine_layers_median(self) -> float:
        return statistics.median(self.engine_layers)

    @property
    def build_cpu_median(self) -> float:
        return statistics.median(self.build_cpu_s)

    @property
    def define_median(self) -> float:
        return statistics.median(self.define_s)


@dataclass
class Row:
    model: str
    precision: str
    onnx_graph: str
    api: PathResult
    onnx: PathResult

    def ratios(self) -> dict[str, float]:
        return {
            "layers": self.api.layers / self.onnx.layers,
            "build": self.api.build_median / self.onnx.build_median,
            "build_cpu": self.api.build_cpu_median / self.onnx.build_cpu_median,
            "bytes": self.api.engine_bytes_median / self.onnx.engine_bytes_median,
        }

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "model": self.model,
            "precision": self.precision,
            "onnx_graph": self.onnx_graph,
        }
        for name, path in (("api", self.api), ("onnx", self.onnx)):
            result[name] = {
                **asdict(path),
                "build_median_s": path.build_median,
                "build_cpu_median_s": path.build_cpu_median,
                "engine_bytes_median": path.engine_bytes_median,
                "define_median_s": path.define_median,
            }
        result["ratios"] = self.ratios()
        return result


class Bench:
    """Builds through both paths with one TensorRT-RTX module and one logger."""

    def __init__(self, trt: ModuleType, tmp: str, optimization_level: int | None) -> None:
        from trtdsl.backends.trt.module import shared_logger

        self.trt = trt
        self.tmp = tmp
        self.logger = shared_logger(trt)  # the process's one ILogger (see the docstring)
        self.optimization_level = optimization_level

    def config(self, precision: str) -> Any:
        from trtdsl.backends.trt import BuildConfig
        from trtdsl.ir.types import Precision

        return BuildConfig(Precision.parse(precision), optimization_level=self.optimization_level)

    def build(self, emitted: Any, precision: str) -> Build:
        """Build ``emitted`` with the benchmark's configuration."""
        from trtdsl.backends.trt.build import build_network

        cpu = time.process_time()
        result = build_network(emitted, self.config(precision))
        cpu = time.process_time() - cpu
        return Build(
            layers=int(emitted.network.num_layers),
            define_s=0.0,
            build_s=result.seconds,
            build_cpu_s=cpu,
            engine_bytes=len(result.plan),
            engine_layers=len(result.layer_information),
        )

    def api_once(self, graph: Any, weights: Any, precision: str) -> Build:
        """One API-path build: prepare, emit, build."""
        from trtdsl.backends.trt import emit_network, prepare_graph

        start = time.perf_counter()
        prepared, prepared_weights = prepare_graph(graph, weights, precision)
        emitted = emit_network(self.trt, prepared, prepared_weights, self.logger)
        define = time.perf_counter() - start
        build = self.build(emitted, precision)
        build.define_s = define
        del emitted
        gc.collect()
        return build

    def onnx_once(self, graph: Any, onnx_path: str, precision: str) -> Build:
        """One ONNX-parser build: parse the file into a strongly typed network, build.

        ``graph`` is the IR graph the file was exported from: the build reads only its name
        and input types (for the profile), so the configuration code is the API path's.
        """
        from trtdsl.backends.trt.emit import EmittedNetwork
        from trtdsl.backends.trt.module import create_network

        trt = self.trt
        start = time.perf_counter()
        builder = trt.Builder(self.logger.trt_logger)
        network = create_network(trt, builder)
        parser = trt.OnnxParser(network, self.logger.trt_logger)
        if not parser.parse_from_file(onnx_path):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise Skipped(f"TensorRT-RTX's ONNX parser failed: {errors}")
        define = time.perf_counter() - start
        emitted = EmittedNetwork(trt, graph, builder, network, self.logger)
        build = self.build(emitted, precision)
        build.define_s = define
        del emitted, parser, network, builder
        gc.collect()
        return build

    def onnx_file(self, graph: Any, weights: Any, name: str) -> str:
        """Export ``graph`` with ``weights`` to an ONNX file; returns its path.

        The IR keeps float32 parameter specs after the precision pass (the emitters cast), so
        a graph whose nodes compute in float16 is exported with float32 copies of its weights
        and the initializers are then replaced by the exact float16 arrays the API path hands
        to TensorRT: both paths build from the same values in the same dtypes.
        """
        import numpy as np
        from onnx import numpy_helper

        from trtdsl.backends.onnx_export import to_onnx_model

        as_float32 = {
            k: v.astype(np.float32) if v.dtype == np.float16 else v for k, v in weights.items()
        }
        model = to_onnx_model(graph, as_float32)
        for index, tensor in enumerate(model.graph.initializer):
            array = weights.get(tensor.name)
            if array is not None and array.dtype == np.float16:
                replacement = numpy_helper.from_array(np.ascontiguousarray(array), tensor.name)
                model.graph.initializer[index].CopyFrom(replacement)
        path = os.path.join(self.tmp, f"{name}.onnx")
        with open(path, "wb") as f:
            f.write(model.SerializeToString())
        return path

    def measure(
        self, model: str, precision: str, onnx_graph: str, repeat: int, dump: str | None
    ) -> Row:
        from trtdsl.backends.trt import prepare_graph
        from trtdsl.frontend.load import load_model
        from trtdsl.weights import random_weights

        graph = load_model(model)
        weights = random_weights(graph, seed=0)
        if precision == "fp16" or onnx_graph == "prepared":
            source, source_weights = prepare_graph(graph, weights, precision)
            kind = "prepared"
        else:
            source, source_weights = graph, weights
            kind = "model"
        onnx_path = self.onnx_file(source, source_weights, f"{model}-{precision}-{kind}")
        del source_weights
        results: dict[str, list[Build]] = {"api": [], "onnx": []}
        for r in range(repeat):
            order = ("api", "onnx") if r % 2 == 0 else ("onnx", "api")
            for path in order:
                if path == "api":
                    results[path].append(self.api_once(graph, weights, precision))
                else:
                    results[path].append(self.onnx_once(source, onnx_path, precision))
        if dump:
            self.dump_layers(dump, model, precision, graph, weights, source, onnx_path)
        os.unlink(onnx_path)
        paths = {}
        for path, runs in results.items():
            layers = {run.layers for run in runs}
            if len(layers) != 1:  # the network is deterministic; the engine's bytes are not
                raise SystemExit(f"{model} {path}: network layers differ between builds {layers}")
            paths[path] = PathResult(
                layers=layers.pop(),
                build_s=[run.build_s for run in runs],
                build_cpu_s=[run.build_cpu_s for run in runs],
                define_s=[run.define_s for run in runs],
                engine_bytes=[run.engine_bytes for run in runs],
                engine_layers=[run.engine_layers for run in runs],
            )
        return Row(model, precision, kind, paths["api"], paths["onnx"])

    def dump_layers(
        self,
        directory: str,
        model: str,
        precision: str,
        graph: Any,
        weights: Any,
        source: Any,
        onnx_path: str,
    ) -> None:
        """Write both networks' layer listings (``format_layers``) for a side-by-side diff."""
        from trtdsl.backends.trt import emit_network, format_layers, network_layers, prepare_graph
        from trtdsl.backends.trt.module import create_network

        os.makedirs(directory, exist_ok=True)
        prepared, prepared_weights = prepare_graph(graph, weights, precision)
        emitted = emit_network(self.trt, prepared, prepared_weights, self.logger)
        listing = format_layers(network_layers(self.trt, emitted.network))
        with open(os.path.join(directory, f"{model}-{precision}-api.txt"), "w") as f:
            f.write(listing + "\n")
        builder = self.trt.Builder(self.logger.trt_logger)
        network = create_network(self.trt, builder)
        parser = self.trt.OnnxParser(network, self.logger.trt_logger)
        parser.parse_from_file(onnx_path)
        listing = format_layers(network_layers(self.trt, network))
        with open(os.path.join(directory, f"{model}-{precision}-onnx.txt"), "w") as f:
            f.write(listing + "\n")
        del emitted, parser, network, builder
        gc.collect()

    def warm_up(self) -> None:
        """One untimed build per path of a tiny model (loads the builder's libraries)."""
        from trtdsl import ModelBuilder

        b = ModelBuilder("warmup")
        x = b.input("x", ("N", 3, 16, 16), dims={"N": (1, 2, 4)})
        y = b.relu(b.conv2d(x, out_channels=8, kernel_size=3, name="conv"), name="relu")
        b.output(b.linear(b.flatten(y, name="flatten"), out_features=4, name="fc"), "y")
        graph = b.build()
        from trtdsl.weights import random_weights

        weights = random_weights(graph, seed=0)
        self.api_once(graph, weights, "fp32")
        path = self.onnx_file(graph, weights, "warmup")
        self.onnx_once(graph, path, "fp32")
        os.unlink(path)


def environment(trt: ModuleType) -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "tensorrt": f"TensorRT-RTX {trt.__version__} (CPU build: real builder, no GPU)",
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def _mb(n: float) -> str:
    return f"{n / 1e6:.2f}"


HEADER = (
    "model",
    "prec",
    "layers api",
    "layers onnx",
    "ratio",
    "build s api",
    "build s onnx",
    "ratio",
    "build CPU s api",
    "build CPU s onnx",
    "ratio",
    "engine MB api",
    "engine MB onnx",
    "ratio",
    "engine layers api",
    "engine layers onnx",
)


def _cells(row: Row) -> list[str]:
    ratios = row.ratios()
    api, onnx = row.api, row.onnx
    return [
        row.model,
        row.precision,
        str(api.layers),
        str(onnx.layers),
        f"{ratios['layers']:.2f}",
        f"{api.build_median:.2f}",
        f"{onnx.build_median:.2f}",
        f"{ratios['build']:.2f}",
        f"{api.build_cpu_median:.2f}",
        f"{onnx.build_cpu_median:.2f}",
        f"{ratios['build_cpu']:.2f}",
        _mb(api.engine_bytes_median),
        _mb(onnx.engine_bytes_median),
        f"{ratios['bytes']:.4f}",
        f"{api.engine_layers_median:g}",
        f"{onnx.engine_layers_median:g}",
    ]


def text_table(rows: list[Row]) -> str:
    cells = [list(HEADER)] + [_cells(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    lines = []
    for index, row in enumerate(cells):
        lines.append(
            "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def summary(rows: list[Row]) -> list[str]:
    """The goal: the API path builds no slower and no larger than the parser on every model."""

    def names(key: str) -> str:
        found = [f"{r.model} {r.precision}" for r in rows if r.ratios()[key] > 1.0]
        return ", ".join(found) or "none"

    return [
        f"api builds slower than onnx (median wall time): {names('build')}",
        f"api builds slower than onnx (median CPU time): {names('build_cpu')}",
        f"api engine larger than onnx: {names('bytes')}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--models", default="", help="comma-separated zoo names (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="timed builds per path (median)")
    parser.add_argument("--precisions", default="fp32", help=f"comma-separated: {PRECISIONS}")
    parser.add_argument("--onnx-graph", choices=("model", "prepared"), default="model")
    parser.add_argument("--optimization-level", type=int, default=None)
    parser.add_argument("--markdown", default=None, help="write the markdown table here")
    parser.add_argument("--json", default=None, help="also write the JSON report here")
    parser.add_argument("--dump", default=None, help="write both networks' layer lists here")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    args = parser.parse_args()

    from trtdsl.backends.trt import import_trt
    from trtdsl.errors import TrtdslError
    from trtdsl.frontend.load import zoo_models

    models = args.models.split(",") if args.models else zoo_models()
    precisions = args.precisions.split(",")
    bad = [p for p in precisions if p not in PRECISIONS]
    if bad or args.repeat < 1:
        parser.error(f"--precisions from {PRECISIONS}, --repeat >= 1 (got {bad or args.repeat})")
    trt = import_trt("tensorrt-rtx")
    env = environment(trt)
    load_before = os.getloadavg()
    rows: list[Row] = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(trt, tmp, args.optimization_level)
        bench.warm_up()
        for precision in precisions:
            for model in models:
                try:
                    row = bench.measure(model, precision, args.onnx_graph, args.repeat, args.dump)
                except (Skipped, TrtdslError) as e:  # e.g. an op without an ONNX export
                    skipped.append(f"{model} {precision}: {type(e).__name__}: {e}")
                    print(f"skipped {skipped[-1]}", file=sys.stderr, flush=True)
                    continue
                rows.append(row)
                if args.format == "table":
                    print(" ".join(_cells(row)), file=sys.stderr, flush=True)
    env["load_average"] = {"before": load_before, "after": os.getloadavg()}
    env["repeat"] = args.repeat
    report = {"environment": env, "rows": [r.to_dict() for r in rows], "skipped": skipped}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{env['tensorrt']}; {env['cpu']} ({env['cpus']} CPUs); {env['date']}; load "
            f"average {load_before[0]:.1f} before, {env['load_average']['after'][0]:.1f} after"
        )
        print(
            f"build s: median wall seconds of build_serialized_network over {args.repeat} "
            "builds; build CPU s: median CPU seconds of the process (all threads) over the "
            "build; ratios api / onnx\n"
        )
        print(text_table(rows))
        print()
        print("\n".join(summary(rows)))
        for line in skipped:
            print(f"skipped {line}")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown_table(rows) + "\n")
        if args.format == "table":
            print(f"markdown table: {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
