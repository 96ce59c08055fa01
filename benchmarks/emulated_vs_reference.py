"""The emulated engine against the reference executor, many alternating rounds: wall time,
CPU time and minor page faults per run (medians), at one thread count.

``bench_reference.py`` times four runners a few rounds each, and at 16 threads a single run
moves by tens of percent, so its *emulated / reference* column is coarse. This script times only
those two, alternating (reference first in even rounds, emulated first in odd ones), on the same
model, weights and input as ``bench_reference.py`` (its ``load``). ``--profile`` adds cProfile's
top functions of three runs of each (the calling thread only). Nothing is downloaded.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/emulated_vs_reference.py resnet50 --batch 8 \\
        --threads 16 --rounds 8
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's trtdsl

import numpy as np  # noqa: E402
from bench_reference import MODELS, load  # noqa: E402

from trtdsl import kernels  # noqa: E402
from trtdsl.backends.reference import run_reference  # noqa: E402
from trtdsl.runtime.engines import build_in_memory  # noqa: E402
from trtdsl.runtime.runner import EngineRunner  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    graph, weights, folded, folded_weights = load(args.model, args.batch)
    name = folded.inputs[0]
    shape = (args.batch, *MODELS[args.model][0])
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    loaded = build_in_memory(graph, weights, "emulated")
    runner = EngineRunner(loaded.engine, loaded.trt, memory="host")

    def reference() -> None:
        run_reference(folded, folded_weights, {name: x}, threads=args.threads)

    def emulated() -> None:
        with kernels.threads(args.threads):
            runner.infer({name: x})

    runs: dict[str, Callable[[], None]] = {"reference": reference, "emulated": emulated}
    for run in (*runs.values(), *runs.values()):  # warm-up
        run()
    samples: dict[str, list[tuple[float, float, int]]] = {key: [] for key in runs}
    for round_index in range(args.rounds):
        order = list(runs) if round_index % 2 == 0 else list(runs)[::-1]
        for key in order:
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            cpu, wall = time.process_time(), time.perf_counter()
            runs[key]()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
            samples[key].append((wall * 1e3, cpu * 1e3, faults))
    medians = {
        key: [statistics.median(column) for column in zip(*values, strict=True)]
        for key, values in samples.items()
    }
    print(f"{args.model} batch {args.batch}, {args.threads} threads, {args.rounds} rounds:")
    for key, (wall, cpu, faults) in medians.items():
        print(f"  {key:9s} wall {wall:8.1f} ms  cpu {cpu:8.1f} ms  minor faults {faults:g}")
    print(f"  emulated / reference: {medians['emulated'][0] / medians['reference'][0]:.2f}x")
    if args.profile:
        for key, run in runs.items():
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(3):
                run()
            profile.disable()
            text = io.StringIO()
            pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(14)
            print(f"profile of {key} (3 runs):\n{text.getvalue()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
