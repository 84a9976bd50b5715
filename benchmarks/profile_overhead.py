#!/usr/bin/env python3
"""Does profile's per-stage timing slow the step it times? Stage clock on vs a bare loop.

The same model instance and input, in one process, alternating in rounds: a bare loop of
forward passes (a clock read either side), then the same loop with profile's StageClock
hooks attached. Prints the median ratio per round and the median of the rounds; the issue's
target is within 5 %.

    python benchmarks/profile_overhead.py                  # b0, 224 px, batch 1
    python benchmarks/profile_overhead.py --variant b2 --batch-size 8
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from effnet_cli.arch.specs import parse_variant
from effnet_cli.measurement.timing.profiling import StageClock
from effnet_cli.model.network import build_model


def loop(model, x, steps: int) -> float:
    """Median ms of ``steps`` forward passes."""
    samples = []
    with torch.inference_mode():
        for _ in range(steps):
            t0 = time.perf_counter()
            model(x)
            samples.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="b0")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    spec = parse_variant(args.variant)
    res = spec.coefficients.resolution
    model = build_model(spec).eval()
    x = torch.randn(args.batch_size, 3, res, res)
    loop(model, x, 3)
    ratios = []
    for i in range(args.rounds):
        bare = loop(model, x, args.steps)
        clock = StageClock(model, spec, torch.device("cpu"))
        try:
            timed = loop(model, x, args.steps)
        finally:
            clock.remove()
        ratios.append(timed / bare)
        print(f"round {i + 1}: bare {bare:.2f} ms, stage clock {timed:.2f} ms, "
              f"ratio {timed / bare:.3f}")  # fmt: skip
    where = f"{args.variant}, batch {args.batch_size}, {torch.get_num_threads()} threads"
    print(f"median ratio {statistics.median(ratios):.3f} over {args.rounds} rounds ({where})")


if __name__ == "__main__":
    main()
