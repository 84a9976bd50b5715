#!/usr/bin/env python3
"""How close is profile's predicted latency to a timed run? B1–B7 at batch 1 and 8, plus
models the calibration set was not chosen on (V2-S, a φ=2.5 scaling, a raw scaling).

Each model is predicted first (probe on meta, nothing run), then built and timed: median of
bare forward passes after a warm-up. The calibration comes from the cache (see README);
``--recalibrate`` runs it afresh first and prints how long it took (target: 10 s).

    python benchmarks/latency_accuracy.py                  # everything (a few minutes)
    python benchmarks/latency_accuracy.py --models b1 b2 --batches 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from effnet_cli.arch.specs import parse_variant
from effnet_cli.measurement.timing.latency import calibration
from effnet_cli.measurement.timing.profiling import profile
from effnet_cli.model.network import build_model

OFFICIAL = ["b1", "b2", "b3", "b4", "b5", "b6", "b7"]
HELD_OUT = ["v2-s", "phi=2.5", "w=1.3,d=1.5,r=320"]


def measured_ms(spec: str, batch: int) -> float:
    resolved = parse_variant(spec)
    res = resolved.coefficients.resolution
    model = build_model(resolved).eval()
    x = torch.randn(batch, 3, res, res)
    steps = 7 if batch == 1 else 3
    samples = []
    with torch.inference_mode():
        model(x)
        for _ in range(steps):
            t0 = time.perf_counter()
            model(x)
            samples.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=OFFICIAL + HELD_OUT)
    parser.add_argument("--batches", nargs="*", type=int, default=[1, 8])
    parser.add_argument("--recalibrate", action="store_true")
    args = parser.parse_args()
    cal, note = calibration(recalibrate=args.recalibrate)
    print(f"calibration: {cal.seconds:.1f} s, {len(cal.models)} models"
          + (f" ({note})" if note else ""))  # fmt: skip
    errors: dict[str, list[float]] = {"official": [], "held out": []}
    print("| model | batch | predicted ms | measured ms | error |")
    print("|---|---|---|---|---|")
    for batch in args.batches:
        for spec in args.models:
            predicted = profile(spec, batch_size=batch, predict_only=True).predicted_ms
            real = measured_ms(spec, batch)
            error = 100 * (predicted - real) / real
            errors["official" if spec in OFFICIAL else "held out"].append(abs(error))
            print(f"| {spec} | {batch} | {predicted:,.1f} | {real:,.1f} | {error:+.1f}% |",
                  flush=True)  # fmt: skip
    for group, values in errors.items():
        if values:
            print(f"{group}: median |error| {statistics.median(values):.1f}%, "
                  f"worst {max(values):.1f}% over {len(values)} runs")  # fmt: skip


if __name__ == "__main__":
    main()
