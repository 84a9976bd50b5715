#!/usr/bin/env python3
"""Does the inference cost model price unseen models, with the machine's drift taken out?

``latency_accuracy.py`` judges each prediction against a model timed minutes after the
calibration, in another process; on this machine the same case timed twice moves by a
median of 3-15 %, so the cost model's own error hides under the drift's. Here, in one
process:

1. one calibration (``latency.calibrate``) fits the cost model, and each of the accuracy
   benchmark's inference cases is priced with it (on a shape trace, nothing runs);
2. every case is timed as a ratio to one reference forward (a calibration model), timed
   just before and just after it (the faster of the two kept), the median of ``ROUNDS``,
   alternating, so that what the machine does in between cancels; the reference's own time,
   taken right after the calibration, turns each ratio into milliseconds.

Prints each case's error, the median, the worst and the share within ±10 % and ±20 %, and the
same once more after taking out the median signed error (a speed factor shared by every case,
which is what the drift probe's rescaling can mend; what is left is the model's own shape
error). Takes about a minute here. Nothing else should run meanwhile.

    python benchmarks/inference_fit.py
    python benchmarks/inference_fit.py --channels-last
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from effnet_cli.arch.specs import parse_variant
from effnet_cli.heap import keep_heap
from effnet_cli.measurement.timing import latency
from effnet_cli.measurement.trace.probe import probe_forward
from effnet_cli.model import build_model

CASES: list[tuple[str, int]] = [
    ("b0", 1), ("b0", 16), ("b2", 4), ("b3", 1), ("b4", 2), ("b5", 1), ("v2-b0", 8),
    ("v2-s", 1), ("phi=1.5", 2), ("w=0.7,d=0.6,r=176", 32), ("w=1.2,d=0.8,r=256", 8),
    ("w=0.5,d=0.4,r=128", 64), ("w=0.5,d=0.3,r=800", 1),
    ("resnet50", 1), ("mobilenetv2", 8), ("lite0", 4), ("edgetpu-s", 1), ("mobilenetv1", 16),
]  # fmt: skip
"""The accuracy benchmark's inference cases (``latency_accuracy.CASES``): none a calibration
model."""
REFERENCE = ("w=0.8,d=0.5,r=224", 8)
"""A calibration model of middling length (tens of ms here): long enough to time steadily,
short enough to run twice per round."""
ROUNDS = 5


def forward(spec: str, batch: int, channels_last: bool) -> tuple[Callable[[], None], tuple]:
    """The inference forward of ``spec`` at ``batch``, as bench runs it, and its input shape."""
    resolved = parse_variant(spec)
    res = resolved.coefficients.resolution
    shape = (batch, 3, res, res)
    model = build_model(resolved).eval()
    x = torch.randn(*shape)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    def run() -> None:
        with torch.inference_mode():
            model(x)

    return run, shape


def _seconds(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def ratio(run: Callable[[], object], reference: Callable[[], None]) -> float:
    """``run``'s time over the reference's, each run between two reference runs (the faster
    kept): the median of ``ROUNDS`` after two warm-ups."""
    run()
    run()
    ratios = []
    for _ in range(ROUNDS):
        before, mine, after = _seconds(reference), _seconds(run), _seconds(reference)
        ratios.append(mine / min(before, after))
    return statistics.median(ratios)


def summary(name: str, errors: list[float]) -> str:
    size = [abs(e) for e in errors]
    return (f"{name}: median |error| {statistics.median(size):.1f} %, worst {max(size):.1f} %, "
            f"within ±10 % {sum(e <= 10 for e in size)}/{len(size)}, within ±20 % "
            f"{sum(e <= 20 for e in size)}/{len(size)}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args()
    keep_heap()
    plan = latency.EAGER_CHANNELS_LAST if args.channels_last else latency.EAGER
    calibration = latency.calibrate(plan=plan)
    model = latency.fit(calibration)
    reference, _ = forward(*REFERENCE, args.channels_last)
    reference()
    unit = statistics.median(_seconds(reference) for _ in range(7))
    print(f"calibrated in {calibration.seconds:.1f} s; reference {REFERENCE} {unit * 1e3:.1f} ms\n")
    rows = []
    for spec, batch in CASES:
        run, shape = forward(spec, batch, args.channels_last)
        trace = probe_forward(build_model(parse_variant(spec)).eval(), shape)
        predicted = latency.estimate(plan.priced(trace), model).total_ms
        rows.append((spec, batch, predicted, 1e3 * unit * ratio(run, reference)))
    again = statistics.median(_seconds(reference) for _ in range(7))
    report(rows)
    print(f"reference again at the end: {again * 1e3:.1f} ms ({100 * (again / unit - 1):+.1f} %)")


def report(rows: list[tuple[str, int, float, float]]) -> None:
    """The table, with each error as priced and with the shared (median) error taken out."""
    errors = [100 * (predicted - measured) / measured for _, _, predicted, measured in rows]
    shared = statistics.median(errors)
    shaped = [100 * ((100 + e) / (100 + shared) - 1) for e in errors]
    print("| model | batch | predicted ms | measured ms | error | shared error taken out |")
    print("|---|---|---|---|---|---|")
    for (spec, batch, predicted, measured), e, s in zip(rows, errors, shaped, strict=True):
        print(f"| {spec} | {batch} | {predicted:.1f} | {measured:.1f} | {e:+.1f}% | {s:+.1f}% |")
    print()
    print(summary("as priced", errors))
    print(f"median signed error {shared:+.1f} %; taken out:")
    print(summary("shape only", shaped))


if __name__ == "__main__":
    main()
