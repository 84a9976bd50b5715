#!/usr/bin/env python3
"""The README's runtime table: each model at batch 1 on this CPU, timed on every runtime
one after another (eager, torch.compile, onnxruntime float32 and int8), with its MACs.

Each model's four timings run back to back, so each row's ratios to eager are taken within
a minute of each other; rows taken minutes apart can differ by the machine's drift (20-30 %
within an hour here), so compare within a row first.

    python benchmarks/runtime_table.py                    # the README's ten models
    python benchmarks/runtime_table.py b0 lite0 --seconds 2
"""

from __future__ import annotations

import argparse
import sys

import torch

from effnet_cli.arch.specs import parse_variant
from effnet_cli.measurement.counting.summary import measure
from effnet_cli.measurement.deploy.runtime import benchmark_onnx
from effnet_cli.measurement.timing.bench import benchmark
from effnet_cli.measurement.timing.settings import BenchSettings

MODELS = ["b0", "b1", "b2", "b3", "b4", "lite0", "lite1", "lite2", "edgetpu-s", "resnet50"]


def row(name: str, seconds: float) -> str:
    spec = parse_variant(name)
    macs = measure(spec, peak=False).totals.macs
    timed = {}
    for runtime in ("eager", "compile"):
        r = benchmark(spec, BenchSettings(seconds=seconds, runtime=runtime))
        timed[runtime] = (r.latency_ms["median"], r.compile_seconds)
        print(f"  {name} {runtime}: {r.latency_ms['median']:.2f} ms", file=sys.stderr, flush=True)
    fp32, int8 = benchmark_onnx(spec, BenchSettings(seconds=seconds, runtime="onnxruntime",
                                                    quantize="int8"))  # fmt: skip
    eager = timed["eager"][0]
    cells = [f"{eager:.2f}"]
    compiled, compile_s = timed["compile"]
    cells.append(f"{compiled:.2f} ({eager / compiled:.2f}×; {compile_s:.0f} s to compile)")
    for r in (fp32, int8):
        ms = r.latency_ms["median"]
        cells.append(f"{ms:.2f} ({eager / ms:.2f}×)")
    return f"| {spec.title} | {macs / 1e9:.3f} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=MODELS)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    print(
        f"batch 1, float32 unless int8, {torch.get_num_threads()} threads, torch "
        f"{torch.__version__}; median ms of each runtime's timed steps (×: eager's over it)\n"
    )
    print("| model | MACs G | eager ms | compile ms | onnxruntime fp32 ms | onnxruntime int8 ms |")
    print("|---|---|---|---|---|---|")
    for name in args.models:
        print(row(name, args.seconds), flush=True)


if __name__ == "__main__":
    main()
