#!/usr/bin/env python3
"""Does `bench --runtime onnxruntime` add anything to what it times? Compare it with a bare
loop that calls ``InferenceSession.run`` on the same exported file.

One process, one export, one input; in each round ``benchmark_onnx`` (reading the file
with --onnx, so it builds its own session) and a hand-written loop on a session of the
same settings take the same number of steps, alternating, so the machine's drift moves
both alike. The ratio of their medians should be within a few percent of 1 (the issue's
acceptance: 10 %).

    python benchmarks/ort_overhead.py                     # b0 at 224 px, 5 rounds
    python benchmarks/ort_overhead.py --variant lite0 --rounds 9
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from effnet_cli.arch.specs import parse_variant
from effnet_cli.measurement.deploy.exporting import export_onnx, random_feed, session
from effnet_cli.measurement.deploy.runtime import benchmark_onnx
from effnet_cli.measurement.timing.settings import BenchSettings


def bare_loop(path: Path, shape: tuple[int, ...], threads: int, steps: int) -> list[float]:
    """What a user would write by hand: one session, perf_counter either side of run."""
    sess = session(path, threads)
    feed = random_feed(sess, shape)
    sess.run(None, feed)
    sess.run(None, feed)
    samples = []
    for _ in range(steps):
        t0 = time.perf_counter()
        sess.run(None, feed)
        samples.append((time.perf_counter() - t0) * 1e3)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="b0")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    spec = parse_variant(args.variant)
    res = spec.coefficients.resolution
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        export_onnx(spec, path)
        settings = BenchSettings(iters=args.steps, warmup=2, runtime="onnxruntime", onnx=path)
        ratios = []
        for _ in range(args.rounds):
            harness = benchmark_onnx(spec, settings)[0].latency_ms["median"]  # float32
            bare = statistics.median(bare_loop(path, (1, 3, res, res), threads, args.steps))
            ratios.append(harness / bare)
            print(f"bench --runtime onnxruntime {harness:.3f} ms, bare run() {bare:.3f} ms, "
                  f"ratio {harness / bare:.3f}", flush=True)  # fmt: skip
    print(f"{args.variant}, {threads} threads, {args.rounds} rounds of {args.steps} steps: "
          f"median ratio {statistics.median(ratios):.3f} (min {min(ratios):.3f}, "
          f"max {max(ratios):.3f})")  # fmt: skip


if __name__ == "__main__":
    main()
