#!/usr/bin/env python3
"""Does `effnet bench` add anything to what it times? Compare it with a bare loop.

Both time the same model instance on the same input at the same settings, in the same
process, alternating in rounds: a hand-written loop (synchronise, perf_counter, forward,
synchronise, perf_counter) against ``effnet_cli.bench`` with the same step count. The
ratio of their medians should be within a few percent of 1.

    python benchmarks/bench_overhead.py                    # b0 at 224 px on the CPU
    python benchmarks/bench_overhead.py --device cuda --variant b3 --batch-size 8
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from effnet_cli.arch.specs import parse_variant
from effnet_cli.measurement.timing.loop import Clock, make_input, step_fn
from effnet_cli.measurement.timing.settings import BenchSettings
from effnet_cli.measurement.trace.prepare import input_shape
from effnet_cli.model.network import build_model


def bare_loop(model, x, device: torch.device, steps: int) -> list[float]:
    """What a user would write by hand: no harness, one clock read either side."""

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    samples = []
    with torch.inference_mode():
        for _ in range(steps):
            sync()
            t0 = time.perf_counter()
            model(x)
            sync()
            samples.append((time.perf_counter() - t0) * 1e3)
    return samples


def harness(model, x, settings: BenchSettings, device: torch.device, steps: int) -> list[float]:
    """effnet bench's own step and clock, as `benchmark()` runs them."""
    step = step_fn(model, x, settings, device)
    clock = Clock(device)
    return [clock.time(step) for _ in range(steps)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default="b0")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--resolution", type=int, default=None)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    spec = parse_variant(args.variant)
    device = torch.device(args.device)
    settings = BenchSettings(
        device=args.device, batch_size=args.batch_size, resolution=args.resolution
    )
    model = build_model(spec, device=device).eval()
    x = make_input(input_shape(spec, args.resolution, args.batch_size), settings, device)
    harness(model, x, settings, device, 3)  # warm-up for both
    bare, ours = [], []
    for r in range(args.rounds):
        first, second = (bare_loop, harness) if r % 2 == 0 else (harness, bare_loop)
        for fn in (first, second):
            if fn is bare_loop:
                bare += bare_loop(model, x, device, args.steps)
            else:
                ours += harness(model, x, settings, device, args.steps)
    b, o = statistics.median(bare), statistics.median(ours)
    print(f"{spec.title} on {args.device}, batch {args.batch_size}, "
          f"{args.rounds} rounds × {args.steps} steps each")  # fmt: skip
    print(f"bare loop median   {b:8.3f} ms")
    print(f"effnet bench median {o:8.3f} ms")
    print(f"ratio              {o / b:8.4f}  ({100 * (o / b - 1):+.2f}%)")


if __name__ == "__main__":
    main()
