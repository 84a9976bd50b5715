#!/usr/bin/env python3
"""Does the training step's form price unseen steps, with the machine's drift taken out?

The latency accuracy benchmark judges a training prediction against a step timed minutes
after the calibration, so on this machine (20-30 % drift within an hour) a form's own error
hides under the drift's. Here every time is a ratio to one reference training step, timed
just before and just after it (the faster of the two kept), alternating, so that what the
machine does in between cancels:

1. one calibration (``latency.calibrate``) prices each step's training forward (on meta,
   nothing runs) and counts its ops and its wide depthwise convs' MACs;
2. the calibration's own training specs and a set of unseen steps (V1, V2, Lite, EdgeTPU,
   ResNet-50, MobileNetV1/V2; none a calibration step) are each timed as a ratio to the
   reference, the median of four; so is the 5×5 depthwise weight-gradient probe;
3. k and c are fitted on the calibration specs' ratios, as the calibration fits them, once
   with the wide depthwise weight gradients timed apart (the shipped form) and once without
   (the form before it), and each unseen step is predicted.

Prints both forms' errors per step, the median, the worst and the share within ±10 %, and
each step's k with its wide weight gradients timed apart (one k fits all steps when that
column is flat). Takes about 2 minutes here. Nothing else should run meanwhile.

    python benchmarks/training_fit.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from effnet_cli.heap import keep_heap
from effnet_cli.measurement.timing import latency
from effnet_cli.measurement.timing.training import (
    TRAIN_CALIBRATION,
    TrainRow,
    fit_train,
    step_for,
    step_seconds,
    train_trace,
    wgrad_macs,
    wgrad_probe,
)

UNSEEN: list[tuple[str, int]] = [
    ("b0", 4), ("b1", 2), ("b2", 2), ("b3", 1), ("phi=0.5", 8), ("w=0.7,d=0.6,r=176", 16),
    ("v2-b0", 4), ("v2-s", 1), ("lite0", 4), ("lite2", 2), ("edgetpu-s", 4),
    ("resnet50", 2), ("resnet50", 8), ("mobilenetv2", 8), ("mobilenetv1", 8),
]  # fmt: skip
"""(spec, batch) of training steps none of which is a calibration step."""
ROUNDS = 4


def _seconds(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def ratio(run: Callable[[], object], reference: Callable[[], None]) -> float:
    """``run``'s time over the reference's, each run between two reference steps (the
    faster kept): the median of ``ROUNDS`` after a warm-up."""
    run()
    ratios = []
    for _ in range(ROUNDS):
        before, mine, after = _seconds(reference), _seconds(run), _seconds(reference)
        ratios.append(mine / min(before, after))
    return statistics.median(ratios)


def row(spec: str, batch: int, model: latency.CostModel, unit: float,
        reference: Callable[[], None]) -> TrainRow:  # fmt: skip
    """The step priced as the calibration prices it, its time in reference units."""
    step, shape = step_for(spec, batch)
    forward = latency.estimate(train_trace(spec, shape), model)
    wide = sum(wgrad_macs(op) for op in forward.trace.ops)
    timed = unit * ratio(step, reference)
    return TrainRow(forward.total_ms / 1e3, len(forward.op_seconds), timed, wide)


def report(fitted: list[TrainRow], unseen: list[TrainRow], wgrad: float) -> None:
    """Both forms' errors on the unseen steps, and each step's own k."""
    forms = {"shipped (wide wgrad timed)": fit_train(fitted, wgrad), "one k": fit_train(fitted)}
    print("| model | batch | " + " | ".join(forms) + " | k, wide wgrad apart | wide wgrad share |")
    print("|---|---|" + "---|" * (len(forms) + 2))
    errors: dict[str, list[float]] = {name: [] for name in forms}
    for (spec, batch), r in zip(UNSEEN, unseen, strict=True):
        cells = []
        for name, fit in forms.items():
            errors[name].append(100 * (step_seconds(fit, r) - r.timed) / r.timed)
            cells.append(f"{errors[name][-1]:+.1f}%")
        own_k = (r.timed - wgrad * r.wgrad_macs) / r.priced
        share = 100 * wgrad * r.wgrad_macs / r.timed
        print(f"| {spec} | {batch} | " + " | ".join(cells) + f" | {own_k:.2f} | {share:.0f}% |")
    print()
    for name, fit in forms.items():
        size = [abs(e) for e in errors[name]]
        within = sum(e <= 10 for e in size)
        print(f"{name}: k {fit.k:.2f}, c {fit.per_op * 1e6:.0f} µs; median |error| "
              f"{statistics.median(size):.1f} %, worst {max(size):.1f} %, within ±10 % "
              f"{within}/{len(size)}")  # fmt: skip


def main() -> None:
    keep_heap()
    calibration = latency.calibrate()
    model = latency.fit(calibration)
    reference, _ = step_for(*TRAIN_CALIBRATION[0])
    reference()
    unit = statistics.median(_seconds(reference) for _ in range(5))
    probe, macs = wgrad_probe()
    wgrad = unit * ratio(probe, reference) / macs
    print(f"calibrated in {calibration.seconds:.1f} s; reference step {unit * 1e3:.1f} ms; "
          f"5×5 depthwise weight gradient {1 / wgrad / 1e9:.2f} GMAC/s\n")  # fmt: skip
    fitted = [row(spec, batch, model, unit, reference) for spec, batch in TRAIN_CALIBRATION]
    unseen = [row(spec, batch, model, unit, reference) for spec, batch in UNSEEN]
    report(fitted, unseen, wgrad)


if __name__ == "__main__":
    main()
